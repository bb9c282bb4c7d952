#include "deadpeer/fault/fault.hpp"

#include <array>
#include <cerrno>
#include <cmath>

#include "deadpeer/error.hpp"

namespace deadpeer {
namespace {

FaultFieldError badSpec(const FaultSpec& spec, std::string_view field, std::string why) {
  return FaultFieldError(spec, field, std::move(why));
}

std::string_view directionName(Direction d) {
  switch (d) {
    case Direction::kEgress:
      return "egress";
    case Direction::kIngress:
      return "ingress";
    case Direction::kBoth:
      break;
  }
  return "both directions";
}

bool isOneOf(FaultKind kind, std::initializer_list<FaultKind> kinds) {
  for (FaultKind k : kinds)
    if (k == kind) return true;
  return false;
}

}  // namespace

FaultFieldError::FaultFieldError(const FaultSpec& spec, std::string_view field,
                                 std::string reason)
    : Error("validate",
            "fault " + std::string(faultKindInfo(spec.kind).name) + " field " + std::string(field),
            "", EINVAL, std::move(reason)),
      field_(field) {}

std::string Flow::str() const {
  std::string text = protocol == 6    ? "tcp"
                     : protocol == 17 ? "udp"
                                      : "ip proto " + std::to_string(protocol);
  if (source) text += " from " + source->str();
  if (source_port) text += (source ? " port " : " from port ") + std::to_string(*source_port);
  if (destination) text += " to " + destination->str();
  if (destination_port)
    text += (destination ? " port " : " to port ") + std::to_string(*destination_port);
  return text;
}

std::string FaultSpec::str() const {
  std::string text(faultKindInfo(kind).name);
  if (isOneOf(kind, {FaultKind::kDrop, FaultKind::kLoss}))
    text += " " + std::string(directionName(direction));
  if (kind == FaultKind::kLoss) text += " " + std::to_string(loss_percent) + "%";
  if (flow) text += " of " + flow->str();
  if (!host.empty()) text += " at " + host;
  if (!link.empty()) text += " link " + link;
  if (!target.empty()) text += " towards " + target;
  if (pid != 0) text += " pid " + std::to_string(pid);
  if (!only.empty()) text += " only " + only;
  if (backend != Backend::kAuto) text += backend == Backend::kTc ? " (tc)" : " (nftables)";
  if (duration) text += ", for " + std::to_string(duration->count()) + " ms";
  return text;
}

void FaultSpec::validate() const {
  const FaultKindInfo& info = faultKindInfo(kind);
  const bool process = info.takes(FaultKey::kProcess);
  if (host.empty()) throw badSpec(*this, "host", "is required");
  if (process && pid <= 0) throw badSpec(*this, "pid", "must name a running process");
  if (!process && pid != 0) throw badSpec(*this, "pid", "only process faults take a pid");
  if (!process && !only.empty()) throw badSpec(*this, "only", "only process faults take it");
  // TASK_COMM_LEN is 16: a longer name can never match a command name.
  if (only.size() > 15)
    throw badSpec(*this, "only", "\"" + only + "\" is longer than a command name (15 characters)");
  if (info.needs(FaultKey::kTarget) && target.empty())
    throw badSpec(*this, "target", "is required for a route fault");
  if (!info.takes(FaultKey::kTarget) && !target.empty())
    throw badSpec(*this, "target", "only route faults take a target");
  if (info.needs(FaultKey::kLink) && link.empty()) throw badSpec(*this, "link", "is required");
  if (flow && !info.takes(FaultKey::kFlow))
    throw badSpec(*this, "flow", "only " + kindsTaking(FaultKey::kFlow) + " act on one flow");
  if (flow && flow->protocol != 6 && flow->protocol != 17 &&
      (flow->source_port || flow->destination_port))
    throw badSpec(*this, "flow", "ports need protocol tcp or udp");
  if (flow && flow->source && flow->destination &&
      flow->source->family != flow->destination->family)
    throw badSpec(*this, "flow", "source and destination are of different families");
  if (info.needs(FaultKey::kLossPercent) && !(loss_percent > 0 && loss_percent <= 100))
    throw badSpec(*this, "loss_percent",
                  "must be in (0, 100], got " + std::to_string(loss_percent));
  if (!info.takes(FaultKey::kLossPercent) && loss_percent != 0)
    throw badSpec(*this, "loss_percent", "only loss takes a percentage");
  if (direction != Direction::kBoth && !info.takes(FaultKey::kDirection))
    throw badSpec(*this, "direction",
                  "only " + kindsTaking(FaultKey::kDirection) + " take a direction");
  // tc places host-crash and drop only; loss is nftables' numgen.
  if (backend == Backend::kTc && !isOneOf(kind, {FaultKind::kHostCrash, FaultKind::kDrop}))
    throw badSpec(*this, "backend", "only host-crash and drop have a tc backend");
  if (backend == Backend::kNft && !info.takes(FaultKey::kBackend))
    throw badSpec(*this, "backend",
                  "only " + kindsTaking(FaultKey::kBackend) + " choose a backend");
  if (info.needs(FaultKey::kDelay) && (delay.count() <= 0 || jitter.count() < 0))
    throw badSpec(*this, "delay", "delay must be > 0 ms and jitter >= 0 ms");
  if (info.needs(FaultKey::kConntrackTimeout) && conntrack_timeout.count() < 1000)
    throw badSpec(*this, "conntrack_timeout",
                  "must be at least 1000 ms (conntrack counts whole seconds)");
  if (info.needs(FaultKey::kConntrackTimeout) && conntrack_timeout.count() % 1000 != 0)
    throw badSpec(*this, "conntrack_timeout", "conntrack counts whole seconds");
  if (duration && duration->count() <= 0)
    throw badSpec(*this, "duration",
                  "must be positive, got " + std::to_string(duration->count()) + " ms");
  if (duration && !info.revertible)
    throw badSpec(*this, "duration",
                  "a " + std::string(info.name) + " cannot be undone, so it cannot be transient");
}

Fault::~Fault() {
  // Subclasses revert in their own destructors (revertOnDestruction); by
  // now only the timer may be left to stop.
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (timer_.joinable()) timer_.join();
}

void Fault::apply() {
  std::unique_lock lock(mutex_);
  if (applied_) throw Error("apply", "fault " + spec_.str(), "", EALREADY, "already applied");
  if (timer_.joinable()) {
    // A previous transient run; its timer has finished or is finishing.
    stopping_ = true;
    lock.unlock();
    wake_.notify_all();
    timer_.join();
    lock.lock();
  }
  const auto start = Clock::now();
  doApply();
  applied_at_ = Clock::now();
  apply_latency_ = applied_at_ - start;
  applied_ = true;
  revert_error_.clear();
  stopping_ = false;
  if (spec_.duration) revertAfter(*spec_.duration);
}

void Fault::revertAfter(std::chrono::milliseconds duration) {
  const auto due = applied_at_ + duration;
  timer_ = std::thread([this, due] {
    std::unique_lock lock(mutex_);
    // Waits for the due time or for revert()/destruction, whichever first;
    // the predicate makes spurious wake-ups harmless.
    if (wake_.wait_until(lock, due, [this] { return stopping_; })) return;
    try {
      revertLocked();
    } catch (const std::exception& e) {
      revert_error_ = e.what();
      applied_ = false;  // what could be undone was; waiters must not hang
      reverted_.notify_all();
    }
  });
}

void Fault::revert() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (timer_.joinable() && timer_.get_id() != std::this_thread::get_id()) timer_.join();
  std::lock_guard lock(mutex_);
  revertLocked();
}

void Fault::revertLocked() {
  if (!applied_) return;
  doRevert();
  applied_ = false;
  reverted_at_ = Clock::now();
  reverted_.notify_all();
}

bool Fault::waitReverted(std::chrono::milliseconds deadline) const {
  std::unique_lock lock(mutex_);
  return reverted_.wait_for(lock, deadline, [this] { return !applied_; });
}

void Fault::revertOnDestruction() noexcept {
  try {
    revert();
  } catch (...) {
    // A destructor must not throw; what could not be restored dies with
    // the namespaces.
  }
}

bool Fault::applied() const {
  std::lock_guard lock(mutex_);
  return applied_;
}

std::string Fault::revertError() const {
  std::lock_guard lock(mutex_);
  return revert_error_;
}

}  // namespace deadpeer

#include "deadpeer/fault/fault.hpp"

#include <array>
#include <cerrno>
#include <cmath>

#include "deadpeer/error.hpp"

namespace deadpeer {
namespace {

const std::vector<FaultKindInfo> kKinds = {
    {FaultKind::kHostCrash, "host-crash", "tc pfifo limit 0, or nftables netdev drop",
     "power loss or kernel panic: everything to and from the host vanishes, no FIN, no RST", true},
    {FaultKind::kDrop, "drop", "tc htb + u32 into a pfifo limit 0 class, or nftables",
     "a silent drop of one direction or both, for a host or one flow", true},
    {FaultKind::kLoss, "loss", "nftables numgen random", "random packet loss of N percent", true},
    {FaultKind::kBlackhole, "blackhole", "route type blackhole on a router",
     "a path that silently eats packets", true},
    {FaultKind::kUnreachable, "unreachable", "route type unreachable on a router",
     "a router answering ICMP host unreachable", true},
    {FaultKind::kProhibit, "prohibit", "route type prohibit on a router",
     "a router answering ICMP administratively prohibited", true},
    {FaultKind::kReset, "reset", "nftables reject with tcp reset",
     "a stateless RST responder in the path or at the host", true},
    {FaultKind::kReboot, "reboot", "namespace destroyed and rebuilt",
     "crash and reboot: the host comes back with the same IP and MAC and no TCP state", true},
    {FaultKind::kLinkDown, "link-down", "link administratively down", "carrier loss", true},
    {FaultKind::kProcessKill, "process-kill", "SIGKILL",
     "the peer process dies; its kernel closes the socket with FIN or RST", false},
    {FaultKind::kProcessFreeze, "process-freeze", "SIGSTOP, SIGCONT on revert",
     "the application hangs while its kernel keeps answering", true},
    {FaultKind::kFirewallForget, "firewall-forget",
     "nftables ct state on a router, conntrack timeout, tcp_loose 0",
     "a stateful firewall or NAT that forgets idle flows", true},
    {FaultKind::kDelay, "delay", "tc netem", "added latency and jitter", true},
};

Error badSpec(const FaultSpec& spec, std::string_view field, std::string why) {
  return Error(
      "validate",
      "fault " + std::string(faultKindInfo(spec.kind).name) + " field " + std::string(field), "",
      EINVAL, std::move(why));
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

const std::vector<FaultKindInfo>& faultKinds() { return kKinds; }

const FaultKindInfo& faultKindInfo(FaultKind kind) {
  for (const auto& row : kKinds)
    if (row.kind == kind) return row;
  return kKinds.front();
}

FaultKind faultKindNamed(std::string_view name) {
  std::string known;
  for (const auto& row : kKinds) {
    if (row.name == name) return row.kind;
    known += (known.empty() ? "" : ", ") + std::string(row.name);
  }
  throw Error("validate", quoted("fault kind", name), "", EINVAL,
              "unknown; expected one of " + known);
}

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
  if (backend != Backend::kAuto) text += backend == Backend::kTc ? " (tc)" : " (nftables)";
  if (duration) text += ", for " + std::to_string(duration->count()) + " ms";
  return text;
}

void FaultSpec::validate() const {
  const bool process = isOneOf(kind, {FaultKind::kProcessKill, FaultKind::kProcessFreeze});
  if (host.empty()) throw badSpec(*this, "host", "is required");
  if (process && pid <= 0) throw badSpec(*this, "pid", "must name a running process");
  if (!process && pid != 0) throw badSpec(*this, "pid", "only process faults take a pid");
  const bool route =
      isOneOf(kind, {FaultKind::kBlackhole, FaultKind::kUnreachable, FaultKind::kProhibit});
  if (route && target.empty()) throw badSpec(*this, "target", "is required for a route fault");
  if (!route && !target.empty()) throw badSpec(*this, "target", "only route faults take a target");
  if (kind == FaultKind::kLinkDown && link.empty()) throw badSpec(*this, "link", "is required");
  if (flow && !isOneOf(kind, {FaultKind::kDrop, FaultKind::kLoss, FaultKind::kReset}))
    throw badSpec(*this, "flow", "only drop, loss and reset act on one flow");
  if (flow && flow->protocol != 6 && flow->protocol != 17 &&
      (flow->source_port || flow->destination_port))
    throw badSpec(*this, "flow", "ports need protocol tcp or udp");
  if (flow && flow->source && flow->destination &&
      flow->source->family != flow->destination->family)
    throw badSpec(*this, "flow", "source and destination are of different families");
  if (kind == FaultKind::kLoss && !(loss_percent > 0 && loss_percent <= 100))
    throw badSpec(*this, "loss_percent",
                  "must be in (0, 100], got " + std::to_string(loss_percent));
  if (kind != FaultKind::kLoss && loss_percent != 0)
    throw badSpec(*this, "loss_percent", "only loss takes a percentage");
  if (direction != Direction::kBoth && !isOneOf(kind, {FaultKind::kDrop, FaultKind::kLoss}))
    throw badSpec(*this, "direction", "only drop and loss take a direction");
  if (backend == Backend::kTc && !isOneOf(kind, {FaultKind::kHostCrash, FaultKind::kDrop}))
    throw badSpec(*this, "backend", "only host-crash and drop have a tc backend");
  if (backend == Backend::kNft &&
      !isOneOf(kind, {FaultKind::kHostCrash, FaultKind::kDrop, FaultKind::kLoss}))
    throw badSpec(*this, "backend", "only host-crash, drop and loss choose a backend");
  if (kind == FaultKind::kDelay && (delay.count() <= 0 || jitter.count() < 0))
    throw badSpec(*this, "delay", "delay must be > 0 ms and jitter >= 0 ms");
  if (kind == FaultKind::kFirewallForget && conntrack_timeout.count() < 1000)
    throw badSpec(*this, "conntrack_timeout",
                  "must be at least 1000 ms (conntrack counts whole seconds)");
  if (kind == FaultKind::kFirewallForget && conntrack_timeout.count() % 1000 != 0)
    throw badSpec(*this, "conntrack_timeout", "conntrack counts whole seconds");
  if (duration && duration->count() <= 0)
    throw badSpec(*this, "duration",
                  "must be positive, got " + std::to_string(duration->count()) + " ms");
  if (duration && !faultKindInfo(kind).revertible)
    throw badSpec(*this, "duration",
                  "a " + std::string(faultKindInfo(kind).name) +
                      " cannot be undone, so it cannot be transient");
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

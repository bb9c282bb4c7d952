// fault: the ways a peer dies, injected into real kernel network stacks.
//
// One interface, Fault::apply() / Fault::revert(), and a table of kinds
// (faultKinds()) that says, for each kind, which kernel layer it uses, what
// failure it models and which kernel features it needs. apply() returns only
// after the kernel acknowledged the change (the netlink ack, the nftables
// commit, the signal delivered or the process gone) and records that instant
// on CLOCK_MONOTONIC (std::chrono::steady_clock) as the fault time. revert()
// restores exactly what apply() changed. A fault with a duration is
// transient: it reverts by itself that long after apply().
//
// Bad parameters are refused by FaultSpec::validate() and makeFault() before
// anything is changed. A kind whose kernel feature is missing fails with
// errno EOPNOTSUPP and the reason "unsupported: <feature> not available in
// this kernel".
//
// Threading: apply() and revert() are called from one thread; a transient
// fault reverts on a timer thread of its own. Each fault talks to the kernel
// through sockets it opened itself, never through a host's, so that timer
// thread shares nothing with the caller. The topology must outlive its
// faults and must not rebuild a host while a fault on it is applied.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "deadpeer/error.hpp"
#include "deadpeer/net/address.hpp"
#include "deadpeer/topology/topology.hpp"

namespace deadpeer {

enum class FaultKind {
  kHostCrash,
  kDrop,
  kLoss,
  kBlackhole,
  kUnreachable,
  kProhibit,
  kReset,
  kReboot,
  kLinkDown,
  kProcessKill,
  kProcessFreeze,
  kFirewallForget,
  kDelay,
  kSynDrop,
};

// What comes back from the peer's side once the fault is in place: how a
// detector sees it, and so which of the oracle's rules applies.
enum class FaultSignal {
  kSilence,  // nothing comes back (crash, drop, blackhole, link down, a forgotten flow)
  kIcmp,     // a router answers with an ICMP error
  kReset,    // the peer, or a firewall at it, answers with RST
  kFin,      // the peer's kernel closes the connection: FIN at once
  kAlive,    // the peer's kernel still answers an established connection
};

// The keys of a fault in a scenario file beyond kind, host, at and
// duration; a bit each.
enum class FaultKey : std::uint32_t {
  kTarget = 1u << 0,            // route kinds: the host the router stops reaching
  kLink = 1u << 1,              // one link of the host
  kFlow = 1u << 2,              // one flow
  kDirection = 1u << 3,         // egress, ingress or both
  kBackend = 1u << 4,           // tc or nftables
  kLossPercent = 1u << 5,       // loss_percent
  kProcess = 1u << 6,           // the peer whose process it hits
  kConntrackTimeout = 1u << 7,  // conntrack_timeout
  kDelay = 1u << 8,             // delay
  kJitter = 1u << 9,            // jitter
};
using FaultKeys = std::uint32_t;
constexpr FaultKeys operator|(FaultKey a, FaultKey b) {
  return static_cast<FaultKeys>(a) | static_cast<FaultKeys>(b);
}
constexpr FaultKeys operator|(FaultKeys a, FaultKey b) { return a | static_cast<FaultKeys>(b); }

class Fault;
struct FaultSpec;

// One row of the table of kinds: everything the harness knows about a kind
// is here, so adding one is a factory and a row (docs/DESIGN.md).
struct FaultKindInfo {
  FaultKind kind;
  std::string_view name;    // as written in scenario files: "host-crash"
  std::string_view layer;   // "tc or nftables", "route", ...
  std::string_view models;  // the production failure it stands for
  bool revertible;          // false: revert() cannot undo it (a killed process)
  FaultSignal signal;       // how a detector sees it: what the oracle needs
  FaultKeys keys = 0;       // the keys it takes ...
  FaultKeys required = 0;   // ... and of them, those it needs
  // Builds the fault; called by makeFault() after validate() and once
  // `unsupported` found nothing missing.
  std::unique_ptr<Fault> (*make)(Topology& topology, const FaultSpec& spec) = nullptr;
  // The kernel features it needs: "" when this kernel has them, else
  // "unsupported: <feature> not available in this kernel" (probed, cached).
  std::string (*unsupported)(const FaultSpec& spec) = nullptr;

  bool takes(FaultKey key) const noexcept { return (keys & static_cast<FaultKeys>(key)) != 0; }
  bool needs(FaultKey key) const noexcept {
    return (required & static_cast<FaultKeys>(key)) != 0;
  }
};

const std::vector<FaultKindInfo>& faultKinds();
const FaultKindInfo& faultKindInfo(FaultKind kind);
// Throws Error (EINVAL) naming the known kinds.
FaultKind faultKindNamed(std::string_view name);
// "link-down, drop and loss": the kinds that take `key`.
std::string kindsTaking(FaultKey key);

// Which packets a fault acts on, seen from its host.
enum class Direction { kBoth, kEgress, kIngress };

enum class Backend { kAuto, kTc, kNft };

// One TCP or UDP flow, or a part of it: unset fields match anything.
struct Flow {
  int protocol = 6;  // IPPROTO_TCP
  std::optional<IpAddress> source;
  std::optional<IpAddress> destination;
  std::optional<std::uint16_t> source_port;
  std::optional<std::uint16_t> destination_port;
  std::string str() const;
};

struct FaultSpec {
  FaultKind kind = FaultKind::kHostCrash;
  // Where the fault acts: the crashed host, the host whose traffic is
  // dropped, the router that holds a route or forgets flows, the host whose
  // link goes down, the host a process runs in.
  std::string host;
  // route kinds: the host whose addresses the router stops reaching.
  std::string target;
  // link-down: the link; drop/loss: one link of `host`, "" for all of them.
  std::string link;
  std::optional<Flow> flow;  // drop, loss, reset: only this flow
  Direction direction = Direction::kBoth;
  Backend backend = Backend::kAuto;
  double loss_percent = 0;              // loss: 0 < p <= 100
  // Process kinds: the peer's process. They act on its whole tree: every
  // process in its PID namespace when it has one of its own (ns/pidns.hpp),
  // else it and its descendants.
  pid_t pid = 0;
  // Process kinds: act on the one process of the tree with this command
  // name (/proc/PID/comm, at most 15 characters) instead; "" = the tree.
  std::string only;
  std::chrono::milliseconds delay{0};   // delay: netem
  std::chrono::milliseconds jitter{0};  // delay: netem
  // firewall-forget: how long the router keeps an idle established flow.
  std::chrono::milliseconds conntrack_timeout{0};
  // Transient: revert this long after apply().
  std::optional<std::chrono::milliseconds> duration;

  std::string str() const;  // "drop egress of host h1 (tc), for 2000 ms"
  // Throws FaultFieldError naming the first bad field.
  void validate() const;
};

// A bad field of a FaultSpec, as a field name and a reason, so that a
// scenario's diagnostic can point at the key without parsing text back.
class FaultFieldError : public Error {
 public:
  FaultFieldError(const FaultSpec& spec, std::string_view field, std::string reason);
  // The scenario key: "loss_percent", "target", ...; "pid" has none.
  const std::string& field() const noexcept { return field_; }

 private:
  std::string field_;
};

class Fault {
 public:
  using Clock = std::chrono::steady_clock;  // CLOCK_MONOTONIC

  virtual ~Fault();
  Fault(const Fault&) = delete;
  Fault& operator=(const Fault&) = delete;

  // Applies the fault; returns once the kernel acknowledged it. For a
  // transient fault, also starts its revert timer.
  void apply();
  // Restores what apply() changed; a no-op when not applied.
  void revert();

  bool applied() const;
  const FaultSpec& spec() const noexcept { return spec_; }
  // When the kernel acknowledged apply(), and how long that took.
  Clock::time_point appliedAt() const noexcept { return applied_at_; }
  Clock::duration applyLatency() const noexcept { return apply_latency_; }
  Clock::time_point revertedAt() const noexcept { return reverted_at_; }
  // What a revert on the timer thread threw, if anything.
  std::string revertError() const;
  // Waits for a transient fault's own revert, up to `deadline`; true once
  // it has reverted (or was never applied).
  bool waitReverted(std::chrono::milliseconds deadline) const;

 protected:
  explicit Fault(FaultSpec spec) : spec_(std::move(spec)) {}
  // Called by the destructors of subclasses, which must revert while their
  // own members still exist.
  void revertOnDestruction() noexcept;

  virtual void doApply() = 0;
  virtual void doRevert() = 0;

 private:
  void revertLocked();
  void revertAfter(std::chrono::milliseconds duration);

  FaultSpec spec_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  mutable std::condition_variable reverted_;
  bool applied_ = false;
  bool stopping_ = false;
  std::string revert_error_;
  Clock::time_point applied_at_{};
  Clock::duration apply_latency_{};
  Clock::time_point reverted_at_{};
  std::thread timer_;
};

// Builds the fault `spec` describes on `topology`, checking every parameter
// against the topology and the kernel first; nothing is changed until
// apply().
std::unique_ptr<Fault> makeFault(Topology& topology, const FaultSpec& spec);

}  // namespace deadpeer

// The table of fault kinds: the one place that knows, for each kind, its
// name, what it models, how a detector sees it, which scenario keys it
// takes, how it is made and what it needs from the kernel. The parser,
// validation, the oracle, makeFault(), `deadpeer faults` and the docs read
// it.
#include <cerrno>

#include "deadpeer/error.hpp"
#include "deadpeer/fault/kinds.hpp"

namespace deadpeer {
namespace {

namespace k = fault_kinds;
using K = FaultKey;

constexpr FaultKeys kNone = 0;

const std::vector<FaultKindInfo> kKinds = {
    {FaultKind::kHostCrash, "host-crash", "tc pfifo limit 0, or nftables netdev drop",
     "power loss or kernel panic: everything to and from the host vanishes, no FIN, no RST", true,
     FaultSignal::kSilence, static_cast<FaultKeys>(K::kBackend), kNone, k::hostCrash, k::hostCrashFeatures},
    {FaultKind::kDrop, "drop", "tc htb + u32 into a pfifo limit 0 class, or nftables",
     "a silent drop of one direction or both, for a host or one flow", true,
     FaultSignal::kSilence, K::kLink | K::kFlow | K::kDirection | K::kBackend, kNone, k::drop,
     k::dropFeatures},
    {FaultKind::kLoss, "loss", "nftables numgen random", "random packet loss of N percent", true,
     FaultSignal::kAlive, K::kLink | K::kFlow | K::kDirection | K::kBackend | K::kLossPercent,
     static_cast<FaultKeys>(K::kLossPercent), k::loss, k::lossFeatures},
    {FaultKind::kBlackhole, "blackhole", "route type blackhole on a router",
     "a path that silently eats packets", true, FaultSignal::kSilence,
     static_cast<FaultKeys>(K::kTarget), static_cast<FaultKeys>(K::kTarget), k::route,
     k::noFeature},
    {FaultKind::kUnreachable, "unreachable", "route type unreachable on a router",
     "a router answering ICMP host unreachable", true, FaultSignal::kIcmp,
     static_cast<FaultKeys>(K::kTarget), static_cast<FaultKeys>(K::kTarget), k::route,
     k::noFeature},
    {FaultKind::kProhibit, "prohibit", "route type prohibit on a router",
     "a router answering ICMP administratively prohibited", true, FaultSignal::kIcmp,
     static_cast<FaultKeys>(K::kTarget), static_cast<FaultKeys>(K::kTarget), k::route,
     k::noFeature},
    {FaultKind::kReset, "reset", "nftables reject with tcp reset",
     "a stateless RST responder in the path or at the host", true, FaultSignal::kReset,
     static_cast<FaultKeys>(K::kFlow), kNone, k::reset, k::resetFeatures},
    {FaultKind::kReboot, "reboot", "namespace destroyed and rebuilt",
     "crash and reboot: the host comes back with the same IP and MAC and no TCP state", true,
     FaultSignal::kReset, kNone, kNone, k::reboot, k::noFeature},
    {FaultKind::kLinkDown, "link-down", "link administratively down", "carrier loss", true,
     FaultSignal::kSilence, static_cast<FaultKeys>(K::kLink), static_cast<FaultKeys>(K::kLink),
     k::linkDown, k::noFeature},
    {FaultKind::kProcessKill, "process-kill", "SIGKILL to the peer's whole process tree",
     "the peer process dies; its kernel closes the socket with FIN or RST", false,
     FaultSignal::kFin, static_cast<FaultKeys>(K::kProcess), static_cast<FaultKeys>(K::kProcess),
     k::process, k::noFeature},
    {FaultKind::kProcessFreeze, "process-freeze",
     "SIGSTOP to every process of the peer's tree, SIGCONT on revert",
     "the application hangs while its kernel keeps answering", true, FaultSignal::kAlive,
     static_cast<FaultKeys>(K::kProcess), static_cast<FaultKeys>(K::kProcess), k::process,
     k::noFeature},
    {FaultKind::kFirewallForget, "firewall-forget",
     "nftables ct state on a router, conntrack timeout, tcp_loose 0",
     "a stateful firewall or NAT that forgets idle flows", true, FaultSignal::kSilence,
     static_cast<FaultKeys>(K::kConntrackTimeout), static_cast<FaultKeys>(K::kConntrackTimeout),
     k::firewallForget, k::firewallForgetFeatures},
    {FaultKind::kDelay, "delay", "tc netem", "added latency and jitter", true, FaultSignal::kAlive,
     K::kDelay | K::kJitter, static_cast<FaultKeys>(K::kDelay), k::delay, k::delayFeatures},
    {FaultKind::kSynDrop, "syn-drop", "nftables input drop of SYNs without ACK",
     "a listener that vanished behind a silent firewall: new connections time out in SYN-SENT "
     "while established ones live on",
     true, FaultSignal::kAlive, kNone, kNone, k::synDrop, k::synDropFeatures},
};

}  // namespace

const std::vector<FaultKindInfo>& faultKinds() { return kKinds; }

const FaultKindInfo& faultKindInfo(FaultKind kind) {
  for (const auto& row : kKinds)
    if (row.kind == kind) return row;
  // Every enumerator has a row (fixtures/fault_test.cpp checks it).
  throw Error("look up", "fault kind " + std::to_string(static_cast<int>(kind)), "", EINVAL,
              "no row in the table of kinds");
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

std::string kindsTaking(FaultKey key) {
  std::vector<std::string_view> names;
  for (const auto& row : kKinds)
    if (row.takes(key)) names.push_back(row.name);
  std::string text;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) text += i + 1 == names.size() ? " and " : ", ";
    text += names[i];
  }
  return text;
}

}  // namespace deadpeer

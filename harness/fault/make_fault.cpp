#include <cerrno>

#include "error.hpp"
#include "fault/kinds.hpp"

namespace deadpeer {

std::unique_ptr<Fault> makeFault(Topology& topology, const FaultSpec& spec) {
  spec.validate();
  switch (spec.kind) {
    case FaultKind::kBlackhole:
    case FaultKind::kUnreachable:
    case FaultKind::kProhibit:
      return fault_kinds::route(topology, spec);
    case FaultKind::kLinkDown:
      return fault_kinds::linkDown(topology, spec);
    case FaultKind::kProcessKill:
    case FaultKind::kProcessFreeze:
      return fault_kinds::process(topology, spec);
    case FaultKind::kReboot:
      return fault_kinds::reboot(topology, spec);
    case FaultKind::kLoss:
    case FaultKind::kReset:
    case FaultKind::kFirewallForget:
      return fault_kinds::nftables(topology, spec);
    case FaultKind::kHostCrash:
    case FaultKind::kDrop:
      if (spec.backend == Backend::kNft) return fault_kinds::nftables(topology, spec);
      break;
    default:
      break;
  }
  throw Error("make fault", spec.str(), "", ENOSYS, "not implemented yet");
}

}  // namespace deadpeer

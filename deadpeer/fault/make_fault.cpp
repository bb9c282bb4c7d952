#include <cerrno>

#include "deadpeer/error.hpp"
#include "deadpeer/fault/capabilities.hpp"
#include "deadpeer/fault/kinds.hpp"

namespace deadpeer {

std::unique_ptr<Fault> makeFault(Topology& topology, const FaultSpec& spec) {
  spec.validate();
  if (std::string why = unsupportedReason(spec); !why.empty())
    throw Error("make fault", spec.str(), "", EOPNOTSUPP, why);
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
      // Auto prefers tc, unless an ingress drop would land in another host's
      // own queue (see tc_fault.cpp).
      if (spec.backend == Backend::kNft ||
          (spec.backend == Backend::kAuto && !fault_kinds::tcFarEndProblem(topology, spec).empty()))
        return fault_kinds::nftables(topology, spec);
      return fault_kinds::tc(topology, spec);
    case FaultKind::kDelay:
      return fault_kinds::tc(topology, spec);
  }
  throw Error("make fault", spec.str(), "", EINVAL, "unknown fault kind");
}

}  // namespace deadpeer

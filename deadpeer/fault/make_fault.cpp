#include <cerrno>

#include "deadpeer/error.hpp"
#include "deadpeer/fault/capabilities.hpp"
#include "deadpeer/fault/kinds.hpp"

namespace deadpeer {

std::unique_ptr<Fault> makeFault(Topology& topology, const FaultSpec& spec) {
  spec.validate();
  if (std::string why = unsupportedReason(spec); !why.empty())
    throw Error("make fault", spec.str(), "", EOPNOTSUPP, why);
  return faultKindInfo(spec.kind).make(topology, spec);
}

namespace fault_kinds {

// Auto prefers tc, unless an ingress drop would land in another host's own
// queue (see tc_fault.cpp).
std::unique_ptr<Fault> hostCrash(Topology& topology, const FaultSpec& spec) {
  if (spec.backend == Backend::kNft ||
      (spec.backend == Backend::kAuto && !tcFarEndProblem(topology, spec).empty()))
    return nftHostCrash(topology, spec);
  return tc(topology, spec);
}

std::unique_ptr<Fault> drop(Topology& topology, const FaultSpec& spec) {
  if (spec.backend == Backend::kNft ||
      (spec.backend == Backend::kAuto && !tcFarEndProblem(topology, spec).empty()))
    return nftDrop(topology, spec);
  return tc(topology, spec);
}

std::unique_ptr<Fault> delay(Topology& topology, const FaultSpec& spec) {
  return tc(topology, spec);
}

}  // namespace fault_kinds
}  // namespace deadpeer

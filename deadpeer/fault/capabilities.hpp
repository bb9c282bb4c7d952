// fault/capabilities: what this kernel can do, as the fault kinds need it.
//
// Every feature is probed for real, once per process, in a scratch
// namespace (net/qdisc.hpp for tc, nft/feature.hpp for nftables), and the
// answer is cached. A fault that needs a missing feature is refused by
// makeFault() with errno EOPNOTSUPP and the reason
// "unsupported: <module> not available in this kernel"; tests skip with the
// same reason.
//
// Threading: safe from any thread.
#pragma once

#include <string>
#include <vector>

#include "deadpeer/fault/fault.hpp"

namespace deadpeer {

struct KernelFeature {
  std::string name;       // "sch_netem", "act_gact", "nft family netdev", ...
  std::string needed_by;  // the fault kinds or uses that need it
  bool available = false;
};

// The features the harness cares about, each probed.
std::vector<KernelFeature> probeKernelFeatures();

// "" when this kernel can make `spec`'s fault, else why not:
// "unsupported: sch_netem not available in this kernel".
std::string unsupportedReason(const FaultSpec& spec);

}  // namespace deadpeer

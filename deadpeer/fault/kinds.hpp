// fault/kinds: the factory and the kernel features of each fault kind, for
// the table of kinds (kinds.cpp). Private to the fault module: a new kind is
// a file with its factory, a declaration here and a row in the table.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "deadpeer/fault/fault.hpp"

namespace deadpeer::fault_kinds {

// ---- factories (called after validate() and the feature check) ----------------------
std::unique_ptr<Fault> route(Topology& topology, const FaultSpec& spec);
std::unique_ptr<Fault> linkDown(Topology& topology, const FaultSpec& spec);
std::unique_ptr<Fault> process(Topology& topology, const FaultSpec& spec);
std::unique_ptr<Fault> reboot(Topology& topology, const FaultSpec& spec);
// host-crash and drop: tc, or nftables when asked or when tc cannot place it.
std::unique_ptr<Fault> hostCrash(Topology& topology, const FaultSpec& spec);
std::unique_ptr<Fault> drop(Topology& topology, const FaultSpec& spec);
std::unique_ptr<Fault> loss(Topology& topology, const FaultSpec& spec);
std::unique_ptr<Fault> reset(Topology& topology, const FaultSpec& spec);
std::unique_ptr<Fault> firewallForget(Topology& topology, const FaultSpec& spec);
std::unique_ptr<Fault> delay(Topology& topology, const FaultSpec& spec);
std::unique_ptr<Fault> synDrop(Topology& topology, const FaultSpec& spec);

// The backends of host-crash and drop.
std::unique_ptr<Fault> nftHostCrash(Topology& topology, const FaultSpec& spec);
std::unique_ptr<Fault> nftDrop(Topology& topology, const FaultSpec& spec);
std::unique_ptr<Fault> tc(Topology& topology, const FaultSpec& spec);
// Why tc cannot place this fault's ingress drop (its far end is a host), or "".
std::string tcFarEndProblem(const Topology& topology, const FaultSpec& spec);

// One nftables chain of a fault's own table: its name, its hook line
// ("type filter hook input priority -300; policy accept;") and its rules.
struct NftChain {
  std::string name;
  std::string hook;
  std::vector<std::string> rules;
};
// A fault that is one nftables table in `ns` (family "inet", "netdev", ...),
// made by apply() and deleted whole by revert(), with sysctls set after
// the table is in place and restored before it goes.
std::unique_ptr<Fault> nftRules(const FaultSpec& spec, const Netns& ns, std::string family,
                                std::vector<NftChain> chains,
                                std::vector<std::pair<std::string, std::string>> sysctls = {});

// ---- kernel features (capabilities.cpp): "" or why this kernel cannot --------------
std::string noFeature(const FaultSpec& spec);
std::string hostCrashFeatures(const FaultSpec& spec);
std::string dropFeatures(const FaultSpec& spec);
std::string lossFeatures(const FaultSpec& spec);
std::string resetFeatures(const FaultSpec& spec);
std::string firewallForgetFeatures(const FaultSpec& spec);
std::string delayFeatures(const FaultSpec& spec);
std::string synDropFeatures(const FaultSpec& spec);

}  // namespace deadpeer::fault_kinds

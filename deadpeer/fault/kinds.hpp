// fault/kinds: the factory of each family of fault kinds, for makeFault().
// Private to the fault module.
#pragma once

#include <memory>

#include "deadpeer/fault/fault.hpp"

namespace deadpeer::fault_kinds {

std::unique_ptr<Fault> route(Topology& topology, const FaultSpec& spec);
std::unique_ptr<Fault> linkDown(Topology& topology, const FaultSpec& spec);
std::unique_ptr<Fault> process(Topology& topology, const FaultSpec& spec);
std::unique_ptr<Fault> reboot(Topology& topology, const FaultSpec& spec);
// drop, loss, reset, firewall-forget, and host-crash with the nft backend.
std::unique_ptr<Fault> nftables(Topology& topology, const FaultSpec& spec);
// host-crash and drop with the tc backend, and delay.
std::unique_ptr<Fault> tc(Topology& topology, const FaultSpec& spec);
// Why tc cannot place this fault's ingress drop (its far end is a host), or "".
std::string tcFarEndProblem(const Topology& topology, const FaultSpec& spec);

}  // namespace deadpeer::fault_kinds

// scenario/parse/names: the words of the scenario format and what they
// stand for. Each table is the one list of its names: the rules read with
// it, suggestions for a near miss come from it, and the schema lists it.
//
// Internal to the scenario parser. Threading: immutable after first use.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "deadpeer/scenario/scenario.hpp"

namespace deadpeer::parse {

template <class T>
using NameTable = std::vector<std::pair<std::string, T>>;

const NameTable<PeerKind>& peerKinds();
// From the fault-kind table (fault/kinds.hpp).
const NameTable<FaultKind>& faultKindNames();
// `traffic: NAME`, each with its default parameters.
const NameTable<TrafficMode>& trafficModes();
const NameTable<TrafficMode::Kind>& trafficKinds();
// Scenario files spell detectors as labels: "user-timeout".
const NameTable<Detector>& detectors();
// The errors a detection can end with; "none" is 0 (FIN).
const NameTable<int>& errnos();
const NameTable<int>& familyNames();
const NameTable<Direction>& directions();
const NameTable<Backend>& backends();
// Name -> whether it takes `clients`; TopologySpec::named() builds them.
const NameTable<bool>& topologies();

}  // namespace deadpeer::parse

// scenario/parse/references: the checks that need the whole file. A name
// that refers elsewhere (a host of the topology, a peer, a link of a host)
// is checked once every section is read; each check reports at the place
// the name was written, and fills in what the reference implies (a peer's
// hosts, a server's connection count, a process fault's host).
//
// Internal to the scenario parser. Threading: runs within one parse.
#pragma once

#include <optional>
#include <string_view>

#include "deadpeer/scenario/parse/draft.hpp"
#include "deadpeer/topology/spec.hpp"

namespace deadpeer::parse {

// The topology the file names, or nullopt when it is unknown or incomplete
// (reported).
std::optional<TopologySpec> topologyOf(Reader& r, Draft& d);
void checkHosts(Reader& r, Draft& d, const std::optional<TopologySpec>& spec);
void checkPeers(Reader& r, Draft& d, const std::optional<TopologySpec>& spec);
void checkFaults(Reader& r, Draft& d, const std::optional<TopologySpec>& spec);
void checkExpect(Reader& r, Draft& d, const std::optional<TopologySpec>& spec);
// YAML forbids tabs in indentation, and yaml-cpp's complaint about them
// ("illegal map value") points elsewhere; this says what is wrong.
void checkTabs(Reader& r, std::string_view yaml);

}  // namespace deadpeer::parse

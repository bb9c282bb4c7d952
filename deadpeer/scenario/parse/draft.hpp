// scenario/parse/draft: what a file is read into before its references are
// checked. A draft keeps each value's place (path, marks of the keys seen),
// because names that refer elsewhere (hosts of the topology, peers) can be
// checked only once the whole file is read.
//
// Internal to the scenario parser. Threading: plain data.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "deadpeer/scenario/parse/reader.hpp"
#include "deadpeer/scenario/scenario.hpp"

namespace deadpeer::parse {

struct HeartbeatDraft {
  HeartbeatSettings settings;
};

struct TrafficDraft {
  TrafficMode mode;
};

struct ReadyDraft {
  std::optional<ExternalPeerSpec::Readiness> readiness;
};

struct DetectDraft {
  std::optional<ExternalPeerSpec::Detection> detection;
};

// The most connections one peer opens or accepts: TcpPeer's clients and
// `deadpeer serve` refuse more (peer/tcp_peer.cpp, cli/serve.cpp).
inline constexpr int kMaxPeerConnections = 10'000;

struct PeerDraft {
  ScenarioPeer peer;
  std::string path;
  std::vector<SourceMark> command_marks;  // one per peer.command argument
  std::string host;  // as written: a node, or "clients"
  bool kind_known = false;
  Seen seen;
};

struct FaultDraft {
  ScheduledFault fault;
  std::string path;
  bool kind_known = false;
  Seen seen;
  std::size_t diagnostics_before = 0;
};

struct ExpectDraft {
  Expectation expect;
  std::string path = "expect";
  Seen seen;
  Seen window;  // the explicit window's keys
};

struct HostDraft {
  std::string name;
  std::string path;
  SourceMark mark;  // the name's
  HostSettings settings;
};

struct Draft {
  Scenario scenario;
  bool topology_known = true;
  SourceMark mark;
  Seen seen;
  std::vector<HostDraft> hosts;
  std::vector<PeerDraft> peers;
  std::vector<FaultDraft> faults;
  ExpectDraft expect;
};

}  // namespace deadpeer::parse

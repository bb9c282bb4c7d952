// scenario/resources: the open files a scenario's trial holds, so that a
// scenario this machine cannot hold is refused by validation with the
// numbers instead of failing mid-trial with EMFILE.
//
// Every connection end held by an in-process peer is one descriptor in the
// harness's process; a server with `process: separate` holds its ends in
// its own process (which inherits the raised limit, limits.hpp). On top,
// each peer object holds a few descriptors of its own (epoll, eventfd,
// timerfd, listener: tcp_peer.hpp, heartbeat.hpp) and each trial a fixed
// number for namespaces, netlink sockets, the capture and child pipes.
// The figures are upper bounds that were counted from those headers, not
// measured, and they err on the high side.
//
// Threading: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "deadpeer/scenario/scenario.hpp"

namespace deadpeer {

// Descriptors one trial needs besides the peers': namespaces, netlink
// sockets, the capture, pipes to children.
inline constexpr std::uint64_t kTrialDescriptors = 64;
// Descriptors each peer object holds besides its connections.
inline constexpr std::uint64_t kPeerDescriptors = 6;

struct DescriptorNeed {
  std::string process;  // "the harness", or "peer \"server\" (process: separate)"
  std::uint64_t connections = 0;  // connection ends held in that process
  std::uint64_t total = 0;        // with the peers' and the trial's own
  std::size_t peer = 0;           // index in `peers` of the peer holding the most ends
};

// One entry per process: the harness first, then each separate-process
// server. Client peers count hosts x connections ends; servers their
// `connections`.
std::vector<DescriptorNeed> descriptorsNeeded(const std::vector<ScenarioPeer>& peers);

}  // namespace deadpeer

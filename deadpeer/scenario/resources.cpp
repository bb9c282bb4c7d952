#include "deadpeer/scenario/resources.hpp"

#include <algorithm>

namespace deadpeer {

std::vector<DescriptorNeed> descriptorsNeeded(const std::vector<ScenarioPeer>& peers) {
  DescriptorNeed harness{"the harness", 0, kTrialDescriptors, 0};
  std::uint64_t most = 0;
  std::vector<DescriptorNeed> separate;
  for (std::size_t i = 0; i < peers.size(); ++i) {
    const ScenarioPeer& p = peers[i];
    const std::uint64_t hosts = std::max<std::size_t>(1, p.hosts.size());
    const std::uint64_t ends =
        static_cast<std::uint64_t>(std::max(0, p.connections)) * (p.isClient() ? hosts : 1);
    if (p.kind == PeerKind::kExternal) {
      harness.total += kPeerDescriptors;  // pidfd and pipes; its sockets are its own
      continue;
    }
    if (p.isServer() && p.separate_process) {
      separate.push_back({"peer \"" + p.name + "\" (process: separate)", ends,
                          ends + kPeerDescriptors + kTrialDescriptors, i});
      harness.total += kPeerDescriptors;
      continue;
    }
    harness.connections += ends;
    // A tcp-client is one peer object per host; a heartbeat-client one per
    // connection (runner.cpp starts one HeartbeatPeer, with its engine, each).
    const std::uint64_t objects =
        p.kind == PeerKind::kHeartbeatClient ? ends : (p.isClient() ? hosts : 1);
    harness.total += ends + kPeerDescriptors * objects;
    if (ends > most) most = ends, harness.peer = i;
  }
  std::vector<DescriptorNeed> out{harness};
  out.insert(out.end(), separate.begin(), separate.end());
  return out;
}

}  // namespace deadpeer

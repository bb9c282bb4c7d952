#include "deadpeer/judge/oracle_input.hpp"

namespace deadpeer {

using namespace std::chrono_literals;

KernelDetector effectiveKernel(const Scenario& sc, const ScenarioPeer& peer) {
  KernelDetector k;
  HostTcpSettings host;
  if (auto it = sc.hosts.find(peer.hosts.front()); it != sc.hosts.end()) host = it->second.tcp;
  const KernelDetectorSettings& s = peer.kernel;
  k.keepalive = s.keepalive;
  k.idle = s.keepidle.value_or(host.keepalive_time.value_or(7200s));
  k.interval = s.keepintvl.value_or(host.keepalive_intvl.value_or(75s));
  k.count = s.keepcnt.value_or(host.keepalive_probes.value_or(9));
  k.user_timeout = s.user_timeout.value_or(0ms);
  k.retries2 = host.retries2.value_or(15);
  k.recverr = s.recverr;
  if (s.keepidle || s.keepintvl || s.keepcnt)
    k.source = host.keepalive_time || host.keepalive_intvl || host.keepalive_probes
                   ? "socket options and host sysctls"
                   : "socket options";
  else if (host.keepalive_time || host.keepalive_intvl || host.keepalive_probes)
    k.source = "host sysctls";
  else
    k.source = "Linux defaults";
  return k;
}

const ScheduledFault* killingFault(const Scenario& sc) {
  for (const auto& f : sc.faults)
    if (!f.at_setup) return &f;
  return sc.faults.empty() ? nullptr : &sc.faults.front();
}

OracleInput oracleInput(const Scenario& sc, int family) {
  OracleInput in;
  in.family = family;
  const ScenarioPeer* peer = &sc.watched();
  if (peer->kind == PeerKind::kHeartbeatClient || peer->kind == PeerKind::kHeartbeatServer) {
    in.detector = OracleInput::DetectorKind::kHeartbeat;
    in.heartbeat = peer->heartbeat;
  } else {
    in.kernel = effectiveKernel(sc, *peer);
  }
  if (peer->isClient()) in.connections = static_cast<int>(peer->hosts.size()) * peer->connections;
  switch (peer->traffic.kind) {
    case TrafficMode::Kind::kDataInFlight:
    case TrafficMode::Kind::kRequestResponse:  // the next request is in flight
      in.state = ConnectionState::kDataInFlight;
      break;
    case TrafficMode::Kind::kStopReading:
      in.state = ConnectionState::kZeroWindow;
      break;
    case TrafficMode::Kind::kIdle:
      in.state = ConnectionState::kIdle;
      break;
  }
  in.no_fault = sc.faults.empty();
  if (const ScheduledFault* f = killingFault(sc)) {
    in.fault = f->spec.kind;
    in.fault_duration = f->spec.duration;
    in.loss_percent = f->spec.loss_percent;
    in.conntrack_timeout = f->spec.conntrack_timeout;
    in.flow_tracked = f->at_setup;
    // The detector talks to the proxy; the fault hits the host behind it.
    if (sc.topology == "proxied" && peer->server) {
      const ScenarioPeer& target = sc.at(*peer->server);
      in.behind_proxy = !target.hosts.empty() && target.hosts.front() != f->spec.host &&
                        f->spec.kind != FaultKind::kProcessKill &&
                        f->spec.kind != FaultKind::kProcessFreeze;
    }
  }
  return in;
}

}  // namespace deadpeer

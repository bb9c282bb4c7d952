#include "deadpeer/scenario/parse/names.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace deadpeer::parse {

using std::chrono::milliseconds;

const NameTable<PeerKind>& peerKinds() {
  static const NameTable<PeerKind> table = {
      {"tcp-server", PeerKind::kTcpServer},
      {"tcp-client", PeerKind::kTcpClient},
      {"heartbeat-server", PeerKind::kHeartbeatServer},
      {"heartbeat-client", PeerKind::kHeartbeatClient},
      {"external", PeerKind::kExternal},
  };
  return table;
}

const NameTable<FaultKind>& faultKindNames() {
  static const NameTable<FaultKind> table = [] {
    NameTable<FaultKind> rows;
    for (const auto& info : faultKinds()) rows.emplace_back(std::string(info.name), info.kind);
    return rows;
  }();
  return table;
}

const NameTable<TrafficMode>& trafficModes() {
  static const NameTable<TrafficMode> table = {
      {"idle", TrafficMode::idle()},
      {"data-in-flight", TrafficMode::dataInFlight(1000)},
      {"request-response", TrafficMode::requestResponse(milliseconds(100))},
      {"stop-reading", TrafficMode::stopReading()},
  };
  return table;
}

const NameTable<TrafficMode::Kind>& trafficKinds() {
  static const NameTable<TrafficMode::Kind> table = [] {
    NameTable<TrafficMode::Kind> rows;
    for (const auto& [name, mode] : trafficModes()) rows.emplace_back(name, mode.kind);
    return rows;
  }();
  return table;
}

const NameTable<Detector>& detectors() {
  static const NameTable<Detector> table = [] {
    NameTable<Detector> rows;
    for (int d = static_cast<int>(Detector::kKeepalive); d <= static_cast<int>(Detector::kExternal);
         ++d) {
      std::string name(detectorName(static_cast<Detector>(d)));
      std::replace(name.begin(), name.end(), '_', '-');
      rows.emplace_back(std::move(name), static_cast<Detector>(d));
    }
    return rows;
  }();
  return table;
}

const NameTable<int>& errnos() {
  static const NameTable<int> table = {
      {"ETIMEDOUT", ETIMEDOUT},       {"ECONNRESET", ECONNRESET}, {"EHOSTUNREACH", EHOSTUNREACH},
      {"ENETUNREACH", ENETUNREACH},   {"EACCES", EACCES},         {"EPIPE", EPIPE},
      {"ECONNREFUSED", ECONNREFUSED}, {"EPROTO", EPROTO},         {"none", 0},
  };
  return table;
}

const NameTable<int>& familyNames() {
  static const NameTable<int> table = {{"ipv4", AF_INET},
                                                                 {"ipv6", AF_INET6}};
  return table;
}

const NameTable<Direction>& directions() {
  static const NameTable<Direction> table = {
      {"both", Direction::kBoth}, {"egress", Direction::kEgress}, {"ingress", Direction::kIngress}};
  return table;
}

const NameTable<Backend>& backends() {
  static const NameTable<Backend> table = {
      {"auto", Backend::kAuto}, {"tc", Backend::kTc}, {"nft", Backend::kNft}};
  return table;
}

const NameTable<bool>& topologies() {
  static const NameTable<bool> table = {
      {"two-hosts", false}, {"routed", false},      {"switched", false},
      {"proxied", false},   {"many-clients", true},
  };
  return table;
}

}  // namespace deadpeer::parse

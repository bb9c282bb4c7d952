#include "deadpeer/scenario/runner.hpp"

#include <netinet/tcp.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <system_error>

#include "deadpeer/capture/capture.hpp"
#include "deadpeer/error.hpp"
#include "deadpeer/fault/fault.hpp"
#include "deadpeer/ns/sysctl.hpp"
#include "deadpeer/peer/external.hpp"
#include "deadpeer/peer/heartbeat_peer.hpp"
#include "deadpeer/peer/program_sockets.hpp"
#include "deadpeer/peer/tcp_peer.hpp"
#include "deadpeer/topology/topology.hpp"

namespace deadpeer {

namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// How long peers get to start and connect; generous for ctest -j on two
// cores, and only ever spent when something is broken.
constexpr milliseconds kStartDeadline{10'000};
// Beyond the oracle's latest, how long the runner still waits for a
// detection before calling it missing.
constexpr milliseconds kGrace{2'000};
// Timeline marks drawn per trial, at most.
constexpr std::size_t kMaxMarks = 4000;

Seconds toSeconds(Clock::duration d) { return duration_cast<Seconds>(d); }

std::string fmt(const char* format, double v) {
  char buf[96];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string familyName(int family) { return family == AF_INET6 ? "ipv6" : "ipv4"; }

bool isDeath(const Event& e) { return e.kind == EventKind::kDetected; }

// Waits until `n` events match, or the deadline; returns how many matched.
// A stop request wakes it (TrialRun adds an event then) and ends it early.
std::size_t waitCount(const EventLog& log, const std::function<bool(const Event&)>& match,
                      std::size_t n, Clock::time_point deadline, const std::stop_token& stop) {
  for (int rounds = 0; rounds < 1'000'000; ++rounds) {
    const auto events = log.events();
    const std::size_t seen =
        static_cast<std::size_t>(std::count_if(events.begin(), events.end(), match));
    const auto now = Clock::now();
    if (seen >= n || now >= deadline || stop.stop_requested()) return seen;
    log.waitFor([&](const Event& e) { return match(e) || stop.stop_requested(); },
                duration_cast<milliseconds>(deadline - now) + 1ms, events.size());
  }
  return 0;
}

// Protocol time: waits `d` unless an event matching `stop` arrives first,
// or a stop is requested.
std::optional<Event> waitProtocol(const EventLog& log,
                                  const std::function<bool(const Event&)>& stop,
                                  Clock::time_point until, std::size_t from,
                                  const std::stop_token& interrupt) {
  const auto now = Clock::now();
  if (until <= now || interrupt.stop_requested()) return std::nullopt;
  auto event = log.waitFor(
      [&](const Event& e) { return stop(e) || interrupt.stop_requested(); },
      duration_cast<milliseconds>(until - now), from);
  if (event && !stop(*event)) return std::nullopt;
  return event;
}

// Thrown between waits once a stop was requested.
void throwIfStopped(const std::stop_token& stop, const std::string& scenario) {
  if (stop.stop_requested())
    throw Error("run", "scenario " + scenario, "", EINTR, "interrupted");
}

// The effective kernel detector of a peer's sockets.
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

// Everything of the oracle's input that follows from the file alone.
OracleInput staticInput(const Scenario& sc, int family) {
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
    default:
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

// A directory of the trial's own ({workdir}: keys, a database cluster),
// removed with everything in it when the trial ends, after its programs.
class WorkDir {
 public:
  WorkDir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/deadpeer-trial-XXXXXX";
    if (!::mkdtemp(pattern.data()))
      throw Error::fromErrno("mkdtemp", pattern, "", errno);
    path_ = pattern;
  }
  ~WorkDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

bool usesWorkDir(const Scenario& sc) {
  return std::any_of(sc.peers.begin(), sc.peers.end(), [](const ScenarioPeer& p) {
    return std::any_of(p.command.begin(), p.command.end(), [](const std::string& arg) {
      return arg.find("{workdir}") != std::string::npos;
    });
  });
}

std::string expandPlaceholders(const std::string& arg, const Topology& topo, int family,
                               const Scenario& sc, const std::filesystem::path& self,
                               const std::filesystem::path& workdir) {
  std::string out;
  std::size_t i = 0;
  while (i < arg.size()) {
    if (arg[i] != '{') {
      out += arg[i++];
      continue;
    }
    const auto close = arg.find('}', i);
    if (close == std::string::npos) {
      out += arg.substr(i);
      break;
    }
    const std::string token = arg.substr(i + 1, close - i - 1);
    const auto colon = token.find(':');
    const std::string key = token.substr(0, colon);
    const std::string value = colon == std::string::npos ? "" : token.substr(colon + 1);
    if (key == "address") {
      out += topo.address(value, family).str();
    } else if (key == "address-bracketed") {
      const std::string a = topo.address(value, family).str();
      out += family == AF_INET6 ? "[" + a + "]" : a;
    } else if (key == "port") {
      const ScenarioPeer* p = sc.peer(value);
      if (!p) throw Error("expand", "placeholder {" + token + "}", "", EINVAL, "no such peer");
      out += std::to_string(p->port);
    } else if (key == "family") {
      out += family == AF_INET6 ? "6" : "4";
    } else if (key == "self") {
      out += self.string();
    } else if (key == "dir") {
      out += std::filesystem::absolute(sc.file).parent_path().string();
    } else if (key == "workdir" && !workdir.empty()) {
      out += workdir.string();
    } else {
      throw Error("expand", "placeholder {" + token + "}", "", EINVAL, "unknown placeholder");
    }
    i = close + 1;
  }
  return out;
}

// Where a trial's capture is written: "<dir>/crash_keepalive-idle-ipv4-1.pcap".
std::filesystem::path pcapPath(const std::filesystem::path& dir, const Scenario& sc, int family,
                               int trial) {
  std::string stem = sc.name;
  std::replace(stem.begin(), stem.end(), '/', '_');
  return dir / (stem + "-" + familyName(family) + "-" + std::to_string(trial) + ".pcap");
}

std::string durationArg(milliseconds d) { return std::to_string(d.count()) + "ms"; }

// One trial's live objects. Members are destroyed in reverse order of
// declaration: faults first (they act on the topology), then the peers, the
// capture (its destructor stops it) and last the topology.
struct Trial {
  std::unique_ptr<WorkDir> workdir;  // outlives every program that uses it
  EventLog log;
  std::unique_ptr<Topology> topology;
  std::unique_ptr<Capture> capture;
  std::vector<std::unique_ptr<ExternalPeer>> external;
  std::vector<std::unique_ptr<TcpPeer>> tcp;
  std::vector<std::unique_ptr<HeartbeatPeer>> heartbeat;
  // By PeerRef::index: a peer's process, and its built-in TCP peers.
  std::map<std::size_t, ExternalPeer*> processes;
  std::map<std::size_t, std::vector<TcpPeer*>> tcp_of;
  std::vector<std::unique_ptr<Fault>> faults;
};

// Marks a skip (missing kernel feature) apart from errors.
struct Skip {
  std::string reason;
};

class TrialRun {
 public:
  TrialRun(const Scenario& sc, int family, int number, const RunOptions& options,
           const Oracle& oracle)
      : sc_(sc),
        family_(family),
        number_(number),
        options_(options),
        oracle_(oracle),
        static_(staticInput(sc, family)) {}

  TrialResult run();
  // Builds, starts the peers and warms up like run(), then reads the
  // expected program's sockets and predicts as if the first fault struck
  // now, without applying it; tears everything down.
  DetectionWindow dryRun();

 private:
  void progress(const std::string& what, std::optional<Clock::duration> expected = std::nullopt);
  void build();
  void startPeers();
  void startPeer(PeerRef ref);
  // Starts a program in its host for `ref` and waits until it is ready.
  void launch(PeerRef ref, ExternalPeerSpec spec);
  std::size_t expectedConnections(const ScenarioPeer& peer) const;
  void applyFault(const ScheduledFault& f);
  void judge();
  DetectionWindow window(const std::vector<Packet>& packets, Clock::time_point& anchor_min,
                         Clock::time_point& anchor_max);
  // An external peer: reads its connections' sockets just before the
  // fault, and predicts from them and its declared rule.
  void readSockets();
  DetectionWindow programWindow(const std::vector<Packet>& packets, Clock::time_point& anchor_min,
                                Clock::time_point& anchor_max);
  bool judgesProgram() const;
  void timeline(const std::vector<Packet>& packets);
  void quality(const std::vector<Event>& events);

  const Scenario& sc_;
  int family_;
  int number_;
  const RunOptions& options_;
  const Oracle& oracle_;
  const OracleInput static_;  // what the file alone tells the oracle
  std::unique_ptr<Trial> trial_ = std::make_unique<Trial>();
  Trial& t_ = *trial_;
  TrialResult r_;
  Clock::time_point started_{};
  Clock::time_point fault_at_{};
  Clock::time_point data_sent_at_{};
  Clock::time_point protocol_start_{};
  Clock::time_point fault_start_{};  // when apply() began
  Clock::duration protocol_{};
  std::vector<ProgramSocket> sockets_;  // the expected program's, at the fault
  bool sockets_read_ = false;
};

void TrialRun::progress(const std::string& what, std::optional<Clock::duration> expected) {
  if (!options_.progress) return;
  std::string line =
      sc_.name + " [" + familyName(family_) + "] trial " + std::to_string(number_) + ": " + what;
  if (expected) line += fmt(" (expected %.1f s)", toSeconds(*expected).count());
  options_.progress(line);
}

std::size_t TrialRun::expectedConnections(const ScenarioPeer& peer) const {
  if (peer.isClient()) return peer.hosts.size() * static_cast<std::size_t>(peer.connections);
  if (peer.kind == PeerKind::kExternal) return 1;
  return static_cast<std::size_t>(peer.connections);
}

void TrialRun::build() {
  progress("building " + sc_.topology);
  if (usesWorkDir(sc_)) t_.workdir = std::make_unique<WorkDir>();
  t_.topology = std::make_unique<Topology>(TopologySpec::named(sc_.topology, sc_.clients));
  for (const auto& [host, settings] : sc_.hosts) {
    applyHostTcpSettings(t_.topology->host(host), settings.tcp);
    for (const auto& [key, value] : settings.sysctls)
      writeSysctl(t_.topology->netnsOf(host), key, value);
  }
  // The capture watches the expected peer's host from before anything
  // connects.
  const ScenarioPeer* watched = &sc_.watched();
  if (!watched->hosts.empty()) {
    const std::string& host = watched->hosts.front();
    CaptureOptions copts;
    copts.heartbeat = std::any_of(sc_.peers.begin(), sc_.peers.end(), [](const ScenarioPeer& p) {
      return p.kind == PeerKind::kHeartbeatClient || p.kind == PeerKind::kHeartbeatServer;
    });
    if (options_.pcap_dir) copts.pcap_file = pcapPath(*options_.pcap_dir, sc_, family_, number_);
    t_.capture = std::make_unique<Capture>(t_.topology->netnsOf(host),
                                           t_.topology->linksOf(host).front().link, copts);
  }
  for (const auto& f : sc_.faults)
    if (f.at_setup) applyFault(f);
}

void TrialRun::startPeer(PeerRef ref) {
  const ScenarioPeer& peer = sc_.at(ref);
  Topology& topo = *t_.topology;
  const auto deadline = Clock::now() + kStartDeadline;
  auto targetOf = [&](const ScenarioPeer& p) -> std::pair<IpAddress, std::uint16_t> {
    if (!p.server) throw Error("start", "peer " + p.name, "", EINVAL, "connects to no peer");
    const ScenarioPeer& target = sc_.at(*p.server);
    return {topo.address(target.hosts.front(), family_), target.port};
  };
  const std::string& host = peer.hosts.front();
  switch (peer.kind) {
    case PeerKind::kTcpServer:
    case PeerKind::kHeartbeatServer: {
      const IpAddress address = topo.address(host, family_);
      if (peer.separate_process) {
        ExternalPeerSpec spec;
        spec.name = peer.name;
        spec.host = host;
        spec.argv = {options_.self.string(),
                     "serve",
                     peer.kind == PeerKind::kTcpServer ? "tcp" : "heartbeat",
                     "--port",
                     std::to_string(peer.port),
                     "--address",
                     address.str(),
                     "--connections",
                     std::to_string(peer.connections)};
        if (peer.kind == PeerKind::kTcpServer &&
            peer.traffic.kind == TrafficMode::Kind::kStopReading)
          spec.argv.push_back("--stop-reading");
        if (peer.kind == PeerKind::kHeartbeatServer) {
          const HeartbeatSettings& h = peer.heartbeat;
          for (const auto& extra :
               {std::string("--idle"), durationArg(h.idle), std::string("--interval"),
                durationArg(h.interval), std::string("--count"), std::to_string(h.count),
                std::string("--pong-delay"), durationArg(h.pong_delay)})
            spec.argv.push_back(extra);
          if (!h.send_pings) spec.argv.push_back("--no-pings");
        }
        spec.readiness = ExternalPeerSpec::Port{address, peer.port};
        spec.detection = ExternalPeerSpec::Exit{};
        spec.ready_deadline = peer.ready_deadline;
        launch(ref, std::move(spec));
        return;
      }
      if (peer.kind == PeerKind::kTcpServer) {
        TcpPeerConfig config;
        config.name = peer.name;
        config.role = TcpPeerConfig::Role::kServer;
        config.address = address;
        config.port = peer.port;
        config.detector = peer.kernel;
        config.traffic = peer.traffic;
        config.max_connections = peer.connections;
        auto p = std::make_unique<TcpPeer>(topo.host(host), config, t_.log);
        t_.tcp_of[ref.index].push_back(p.get());
        t_.tcp.push_back(std::move(p));
      } else {
        HeartbeatPeerConfig config;
        config.name = peer.name;
        config.server = true;
        config.address = address;
        config.port = peer.port;
        config.settings = peer.heartbeat;
        config.max_connections = peer.connections;
        t_.heartbeat.push_back(std::make_unique<HeartbeatPeer>(topo.host(host), config, t_.log));
      }
      return;
    }
    case PeerKind::kTcpClient: {
      const auto [address, port] = targetOf(peer);
      for (const auto& h : peer.hosts) {
        TcpPeerConfig config;
        config.name = peer.name;
        config.role = TcpPeerConfig::Role::kClient;
        config.address = address;
        config.port = port;
        config.detector = peer.kernel;
        config.traffic = peer.traffic;
        config.connections = peer.connections;
        auto p = std::make_unique<TcpPeer>(topo.host(h), config, t_.log);
        t_.tcp_of[ref.index].push_back(p.get());
        t_.tcp.push_back(std::move(p));
      }
      break;
    }
    case PeerKind::kHeartbeatClient: {
      const auto [address, port] = targetOf(peer);
      for (const auto& h : peer.hosts)
        for (int i = 0; i < peer.connections; ++i) {
          HeartbeatPeerConfig config;
          config.name = peer.name;
          config.address = address;
          config.port = port;
          config.settings = peer.heartbeat;
          config.connect_deadline = kStartDeadline;
          t_.heartbeat.push_back(std::make_unique<HeartbeatPeer>(topo.host(h), config, t_.log));
        }
      break;
    }
    case PeerKind::kExternal: {
      ExternalPeerSpec spec;
      spec.name = peer.name;
      spec.host = host;
      for (const auto& arg : peer.command)
        spec.argv.push_back(expandPlaceholders(arg, topo, family_, sc_, options_.self,
                                               t_.workdir ? t_.workdir->path()
                                                          : std::filesystem::path()));
      spec.readiness = peer.readiness;
      if (auto* port = std::get_if<ExternalPeerSpec::Port>(&spec.readiness);
          port && port->port == 0)
        port->port = peer.port;
      spec.detection = peer.detection;
      spec.ready_deadline = peer.ready_deadline;
      launch(ref, std::move(spec));
      return;
    }
  }
  // Clients: every connection established.
  const std::size_t want = expectedConnections(peer);
  const std::string name = peer.name;
  const std::size_t got = waitCount(
      t_.log, [&](const Event& e) { return e.peer == name && e.kind == EventKind::kConnected; },
      want, deadline, options_.stop);
  throwIfStopped(options_.stop, sc_.name);
  if (got < want)
    throw Error("start", "peer " + name, "", ETIMEDOUT,
                std::to_string(got) + " of " + std::to_string(want) +
                    " connections established within " + std::to_string(kStartDeadline.count()) +
                    " ms");
}

void TrialRun::launch(PeerRef ref, ExternalPeerSpec spec) {
  auto process = std::make_unique<ExternalPeer>(spec, t_.topology->netnsOf(spec.host), t_.log);
  process->waitReady();
  t_.processes[ref.index] = process.get();
  t_.external.push_back(std::move(process));
}

void TrialRun::startPeers() {
  progress("starting peers");
  // Servers and external programs first, then the clients that reach them.
  for (std::size_t i = 0; i < sc_.peers.size(); ++i)
    if (!sc_.peers[i].isClient()) startPeer(PeerRef{i});
  for (std::size_t i = 0; i < sc_.peers.size(); ++i)
    if (sc_.peers[i].isClient()) startPeer(PeerRef{i});
}

void TrialRun::applyFault(const ScheduledFault& f) {
  FaultSpec spec = f.spec;
  if (f.process) {
    auto it = t_.processes.find(f.process->index);
    if (it == t_.processes.end())
      throw Error("fault", spec.str(), "", EINVAL, "peer " + f.process_peer + " has no process");
    spec.pid = it->second->pid();
  }
  std::unique_ptr<Fault> fault;
  if (!f.at_setup && fault_at_ == Clock::time_point{}) readSockets();
  try {
    fault = makeFault(*t_.topology, spec);
  } catch (const Error& e) {
    if (e.sysErrno() == EOPNOTSUPP) throw Skip{e.reason()};
    throw;
  }
  fault->apply();
  if (!f.at_setup && fault_at_ == Clock::time_point{}) {
    fault_at_ = fault->appliedAt();
    // A killed process's FIN leaves before its exit is acknowledged.
    fault_start_ = fault_at_ - fault->applyLatency();
  }
  t_.faults.push_back(std::move(fault));
}

void TrialRun::readSockets() {
  const ScenarioPeer* peer = &sc_.watched();
  if (!peer || peer->kind != PeerKind::kExternal || peer->hosts.empty()) return;
  const auto it = t_.processes.find(sc_.expect.watched.index);
  if (it == t_.processes.end()) return;
  const std::string& host = peer->hosts.front();
  sockets_ = readProgramSockets(it->second->pid(), t_.topology->netnsOf(host), "host " + host);
  sockets_read_ = true;
  if (sockets_.empty() && sc_.expect.window == Expectation::Window::kOracle)
    throw Error("read sockets", "peer " + peer->name + " (pid " +
                                    std::to_string(it->second->pid()) + ")",
                "host " + host, ENOENT,
                "the program and its descendants hold no ESTABLISHED TCP connection at the "
                "fault, so the oracle has nothing to judge (window: oracle)");
}

bool TrialRun::judgesProgram() const {
  const ScenarioPeer* peer = &sc_.watched();
  return peer && peer->kind == PeerKind::kExternal && sockets_read_ && !sockets_.empty();
}

// Per connection, the earlier of the kernel's rule (from the socket) and
// the declared one; the program reports the first of its connections to
// detect, so across connections too the earlier window wins.
DetectionWindow TrialRun::programWindow(const std::vector<Packet>& packets,
                                        Clock::time_point& anchor_min,
                                        Clock::time_point& anchor_max) {
  const ScenarioPeer* peer = &sc_.watched();
  std::vector<std::string> read;
  std::optional<DetectionWindow> best;
  std::string unread;
  const auto earlier = [](std::optional<DetectionWindow>& into, DetectionWindow w) {
    if (w.never) {
      if (!into) into = std::move(w);
      return;
    }
    if (!into || into->never) {
      into = std::move(w);
      return;
    }
    const auto earliest = std::min(into->earliest, w.earliest);
    if (w.latest < into->latest) into = std::move(w);
    into->earliest = earliest;
  };
  anchor_min = Clock::time_point::max();
  anchor_max = Clock::time_point::min();
  for (const ProgramSocket& s : sockets_) {
    // The connection's last received segment, and the last with payload
    // (what wakes a program's reader), before the fault.
    Clock::time_point last{}, last_payload{};
    for (const auto& p : packets) {
      if (p.at > fault_at_ || p.protocol != IPPROTO_TCP || !(p.destination == s.local) ||
          p.destination_port != s.local_port || !(p.source == s.remote) ||
          p.source_port != s.remote_port)
        continue;
      last = std::max(last, p.at);
      if (p.payload > 0) last_payload = std::max(last_payload, p.at);
    }
    if (last == Clock::time_point{}) last = fault_at_;
    if (last_payload == Clock::time_point{}) last_payload = last;
    anchor_min = std::min(anchor_min, last);
    anchor_max = std::max(anchor_max, last);
    read.push_back("read at the fault: " + s.describe() + ".");
    std::optional<DetectionWindow> connection;
    if (s.read) {
      OracleInput in = static_;
      in.kernel = s.detector();
      in.fault_at = fault_at_;
      in.last_received = last;
      in.state = s.unacked > 0 ? ConnectionState::kDataInFlight : ConnectionState::kIdle;
      in.data_sent_at = s.read_at - s.since_data_sent;
      for (const auto& f : t_.faults)
        if (f->appliedAt() == fault_at_) in.fault_apply_latency = f->applyLatency();
      earlier(connection, oracle_.predict(in));
    } else {
      unread = s.endpoints() + " (" + s.unreadable + ")";
    }
    if (peer && peer->rule) earlier(connection, predictAppRule(*peer->rule, last_payload));
    if (connection) earlier(best, std::move(*connection));
  }
  if (!unread.empty() && sc_.expect.window == Expectation::Window::kOracle &&
      !(peer && peer->rule))
    throw Error("read socket", "peer " + sc_.expect.peer, "", EPERM,
                "socket " + unread +
                    " could not be read and the file declares no rule; give the scenario an "
                    "explicit window or a rule");
  DetectionWindow w = best ? std::move(*best) : DetectionWindow{};
  if (!best) {
    w.never = true;
    w.reason = "the program holds no connection";
  }
  w.reasoning.insert(w.reasoning.begin(), read.begin(), read.end());
  return w;
}

DetectionWindow TrialRun::window(const std::vector<Packet>& packets, Clock::time_point& anchor_min,
                                 Clock::time_point& anchor_max) {
  if (judgesProgram()) return programWindow(packets, anchor_min, anchor_max);
  OracleInput in = static_;
  in.fault_at = fault_at_;
  if (!t_.faults.empty()) {
    for (const auto& f : t_.faults)
      if (f->appliedAt() == fault_at_) in.fault_apply_latency = f->applyLatency();
  }
  const ScenarioPeer* peer = &sc_.watched();
  anchor_min = anchor_max = fault_at_;
  if (in.detector == OracleInput::DetectorKind::kHeartbeat) {
    // The last sign of life each connection had before the fault (a PONG or
    // any byte received).
    std::map<int, Clock::time_point> alive;
    for (const auto& e : t_.log.events()) {
      if (e.peer != sc_.expect.peer || e.at > fault_at_) continue;
      const bool life = e.kind == EventKind::kConnected || e.kind == EventKind::kPongReceived ||
                        (!in.heartbeat.pong_only &&
                         (e.kind == EventKind::kPingReceived ||
                          (e.kind == EventKind::kData && e.text.rfind("received", 0) == 0)));
      if (life) alive[e.connection] = std::max(alive[e.connection], e.at);
    }
    if (!alive.empty()) {
      anchor_min = Clock::time_point::max();
      anchor_max = Clock::time_point::min();
      for (const auto& [c, at] : alive) {
        anchor_min = std::min(anchor_min, at);
        anchor_max = std::max(anchor_max, at);
      }
    }
  } else if (peer && !peer->hosts.empty()) {
    // The last segment each flow received from the peer before the fault,
    // as the capture saw it.
    const IpAddress me = t_.topology->address(peer->hosts.front(), family_);
    std::map<std::uint16_t, Clock::time_point> last;
    for (const auto& p : packets) {
      // TCP only: an IPv6 neighbour advertisement to this host is no segment.
      if (p.at > fault_at_ || p.protocol != IPPROTO_TCP || !(p.destination == me)) continue;
      last[p.destination_port] = std::max(last[p.destination_port], p.at);
    }
    if (!last.empty()) {
      anchor_min = Clock::time_point::max();
      anchor_max = Clock::time_point::min();
      for (const auto& [port, at] : last) {
        anchor_min = std::min(anchor_min, at);
        anchor_max = std::max(anchor_max, at);
      }
    }
    if (in.state == ConnectionState::kZeroWindow) {
      // The persist timer starts with the first zero-window probe.
      for (const auto& p : packets)
        if (p.cls == PacketClass::kWindowProbe && p.source == me && p.at >= fault_at_) {
          data_sent_at_ = p.at;
          break;
        }
    }
  }
  if (peer && peer->traffic.kind == TrafficMode::Kind::kRequestResponse &&
      data_sent_at_ == Clock::time_point{}) {
    // The first request written after the fault is the data in flight.
    for (const auto& e : t_.log.events())
      if (e.peer == peer->name && e.kind == EventKind::kData && e.at >= fault_at_ &&
          e.text.rfind("sent", 0) == 0) {
        data_sent_at_ = e.at;
        break;
      }
  }
  in.data_sent_at = data_sent_at_ != Clock::time_point{} ? data_sent_at_ : fault_at_;
  in.last_received = anchor_min;
  DetectionWindow w = oracle_.predict(in);
  if (!w.never && anchor_max > anchor_min && w.anchor == anchor_min) {
    // Several connections: the union of their windows.
    in.last_received = anchor_max;
    w.latest = oracle_.predict(in).latest;
  }
  return w;
}

void TrialRun::timeline(const std::vector<Packet>& packets) {
  auto add = [&](Clock::time_point at, std::string kind, std::string text) {
    if (r_.timeline.size() < kMaxMarks)
      r_.timeline.push_back({toSeconds(at - fault_at_), kind, text});
  };
  for (const auto& f : t_.faults) {
    add(f->appliedAt(), "fault", f->spec().str());
    if (f->revertedAt() != Clock::time_point{}) add(f->revertedAt(), "revert", f->spec().str());
  }
  for (const auto& p : packets) {
    std::string kind;
    switch (p.cls) {
      case PacketClass::kKeepaliveProbe:
      case PacketClass::kWindowProbe:
        kind = "probe";
        break;
      case PacketClass::kProbeAck:
        kind = "probe-ack";
        break;
      case PacketClass::kPing:
        kind = "ping";
        break;
      case PacketClass::kPong:
        kind = "pong";
        break;
      case PacketClass::kData:
        kind = "data";
        break;
      case PacketClass::kRst:
        kind = "rst";
        break;
      case PacketClass::kFin:
        kind = "fin";
        break;
      case PacketClass::kIcmp:
        kind = "icmp";
        break;
      default:
        continue;
    }
    add(p.at, kind, p.str(fault_at_));
  }
  for (const auto& d : r_.detections)
    r_.timeline.push_back({d.at, "detected",
                           d.peer + "#" + std::to_string(d.connection) + " " +
                               std::string(detectorName(d.detector)) + " errno " +
                               std::to_string(d.error)});
  std::sort(r_.timeline.begin(), r_.timeline.end(),
            [](const TimelineMark& a, const TimelineMark& b) { return a.at < b.at; });
}

void TrialRun::quality(const std::vector<Event>& events) {
  // Per connection the detector either trusts or suspects the live peer; a
  // death (the connection closed) is a suspicion that lasts to the end.
  QualityMetrics q;
  const auto end = fault_at_ + sc_.expect.observe;
  q.observed = toSeconds(end - fault_at_);
  std::map<int, Clock::time_point> since;  // connections under suspicion
  for (const auto& e : events) {
    if (e.peer != sc_.expect.peer || e.at < fault_at_ || e.at > end) continue;
    const bool suspect = e.kind == EventKind::kSuspected || e.kind == EventKind::kDetected;
    if (suspect && !since.contains(e.connection)) {
      ++q.mistakes;
      since[e.connection] = e.at;
    } else if (e.kind == EventKind::kRestored) {
      if (auto it = since.find(e.connection); it != since.end()) {
        q.suspected += toSeconds(e.at - it->second);
        since.erase(it);
      }
    }
  }
  for (const auto& [c, at] : since) q.suspected += toSeconds(end - at);
  q.derive();
  r_.false_positives = q.mistakes;
  r_.quality = q;
}

void TrialRun::judge() {
  const Expectation& x = sc_.expect;
  const ScenarioPeer* peer = &sc_.watched();
  const auto packets = t_.capture ? t_.capture->packets() : std::vector<Packet>{};
  const auto events = t_.log.events();
  auto fail = [&](std::string why) { r_.failures.push_back(std::move(why)); };

  for (const auto& e : events)
    if (e.peer == x.peer && isDeath(e) && e.at >= fault_start_)
      r_.detections.push_back(
          {toSeconds(e.at - fault_at_), e.detector, e.error, e.tcp_state, e.peer, e.connection});

  Clock::time_point anchor_min, anchor_max;
  const bool kernel_or_heartbeat =
      peer && (peer->kind != PeerKind::kExternal || judgesProgram());
  if (kernel_or_heartbeat) {
    r_.window = window(packets, anchor_min, anchor_max);
    r_.last_activity = toSeconds(anchor_min - fault_at_);
    if (!r_.window.never) {
      r_.window_earliest = toSeconds(r_.window.earliest - fault_at_);
      r_.window_latest = toSeconds(r_.window.latest - fault_at_);
    }
  } else {
    r_.window.never = true;
    r_.window.reason = "external program: no kernel rule";
  }
  Seconds earliest = r_.window_earliest, latest = r_.window_latest;
  bool check_window = x.window == Expectation::Window::kOracle && !r_.window.never;
  if (x.window == Expectation::Window::kExplicit) {
    earliest = toSeconds(x.earliest);
    latest = toSeconds(x.latest);
    r_.window_earliest = earliest;
    r_.window_latest = latest;
    r_.window.never = false;
    check_window = true;
  }

  const std::size_t want = peer ? expectedConnections(*peer) : 1;
  const bool live = x.max_false_positives.has_value();
  if (live) {
    quality(events);
    if (r_.false_positives > *x.max_false_positives)
      fail(std::to_string(r_.false_positives) + " wrong suspicions of a live peer, at most " +
           std::to_string(*x.max_false_positives) + " allowed");
  } else if (!x.detected) {
    if (!r_.detections.empty())
      fail("detected (" + std::string(detectorName(r_.detections.front().detector)) + ", errno " +
           std::to_string(r_.detections.front().error) +
           fmt(") at %.3f s", r_.detections.front().at.count()) +
           " after the fault; expected no detection within " +
           fmt("%.1f s", toSeconds(*x.deadline).count()));
    if (x.window == Expectation::Window::kOracle && !r_.window.never && kernel_or_heartbeat)
      fail("the oracle predicts a detection (" + r_.window.reasoning.back() +
           ") but the scenario expects none");
  } else {
    if (r_.detections.size() < want)
      fail(std::to_string(r_.detections.size()) + " of " + std::to_string(want) +
           " connections detected the dead peer by the deadline");
    if (x.window == Expectation::Window::kOracle && r_.window.never && kernel_or_heartbeat)
      fail("the oracle says never: " + r_.window.reason);
    int outside = 0, wrong_detector = 0, wrong_errno = 0;
    std::string first_outside, first_detector, first_errno;
    for (const auto& d : r_.detections) {
      if (check_window && (d.at < earliest || d.at > latest)) {
        if (!outside++)
          first_outside = fmt("detected at %.3f s, outside the window ", d.at.count()) +
                          fmt("%.3f", earliest.count()) + fmt("-%.3f s", latest.count());
      }
      if (x.detector && d.detector != *x.detector && !wrong_detector++)
        first_detector = "detected by " + std::string(detectorName(d.detector)) + ", expected " +
                         std::string(detectorName(*x.detector));
      // The errno: the file's, or else the oracle's.
      // A program's exit status is no errno: the oracle's errno is the
      // kernel's, which the program reports in its own way.
      const std::optional<int> want_errno =
          x.error ? x.error
                  : (x.window == Expectation::Window::kOracle && !r_.window.never &&
                             peer && peer->kind != PeerKind::kExternal
                         ? std::optional<int>(r_.window.error)
                         : std::nullopt);
      if (want_errno && d.error != *want_errno && !wrong_errno++)
        first_errno = "errno " + std::to_string(d.error) + " (" + std::strerror(d.error) +
                      "), expected " + std::to_string(*want_errno) + " (" +
                      std::strerror(*want_errno) + ")";
      if (x.survives && d.tcp_state != TCP_ESTABLISHED && !wrong_errno++)
        first_errno = "the connection left ESTABLISHED (state " + std::to_string(d.tcp_state) +
                      ") although it should survive the report";
    }
    auto count = [&](int n, const std::string& first) {
      if (n) fail(first + (n > 1 ? " (and " + std::to_string(n - 1) + " more)" : ""));
    };
    count(outside, first_outside);
    count(wrong_detector, first_detector);
    count(wrong_errno, first_errno);
  }

  // The wire: probes from the detector's host between the fault and the
  // first detection, their spacing, RSTs and ICMP errors.
  if (peer && !peer->hosts.empty() && t_.capture) {
    const IpAddress me = t_.topology->address(peer->hosts.front(), family_);
    const Clock::time_point end =
        r_.detections.empty()
            ? Clock::now()
            : fault_at_ + duration_cast<Clock::duration>(r_.detections.front().at);
    const PacketClass cls = r_.window.probes && static_.state == ConnectionState::kZeroWindow
                                ? PacketClass::kWindowProbe
                                : PacketClass::kKeepaliveProbe;
    const Clock::time_point begin = r_.window.never ? fault_at_ : std::min(anchor_min, fault_at_);
    if (static_.detector == OracleInput::DetectorKind::kHeartbeat) {
      // Retransmissions of a PING carry its sequence number again.
      std::set<std::uint32_t> pings;
      for (const auto& p : packets)
        if (p.cls == PacketClass::kPing && p.source == me && p.at > anchor_min && p.at <= end)
          pings.insert(p.seq);
      r_.probes_seen = static_cast<int>(pings.size());
    } else {
      const ProbeTrain train = probesFrom(packets, me, begin, end, cls);
      r_.probes_seen = train.count;
      for (const auto& s : train.spacing) r_.probe_spacing.push_back(duration_cast<Seconds>(s));
    }
    if (auto rst = firstRst(packets, fault_at_)) r_.rst_from = rst->source.str();
    for (const auto& p : icmpErrors(packets, fault_at_))
      if (r_.icmp_seen.size() < 20)
        r_.icmp_seen.push_back(icmpName(p.family, p.icmp_type, p.icmp_code) + " from " +
                               p.source.str());
    if (!x.rst_from.empty()) {
      const std::string want = t_.topology->address(x.rst_from, family_).str();
      if (!r_.rst_from)
        fail("no RST on the wire after the fault; expected one from " + x.rst_from);
      else if (*r_.rst_from != want)
        fail("the first RST came from " + *r_.rst_from + ", expected " + x.rst_from + " (" + want +
             ")");
    }
    if (!x.icmp.empty() &&
        std::none_of(r_.icmp_seen.begin(), r_.icmp_seen.end(),
                     [&](const std::string& s) { return s.find(x.icmp) != std::string::npos; }))
      fail("no ICMP error matching \"" + x.icmp + "\" on the wire" +
           (r_.icmp_seen.empty() ? "" : "; saw " + r_.icmp_seen.front()));
    const std::size_t connections = std::max<std::size_t>(want, 1);
    if (x.probes == Expectation::Probes::kExplicit &&
        r_.probes_seen != x.probe_count * static_cast<int>(connections))
      fail(std::to_string(r_.probes_seen) + " probes on the wire, expected " +
           std::to_string(x.probe_count * static_cast<int>(connections)));
    if (x.probes == Expectation::Probes::kOracle && r_.window.probes &&
        r_.probes_seen != *r_.window.probes * static_cast<int>(connections))
      fail(std::to_string(r_.probes_seen) + " probes on the wire, the oracle expects " +
           std::to_string(*r_.window.probes * static_cast<int>(connections)));
    if (x.probes != Expectation::Probes::kNone && connections == 1 &&
        r_.window.probe_spacing.count() > 0) {
      const Seconds spacing = toSeconds(r_.window.probe_spacing);
      const Seconds slack =
          toSeconds(oracle_.wheel().granularity(
              duration_cast<std::chrono::microseconds>(r_.window.probe_spacing))) +
          toSeconds(kSchedulingAllowance);
      for (const auto& s : r_.probe_spacing)
        if (s < spacing - toSeconds(oracle_.wheel().jiffy()) || s > spacing + slack) {
          fail(fmt("probe spacing %.3f s, expected ", s.count()) + fmt("%.3f s", spacing.count()) +
               fmt(" (+%.3f s)", slack.count()));
          break;
        }
    }
  }
  // The idle overhead: everything TCP on the watched link while idle.
  if (t_.capture && fault_at_ - protocol_start_ >= 1s) {
    double bytes = 0, count = 0;
    for (const auto& p : packets)
      if (p.protocol == IPPROTO_TCP && p.at >= protocol_start_ && p.at < fault_at_) {
        bytes += static_cast<double>(p.length);
        count += 1;
      }
    const double hours = toSeconds(fault_at_ - protocol_start_).count() / 3600.0;
    const double connections = static_cast<double>(std::max<std::size_t>(want, 1));
    r_.idle_bytes_per_hour = bytes / connections / hours;
    r_.idle_packets_per_hour = count / connections / hours;
  }
  if (t_.capture && t_.capture->dropped() > 0)
    r_.failures.push_back("the capture lost " + std::to_string(t_.capture->dropped()) +
                          " packets; probe counts may be short");
  timeline(packets);
  r_.passed = r_.failures.empty();
}

DetectionWindow TrialRun::dryRun() {
  build();
  startPeers();
  progress("warming up");
  protocol_start_ = Clock::now();
  t_.log.waitFor([](const Event&) { return false; }, sc_.warmup, 0);
  readSockets();
  fault_at_ = fault_start_ = Clock::now();
  Clock::time_point a, b;
  DetectionWindow w = window(t_.capture ? t_.capture->packets() : std::vector<Packet>{}, a, b);
  trial_.reset();
  return w;
}

TrialResult TrialRun::run() {
  started_ = Clock::now();
  r_.trial = number_;
  r_.family = family_;
  const Expectation& x = sc_.expect;
  try {
    // A stop request wakes the wait under way: the waits also end on it.
    std::stop_callback wake(options_.stop, [this] {
      Event e;
      e.at = Clock::now();
      e.kind = EventKind::kOutput;
      e.peer = "deadpeer";
      e.text = "interrupted";
      t_.log.add(std::move(e));
    });
    throwIfStopped(options_.stop, sc_.name);
    build();
    startPeers();
    // Warm-up and the fault offsets are protocol time: the trial waits on
    // its event log (nothing wakes it) until each instant. A detection in
    // that time is judged below as one before the fault.
    progress("warming up");
    const auto protocol_start = Clock::now();
    protocol_start_ = protocol_start;
    const auto warm_end = protocol_start + std::max(sc_.warmup, options_.min_warmup);
    const auto never_matches = [](const Event&) { return false; };
    waitProtocol(t_.log, never_matches, warm_end, 0, options_.stop);
    throwIfStopped(options_.stop, sc_.name);
    for (const auto& f : sc_.faults) {
      if (f.at_setup) continue;
      waitProtocol(t_.log, never_matches, warm_end + f.at, 0, options_.stop);
      throwIfStopped(options_.stop, sc_.name);
      applyFault(f);
    }
    if (fault_at_ == Clock::time_point{}) fault_at_ = fault_start_ = Clock::now();
    // Data in flight: written once the fault is in place.
    if (const ScenarioPeer* p = &sc_.watched(); p->traffic.kind == TrafficMode::Kind::kDataInFlight) {
      const std::size_t before = t_.log.size();
      for (TcpPeer* tcp : t_.tcp_of[x.watched.index]) tcp->sendPending();
      if (auto sent = t_.log.waitFor(
              [&](const Event& e) {
                return e.peer == p->name && e.kind == EventKind::kData &&
                       e.text.rfind("sent", 0) == 0;
              },
              kStartDeadline, before))
        data_sent_at_ = sent->at;
    }
    // Wait for the expectation, never past its deadline.
    Clock::time_point deadline;
    std::optional<Clock::duration> expected;
    if (x.deadline) {
      deadline = fault_at_ + *x.deadline;
    } else if (x.observe.count() > 0) {
      deadline = fault_at_ + x.observe;
    } else {
      Clock::time_point a, b;
      const auto provisional =
          window(t_.capture ? t_.capture->packets() : std::vector<Packet>{}, a, b);
      deadline = (provisional.never ? fault_at_ + 30s : provisional.latest) + kGrace;
      if (!provisional.never) expected = provisional.latest - fault_at_;
      if (x.window == Expectation::Window::kExplicit) deadline = fault_at_ + x.latest + kGrace;
    }
    const ScenarioPeer* peer = &sc_.watched();
    const std::size_t want = peer ? expectedConnections(*peer) : 1;
    progress(x.detected && !x.max_false_positives ? "waiting for detection" : "watching",
             expected ? *expected : deadline - fault_at_);
    if (x.detected && !x.max_false_positives) {
      // Every connection of the expected peer detects, or the deadline.
      waitCount(
          t_.log, [&](const Event& e) { return e.peer == x.peer && isDeath(e); }, want, deadline,
          options_.stop);
    } else if (!x.detected && !x.max_false_positives) {
      // Not detected: the whole deadline is the test, unless it fails first.
      waitProtocol(
          t_.log,
          [&](const Event& e) { return e.peer == x.peer && isDeath(e) && e.at >= fault_at_; },
          deadline, 0, options_.stop);
    } else {
      // A live peer is watched for the whole time.
      waitProtocol(t_.log, never_matches, deadline, 0, options_.stop);
    }
    throwIfStopped(options_.stop, sc_.name);
    protocol_ = Clock::now() - protocol_start;
    if (t_.capture) t_.capture->stop();
    for (const auto& e : t_.log.events())
      if ((e.kind == EventKind::kDetected || e.kind == EventKind::kSuspected) &&
          e.at >= protocol_start && e.at < fault_start_) {
        r_.failures.push_back("detected before the fault: " + e.str());
        break;
      }
    r_.fault_at = fault_at_;
    judge();
  } catch (const Skip&) {
    throw;
  } catch (const Error& e) {
    // Interrupted, whatever failed on the way: nothing to judge.
    if (options_.stop.stop_requested()) throw;
    r_.failures.push_back(std::string("error: ") + e.what());
    r_.passed = false;
  }
  if (options_.keep_detail) r_.events = t_.log.events();
  trial_.reset();  // teardown counts as overhead
  const auto end = Clock::now();
  r_.protocol = toSeconds(protocol_);
  r_.overhead = toSeconds(end - started_ - protocol_);
  return r_;
}

}  // namespace

Runner::Runner(RunOptions options) : options_(std::move(options)), oracle_(TimerWheel::probe()) {}

DetectionWindow Runner::explain(const Scenario& scenario, int family) const {
  OracleInput in = staticInput(scenario, family);
  const auto t0 = Clock::time_point{} + 1h;  // any origin; reasoning is relative
  // As the runner's timeline: connected (the last segment) when the
  // warm-up starts, the fault and any data at its end.
  in.fault_at = t0;
  in.last_received = t0 - scenario.warmup;
  in.data_sent_at = t0;
  const ScenarioPeer* peer = &scenario.watched();
  if (peer && peer->kind == PeerKind::kExternal && peer->rule) {
    // The kernel's side is read from the program's socket at run time.
    DetectionWindow w = predictAppRule(*peer->rule, in.last_received);
    w.reasoning.push_back(
        "the kernel detector of the program's socket is read at the fault; the earlier of the "
        "two decides.");
    return w;
  }
  return oracle_.predict(in);
}

DetectionWindow Runner::explainByReading(const Scenario& scenario, int family) const {
  TrialRun trial(scenario, family, 1, options_, oracle_);
  return trial.dryRun();
}

std::vector<ScenarioResult> Runner::run(const Scenario& sc) {
  std::vector<ScenarioResult> results;
  const int repeat = options_.repeat.value_or(sc.repeat);
  for (int family : sc.families) {
    ScenarioResult result;
    result.name =
        sc.name +
        (sc.families.size() > 1 || family == AF_INET6 ? " [" + familyName(family) + "]" : "");
    result.file = sc.file.string();
    result.folder = sc.folder;
    result.detector = sc.detectorLabel();
    result.fault = sc.faultLabel();
    result.family = family;
    const auto start = Clock::now();
    try {
      for (int i = 1; i <= repeat; ++i) {
        TrialRun trial(sc, family, i, options_, oracle_);
        result.trials.push_back(trial.run());
        if (options_.pcap_dir)
          result.pcap_files.push_back(pcapPath(*options_.pcap_dir, sc, family, i).string());
      }
      std::vector<Seconds> samples;
      for (const auto& t : result.trials)
        for (const auto& d : t.detections) samples.push_back(d.at);
      result.detection = percentiles(samples);
      if (sc.expect.max_false_positives) {
        QualityMetrics q;
        for (const auto& t : result.trials)
          if (t.quality) {
            q.mistakes += t.quality->mistakes;
            q.observed += t.quality->observed;
            q.suspected += t.quality->suspected;
          }
        q.derive();
        result.quality = q;
      }
      const auto failed = std::find_if(result.trials.begin(), result.trials.end(),
                                       [](const TrialResult& t) { return !t.passed; });
      if (failed == result.trials.end()) {
        result.verdict = ScenarioResult::Verdict::kPass;
      } else {
        const bool error =
            !failed->failures.empty() && failed->failures.front().rfind("error: ", 0) == 0;
        result.verdict = error ? ScenarioResult::Verdict::kError : ScenarioResult::Verdict::kFail;
        result.reason = "trial " + std::to_string(failed->trial) + ": " +
                        (failed->failures.empty() ? "failed" : failed->failures.front());
      }
    } catch (const Skip& skip) {
      result.verdict = ScenarioResult::Verdict::kSkip;
      result.reason = skip.reason;
    }
    result.wall = toSeconds(Clock::now() - start);
    results.push_back(std::move(result));
  }
  return results;
}

}  // namespace deadpeer

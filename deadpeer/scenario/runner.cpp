#include "deadpeer/scenario/runner.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <system_error>

#include "deadpeer/capture/capture.hpp"
#include "deadpeer/error.hpp"
#include "deadpeer/fault/fault.hpp"
#include "deadpeer/judge/deadline.hpp"
#include "deadpeer/judge/judge.hpp"
#include "deadpeer/judge/oracle_input.hpp"
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
        oracle_(oracle) {}

  TrialResult run();
  // Builds, starts the peers and warms up like run(), then reads the
  // expected program's sockets and predicts as if the first fault struck
  // now, without applying it; tears everything down.
  DetectionWindow dryRun();

 private:
  void progress(const std::string& what);
  void build();
  void startPeers();
  void startPeer(PeerRef ref);
  // Starts a program in its host for `ref` and waits until it is ready.
  void launch(PeerRef ref, ExternalPeerSpec spec);
  void applyFault(const ScheduledFault& f);
  // An external peer: reads its connections' sockets just before the
  // fault, for the oracle.
  void readSockets();
  // What the trial saw so far, for the judge.
  TrialRecord record() const;

  const Scenario& sc_;
  int family_;
  int number_;
  const RunOptions& options_;
  const Oracle& oracle_;
  std::unique_ptr<Trial> trial_ = std::make_unique<Trial>();
  Trial& t_ = *trial_;
  TrialResult r_;
  Clock::time_point started_{};
  Clock::time_point fault_at_{};
  Clock::time_point data_sent_at_{};
  Clock::time_point protocol_start_{};
  Clock::time_point fault_start_{};  // when apply() began
  Clock::duration protocol_{};
  std::optional<std::vector<ProgramSocket>> sockets_;  // the expected program's, at the fault
};

void TrialRun::progress(const std::string& what) {
  if (!options_.progress) return;
  options_.progress(sc_.name + " [" + familyName(family_) + "] trial " + std::to_string(number_) +
                    ": " + what);
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
  auto process = std::make_unique<ExternalPeer>(spec, t_.topology->host(spec.host), t_.log);
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
  if (sockets_->empty() && sc_.expect.window == Expectation::Window::kOracle)
    throw Error("read sockets", "peer " + peer->name + " (pid " +
                                    std::to_string(it->second->pid()) + ")",
                "host " + host, ENOENT,
                "the program and its descendants hold no ESTABLISHED TCP connection at the "
                "fault, so the oracle has nothing to judge (window: oracle)");
}

TrialRecord TrialRun::record() const {
  TrialRecord rec;
  rec.family = family_;
  rec.events = t_.log.events();
  rec.captured = t_.capture != nullptr;
  if (t_.capture) {
    rec.packets = t_.capture->packets();
    rec.capture_dropped = t_.capture->dropped();
  }
  rec.protocol_start = protocol_start_;
  rec.fault_start = fault_start_;
  rec.fault_at = fault_at_;
  rec.data_sent_at = data_sent_at_;
  rec.ended = Clock::now();
  for (const auto& f : t_.faults) {
    rec.faults.push_back({f->spec().str(), f->appliedAt(), f->revertedAt()});
    if (f->appliedAt() == fault_at_) rec.fault_apply_latency = f->applyLatency();
  }
  const ScenarioPeer& watched = sc_.watched();
  if (!watched.hosts.empty()) rec.watched_address = t_.topology->address(watched.hosts.front(), family_);
  if (!sc_.expect.rst_from.empty())
    rec.rst_expected_from = t_.topology->address(sc_.expect.rst_from, family_);
  rec.sockets = sockets_;
  return rec;
}

DetectionWindow TrialRun::dryRun() {
  build();
  startPeers();
  progress("warming up");
  protocol_start_ = Clock::now();
  t_.log.waitFor([](const Event&) { return false; }, sc_.warmup, 0);
  readSockets();
  fault_at_ = fault_start_ = Clock::now();
  Anchors anchors;
  DetectionWindow w = predictWindow(sc_, record(), oracle_, anchors);
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
    std::optional<Clock::duration> expected;
    if (!x.deadline && x.observe.count() == 0) {
      Anchors anchors;
      const auto provisional = predictWindow(sc_, record(), oracle_, anchors);
      if (!provisional.never) expected = provisional.latest - fault_at_;
    }
    const Clock::time_point deadline =
        fault_at_ + duration_cast<Clock::duration>(waitAfterFault(x, expected));
    const std::size_t want = expectedConnections(sc_.watched());
    // Say what each number is: the window's end is a prediction, the
    // deadline only when the wait gives up.
    const bool waiting = x.detected && !x.max_false_positives;
    std::string status = waiting ? "waiting for detection (" : "watching (";
    if (waiting && expected)
      status += fmt("window ends %.1f s after the fault, ", toSeconds(*expected).count());
    status += fmt(waiting ? "deadline %.1f s)" : "for %.1f s)",
                  toSeconds(deadline - fault_at_).count());
    progress(status);
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
    r_ = judgeTrial(sc_, record(), oracle_);
    r_.trial = number_;
  } catch (const Skip&) {
    throw;
  } catch (const Error& e) {
    // Interrupted, whatever failed on the way: nothing to judge.
    if (options_.stop.stop_requested()) throw;
    r_.failures.push_back(std::string("error: ") + e.what());
    r_.passed = false;
    r_.errored = true;
  }
  if (options_.keep_detail) r_.events = t_.log.events();
  trial_.reset();  // teardown counts as overhead
  const auto end = Clock::now();
  r_.protocol = toSeconds(protocol_);
  r_.overhead = toSeconds(end - started_ - protocol_);
  return r_;
}

// Where explain() places the fault: any origin, the reasoning is relative.
const Clock::time_point kExplainedFault = Clock::time_point{} + 1h;

}  // namespace

Runner::Runner(RunOptions options) : options_(std::move(options)), oracle_(TimerWheel::probe()) {}

DetectionWindow Runner::explain(const Scenario& scenario, int family) const {
  OracleInput in = oracleInput(scenario, family);
  const auto t0 = kExplainedFault;
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

std::chrono::nanoseconds Runner::protocolTime(const Scenario& scenario) const {
  std::optional<std::chrono::nanoseconds> latest;
  try {
    const DetectionWindow w = explain(scenario, scenario.families.front());
    if (!w.never) latest = w.latest - kExplainedFault;
  } catch (const Error&) {
    // Settings the oracle refuses are reported by the run; wait as for none.
  }
  return deadpeer::protocolTime(scenario, latest);
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
        for (const auto& d : t.detections) samples.push_back(d.at - t.anchor);
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
        result.verdict =
            failed->errored ? ScenarioResult::Verdict::kError : ScenarioResult::Verdict::kFail;
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

#include "deadpeer/scenario/parse/rules.hpp"

#include <re2/re2.h>

#include "deadpeer/scenario/parse/names.hpp"

namespace deadpeer::parse {

using std::chrono::milliseconds;

namespace {

constexpr std::uint32_t kServers = (1u << static_cast<unsigned>(PeerKind::kTcpServer)) |
                                   (1u << static_cast<unsigned>(PeerKind::kHeartbeatServer));
constexpr std::uint32_t kClients = (1u << static_cast<unsigned>(PeerKind::kTcpClient)) |
                                   (1u << static_cast<unsigned>(PeerKind::kHeartbeatClient));
constexpr std::uint32_t kTcp = (1u << static_cast<unsigned>(PeerKind::kTcpServer)) |
                               (1u << static_cast<unsigned>(PeerKind::kTcpClient));
constexpr std::uint32_t kHeartbeat = (1u << static_cast<unsigned>(PeerKind::kHeartbeatServer)) |
                                     (1u << static_cast<unsigned>(PeerKind::kHeartbeatClient));
constexpr std::uint32_t kExternal = 1u << static_cast<unsigned>(PeerKind::kExternal);
constexpr std::uint32_t kTcpClient = 1u << static_cast<unsigned>(PeerKind::kTcpClient);

std::string peerKindNames(std::uint32_t bits) { return namesOf(bits, peerKinds()); }

}  // namespace

const std::vector<Rule<KernelDetectorSettings>>& keepaliveRules() {
  static const std::vector<Rule<KernelDetectorSettings>> rules = {
      {"idle",
       [](Reader& r, const Entry& e, KernelDetectorSettings& k) {
         if (auto v = r.wholeSeconds(e)) {
           k.keepidle = *v;
           r.check(e, [&] { KernelDetectorSettings{.keepidle = v}.validate(); });
         }
       }},
      {"interval",
       [](Reader& r, const Entry& e, KernelDetectorSettings& k) {
         if (auto v = r.wholeSeconds(e)) {
           k.keepintvl = *v;
           r.check(e, [&] { KernelDetectorSettings{.keepintvl = v}.validate(); });
         }
       }},
      {"count",
       [](Reader& r, const Entry& e, KernelDetectorSettings& k) {
         if (auto v = r.integer(e, INT32_MIN, INT32_MAX)) {
           k.keepcnt = static_cast<int>(*v);
           r.check(e, [&] { KernelDetectorSettings{.keepcnt = k.keepcnt}.validate(); });
         }
       }},
  };
  return rules;
}

const std::vector<Rule<HeartbeatDraft>>& heartbeatRules() {
  // Each field is validated alone, on otherwise default settings, so that
  // every bad field is reported at its own place.
  static const std::vector<Rule<HeartbeatDraft>> rules = {
      {"idle",
       [](Reader& r, const Entry& e, HeartbeatDraft& h) {
         if (auto v = r.duration(e)) {
           h.settings.idle = *v;
           r.check(e, [&] { HeartbeatSettings{.idle = *v}.validate(); });
         }
       }},
      {"interval",
       [](Reader& r, const Entry& e, HeartbeatDraft& h) {
         if (auto v = r.duration(e)) {
           h.settings.interval = *v;
           r.check(e, [&] { HeartbeatSettings{.interval = *v}.validate(); });
         }
       }},
      {"count",
       [](Reader& r, const Entry& e, HeartbeatDraft& h) {
         if (auto v = r.integer(e, INT32_MIN, INT32_MAX)) {
           h.settings.count = static_cast<int>(*v);
           r.check(e, [&] { HeartbeatSettings{.count = h.settings.count}.validate(); });
         }
       }},
      {"pong_only",
       [](Reader& r, const Entry& e, HeartbeatDraft& h) {
         if (auto v = r.boolean(e)) h.settings.pong_only = *v;
       }},
      {"pong_delay",
       [](Reader& r, const Entry& e, HeartbeatDraft& h) {
         if (auto v = r.duration(e)) {
           h.settings.pong_delay = *v;
           r.check(e, [&] { HeartbeatSettings{.pong_delay = *v}.validate(); });
         }
       }},
      {"suspect_only",
       [](Reader& r, const Entry& e, HeartbeatDraft& h) {
         if (auto v = r.boolean(e)) {
           h.settings.suspect_only = *v;
           r.check(e, [&] { HeartbeatSettings{.suspect_only = *v}.validate(); });
         }
       }},
  };
  return rules;
}

namespace {

std::string trafficKindNames(std::uint32_t bits) { return namesOf(bits, trafficKinds()); }

}  // namespace

const std::vector<Rule<TrafficDraft>>& trafficRules() {
  using K = TrafficMode::Kind;
  static const std::vector<Rule<TrafficDraft>> rules = {
      {"kind", [](Reader&, const Entry&, TrafficDraft&) {}, kEvery, kEvery},  // read first
      {"interval",
       [](Reader& r, const Entry& e, TrafficDraft& t) {
         if (auto v = r.duration(e)) {
           t.mode.interval = *v;
           TrafficMode one = TrafficMode::requestResponse(*v);
           r.check(e, [&] { one.validate(); });
         }
       },
       bitOf(K::kRequestResponse)},
      {"bytes",
       [](Reader& r, const Entry& e, TrafficDraft& t) {
         if (auto v = r.integer(e, 0, 1ll << 30)) {
           t.mode.bytes = static_cast<std::size_t>(*v);
           TrafficMode one = TrafficMode::dataInFlight(t.mode.bytes);
           r.check(e, [&] { one.validate(); });
         }
       },
       bitOf(K::kRequestResponse) | bitOf(K::kDataInFlight) | bitOf(K::kStopReading)},
  };
  return rules;
}

namespace {

void readTraffic(Reader& r, const Entry& e, PeerDraft& p) {
  if (e.value.IsScalar()) {
    if (auto mode = r.choice(e, "traffic", trafficModes())) p.peer.traffic = *mode;
    return;
  }
  if (!e.value.IsMap()) {
    r.error(e,
            "must be idle, data-in-flight, request-response, stop-reading or a mapping "
            "{kind, interval, bytes}, got " +
                described(e.value));
    return;
  }
  TrafficDraft draft;
  Kinds kinds{std::nullopt, trafficKindNames, "traffic"};
  if (auto kind = findKey(e, "kind")) {
    if (auto mode = r.choice(*kind, "traffic", trafficModes())) {
      draft.mode = *mode;
      kinds.bit = bitOf(mode->kind);
    }
  }
  readMap(r, e, trafficRules(), draft, kinds);
  p.peer.traffic = draft.mode;
}

// validate() also looks argv[0] up in PATH, which is a run-time question
// (a file may be validated on another machine than the one that runs it):
// a program that always exists stands in for the command.
template <class F>
void checkExternal(Reader& r, const Entry& e, F&& set) {
  ExternalPeerSpec spec;
  spec.name = "peer";
  spec.host = "host";
  spec.argv = {"/proc/self/exe"};
  spec.readiness = ExternalPeerSpec::Port{std::nullopt, 1};
  set(spec);
  r.check(e, [&] { spec.validate(); });
}

}  // namespace

const std::vector<Rule<ReadyDraft>>& readyRules() {
  static const std::vector<Rule<ReadyDraft>> rules = {
      {"port",
       [](Reader& r, const Entry& e, ReadyDraft& d) {
         if (auto v = r.integer(e, 1, 65535))
           d.readiness = ExternalPeerSpec::Port{std::nullopt, static_cast<std::uint16_t>(*v)};
       }},
      {"line",
       [](Reader& r, const Entry& e, ReadyDraft& d) {
         if (auto v = r.text(e)) {
           d.readiness = ExternalPeerSpec::LineRegex{*v};
           checkExternal(r, e, [&](ExternalPeerSpec& s) { s.readiness = *d.readiness; });
         }
       }},
      {"fd",
       [](Reader& r, const Entry& e, ReadyDraft& d) {
         if (auto v = r.integer(e, 0, 1023)) {
           d.readiness = ExternalPeerSpec::InheritedFd{static_cast<int>(*v)};
           checkExternal(r, e, [&](ExternalPeerSpec& s) { s.readiness = *d.readiness; });
         }
       }},
  };
  return rules;
}

namespace {

std::optional<std::uint16_t> readPort(Reader& r, const Entry& e) {
  if (auto v = r.integer(e, 1, 65535)) return static_cast<std::uint16_t>(*v);
  return std::nullopt;
}

}  // namespace

const std::vector<Rule<ExternalPeerSpec::SocketLeavesEstablished>>& socketRules() {
  using S = ExternalPeerSpec::SocketLeavesEstablished;
  static const std::vector<Rule<S>> rules = {
      {"local_port", [](Reader& r, const Entry& e, S& s) { s.local_port = readPort(r, e); }},
      {"remote_port", [](Reader& r, const Entry& e, S& s) { s.remote_port = readPort(r, e); }},
      {"remote_address",
       [](Reader& r, const Entry& e, S& s) {
         if (auto v = r.text(e)) r.check(e, [&] { s.remote_address = IpAddress::parse(*v); });
       }},
  };
  return rules;
}

const std::vector<Rule<DetectDraft>>& detectRules() {
  static const std::vector<Rule<DetectDraft>> rules = {
      {"line",
       [](Reader& r, const Entry& e, DetectDraft& d) {
         if (auto v = r.text(e)) {
           d.detection = ExternalPeerSpec::LineRegex{*v};
           checkExternal(r, e, [&](ExternalPeerSpec& s) { s.detection = *d.detection; });
         }
       }},
      {"socket_leaves_established",
       [](Reader& r, const Entry& e, DetectDraft& d) {
         ExternalPeerSpec::SocketLeavesEstablished socket;
         const std::size_t before = r.count();
         readMap(r, e, socketRules(), socket);
         if (r.count() != before) return;
         d.detection = socket;
         checkExternal(r, e, [&](ExternalPeerSpec& s) { s.detection = socket; });
       }},
  };
  return rules;
}

namespace {

// `ready: {port: N}`, `detect: {line: ...}`: a mapping with exactly one of
// its table's keys.
template <class T>
bool readOneOf(Reader& r, const Entry& e, const std::vector<Rule<T>>& rules, T& draft,
               const std::string& forms) {
  if (!e.value.IsMap()) {
    r.error(e, "must be " + forms + ", got " + described(e.value));
    return false;
  }
  const Seen seen = readMap(r, e, rules, draft);
  if (e.value.size() == 0) r.error(e, "must be " + forms + ", got an empty mapping");
  if (seen.size() > 1) r.error(e, "must be one of " + forms + ", not several");
  return seen.size() == 1;
}

}  // namespace

const std::vector<Rule<PeerDraft>>& peerRules() {
  static const std::vector<Rule<PeerDraft>> rules = {
      {"name",
       [](Reader& r, const Entry& e, PeerDraft& p) {
         const auto name = r.text(e);
         if (!name) return;
         // Names go into file names and {port:PEER} placeholders.
         static const re2::RE2 kName("[A-Za-z0-9_-]+");
         if (!re2::RE2::FullMatch(*name, kName))
           r.error(e, "must be letters, digits, - and _, got \"" + *name + "\"");
         else
           p.peer.name = *name;
       },
       kEvery, kEvery},
      {"kind", [](Reader&, const Entry&, PeerDraft&) {}, kEvery, kEvery},  // read first
      {"host",
       [](Reader& r, const Entry& e, PeerDraft& p) {
         if (auto v = r.text(e)) p.host = *v;
       },
       kEvery, kEvery},
      {"port",
       [](Reader& r, const Entry& e, PeerDraft& p) {
         if (auto v = readPort(r, e)) p.peer.port = *v;
       },
       kServers | kExternal, kServers},
      {"process",
       [](Reader& r, const Entry& e, PeerDraft& p) {
         static const std::vector<std::pair<std::string, bool>> modes = {{"in-process", false},
                                                                         {"separate", true}};
         if (auto v = r.choice(e, "process mode", modes)) p.peer.separate_process = *v;
       },
       kServers},
      {"connect",
       [](Reader& r, const Entry& e, PeerDraft& p) {
         if (auto v = r.text(e)) p.peer.connect = *v;
       },
       kClients, kClients},
      {"connections",
       [](Reader& r, const Entry& e, PeerDraft& p) {
         // The peers' own limit (TcpPeer's clients, `deadpeer serve`).
         if (auto v = r.integer(e, 1, kMaxPeerConnections))
           p.peer.connections = static_cast<int>(*v);
       },
       kClients | kServers},
      {"keepalive",
       [](Reader& r, const Entry& e, PeerDraft& p) {
         if (e.value.IsMap()) {
           p.peer.kernel.keepalive = true;
           readMap(r, e, keepaliveRules(), p.peer.kernel);
           return;
         }
         // `on`/`off` are booleans in YAML 1.1 only; editors read YAML 1.2.
         const std::string text = e.value.IsScalar() ? e.value.Scalar() : "";
         const Plain type = e.value.IsScalar() ? plainType(e.value) : Plain::kNull;
         if (type == Plain::kBool || (type == Plain::kString && (text == "on" || text == "off"))) {
           p.peer.kernel.keepalive = text == "on" || text[0] == 't' || text[0] == 'T';
           return;
         }
         r.error(e, "must be on, off, true, false or a mapping {idle, interval, count}, got " +
                        described(e.value));
       },
       kTcp},
      {"user_timeout",
       [](Reader& r, const Entry& e, PeerDraft& p) {
         if (auto v = r.duration(e)) {
           p.peer.kernel.user_timeout = *v;
           r.check(e, [&] { KernelDetectorSettings{.user_timeout = v}.validate(); });
         }
       },
       kTcp},
      {"recverr",
       [](Reader& r, const Entry& e, PeerDraft& p) {
         if (auto v = r.boolean(e)) p.peer.kernel.recverr = *v;
       },
       kTcp},
      {"traffic", readTraffic, kTcpClient},
      {"heartbeat",
       [](Reader& r, const Entry& e, PeerDraft& p) {
         HeartbeatDraft draft{p.peer.heartbeat};
         readMap(r, e, heartbeatRules(), draft);
         p.peer.heartbeat = draft.settings;
       },
       kHeartbeat},
      {"command",
       [](Reader& r, const Entry& e, PeerDraft& p) {
         std::vector<std::string> argv;
         std::vector<SourceMark> marks;
         bool ok = true;
         readList(r, e, [&](const Entry& item) {
           marks.push_back(item.mark);
           auto arg = r.scalar(item);
           if (arg && item.path.ends_with("[0]") && arg->empty()) {
             r.error(item, "the program must not be empty");
             arg.reset();
           }
           ok = ok && arg.has_value();
           if (arg) argv.push_back(*arg);
         });
         if (e.value.IsSequence() && e.value.size() == 0)
           r.error(e, "must name the program and its arguments, got an empty list");
         else if (ok)
           p.peer.command = std::move(argv), p.command_marks = std::move(marks);
       },
       kExternal, kExternal},
      {"ready",
       [](Reader& r, const Entry& e, PeerDraft& p) {
         ReadyDraft draft;
         if (readOneOf(r, e, readyRules(), draft, "{port: N}, {line: REGEX} or {fd: N}") &&
             draft.readiness)
           p.peer.readiness = *draft.readiness;
       },
       kExternal},
      {"detect",
       [](Reader& r, const Entry& e, PeerDraft& p) {
         if (e.value.IsScalar() && e.value.Scalar() == "exit") {
           p.peer.detection = ExternalPeerSpec::Exit{};
           return;
         }
         DetectDraft draft;
         if (readOneOf(r, e, detectRules(), draft,
                       "exit, {line: REGEX} or {socket_leaves_established: {...}}") &&
             draft.detection)
           p.peer.detection = *draft.detection;
       },
       kExternal},
      {"ready_deadline",
       [](Reader& r, const Entry& e, PeerDraft& p) {
         if (auto v = r.duration(e)) {
           p.peer.ready_deadline = *v;
           checkExternal(r, e, [&](ExternalPeerSpec& s) { s.ready_deadline = *v; });
         }
       },
       kExternal},
      {"rule", [](Reader& r, const Entry& e, PeerDraft& p) { readAppRule(r, e, p.peer.rule); },
       kExternal},
  };
  return rules;
}

void readPeer(Reader& r, const Entry& e, Draft& d) {
  PeerDraft p;
  p.path = e.path;
  p.peer.mark = e.mark;
  Kinds kinds{std::nullopt, peerKindNames, "peer"};
  if (auto kind = findKey(e, "kind")) {
    if (auto k = r.choice(*kind, "peer kind", peerKinds())) {
      p.peer.kind = *k;
      p.kind_known = true;
      kinds.bit = bitOf(*k);
    }
  }
  p.seen = readMap(r, e, peerRules(), p, kinds);
  if (p.kind_known && p.peer.kind == PeerKind::kExternal && !p.seen.contains("ready")) {
    if (p.peer.port != 0)
      p.peer.readiness = ExternalPeerSpec::Port{std::nullopt, p.peer.port};
    else if (e.value.IsMap())
      r.error(e.mark, join(e.path, "ready"),
              "is required without a port: say when the program is ready ({port: N}, "
              "{line: REGEX} or {fd: N})");
  }
  d.peers.push_back(std::move(p));
}

}  // namespace deadpeer::parse

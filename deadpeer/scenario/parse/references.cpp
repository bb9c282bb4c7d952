#include "deadpeer/scenario/parse/references.hpp"

#include <algorithm>
#include <map>

#include "deadpeer/limits.hpp"
#include "deadpeer/scenario/parse/names.hpp"
#include "deadpeer/scenario/parse/rules.hpp"
#include "deadpeer/scenario/resources.hpp"

namespace deadpeer::parse {

namespace {

// "h1, h2" for messages; long lists (many-clients) are cut.
std::string nodeList(const TopologySpec& spec) {
  std::vector<std::string_view> names;
  for (const auto& node : spec.nodes)
    if (node.kind != NodeKind::kSwitch) names.push_back(node.name);
  if (names.size() > 6) {
    const std::size_t all = names.size();
    names.resize(3);
    return listed(names, ", ") + ", ... (" + std::to_string(all) + " in all)";
  }
  return listed(names, " and ");
}

// Reports a name that is not a host or router of the topology.
bool checkHostName(Reader& r, const TopologySpec& spec, SourceMark mark, const std::string& path,
                   const std::string& name) {
  const NodeSpec* node = spec.find(name);
  if (node == nullptr) {
    std::vector<std::string_view> known;
    for (const auto& n : spec.nodes)
      if (n.kind != NodeKind::kSwitch) known.push_back(n.name);
    std::string hint = suggestion(name, known);
    if (hint.starts_with("; expected")) hint = "; it has " + nodeList(spec);
    r.error(mark, path, "unknown host \"" + name + "\" in topology " + spec.name + hint);
    return false;
  }
  if (node->kind == NodeKind::kSwitch) {
    r.error(mark, path, "\"" + name + "\" is a switch; only hosts and routers run things");
    return false;
  }
  return true;
}

}  // namespace

std::optional<TopologySpec> topologyOf(Reader& r, Draft& d) {
  Scenario& s = d.scenario;
  const auto shape = std::find_if(topologies().begin(), topologies().end(),
                                  [&](const auto& row) { return row.first == s.topology; });
  if (!d.topology_known || shape == topologies().end()) return std::nullopt;
  const auto clients = d.seen.find("clients");
  const bool takes_clients = shape->second;
  if (takes_clients && clients == d.seen.end()) {
    const auto topology = d.seen.find("topology");
    r.error(topology != d.seen.end() ? topology->second : d.mark, "clients",
            "is required for many-clients: how many client hosts (1..252)");
    return std::nullopt;
  }
  if (!takes_clients && clients != d.seen.end()) {
    r.error(clients->second, "clients", "only topology many-clients takes clients");
    s.clients = 0;
  }
  if (takes_clients && s.clients == 0) return std::nullopt;  // reported
  try {
    return TopologySpec::named(s.topology, s.clients);
  } catch (const Error& e) {
    r.error(d.mark, "topology", e.reason());
    return std::nullopt;
  }
}

namespace {

SourceMark seenOr(const Seen& seen, std::string_view key, SourceMark fallback) {
  const auto found = seen.find(key);
  return found != seen.end() ? found->second : fallback;
}

// Peers keep their order from draft to Scenario::peers.
PeerRef refOf(const Draft& d, const PeerDraft& p) {
  return PeerRef{static_cast<std::size_t>(&p - d.peers.data())};
}

// Whether every peer has a name: otherwise "unknown peer" would only echo
// the problem already reported with the peers.
// An external peer's command, as run will expand and start it: every
// placeholder known and naming a host of the topology or a peer with a
// port, and the program found in PATH (the harness's environment, which
// the program inherits) unless its name is itself a placeholder.
void checkCommands(Reader& r, const Draft& d, const std::optional<TopologySpec>& spec) {
  for (const auto& p : d.peers) {
    if (p.peer.kind != PeerKind::kExternal || p.peer.command.empty() ||
        p.command_marks.size() != p.peer.command.size())
      continue;
    for (std::size_t i = 0; i < p.peer.command.size(); ++i) {
      const std::string& arg = p.peer.command[i];
      const SourceMark mark = p.command_marks[i];
      const std::string path = join(p.path, "command[" + std::to_string(i) + "]");
      for (std::size_t open = arg.find('{'); open != std::string::npos;
           open = arg.find('{', open + 1)) {
        const std::size_t close = arg.find('}', open);
        if (close == std::string::npos) break;  // run copies a lone '{' as it is
        const std::string token = arg.substr(open + 1, close - open - 1);
        const std::size_t colon = token.find(':');
        const std::string key = token.substr(0, colon);
        const std::string value = colon == std::string::npos ? "" : token.substr(colon + 1);
        if (key == "address" || key == "address-bracketed") {
          if (spec) checkHostName(r, *spec, mark, path, value);
        } else if (key == "port") {
          const auto named = std::find_if(d.peers.begin(), d.peers.end(),
                                          [&](const PeerDraft& q) { return q.peer.name == value; });
          if (named == d.peers.end())
            r.error(mark, path, "{port:" + value + "} names no peer");
          else if (named->peer.port == 0)
            r.error(mark, path, "{port:" + value + "}: peer \"" + value + "\" has no port");
        } else if (!(colon == std::string::npos &&
                     (key == "family" || key == "self" || key == "dir" || key == "workdir"))) {
          r.error(mark, path,
                  "unknown placeholder {" + token +
                      "}; expected {address:HOST}, {address-bracketed:HOST}, {port:PEER}, "
                      "{family}, {self}, {dir} or {workdir}");
        }
      }
    }
    const std::string& program = p.peer.command.front();
    if (program.find('{') == std::string::npos && !findInPath(program)) {
      const char* env = std::getenv("PATH");
      r.error(p.command_marks.front(), join(p.path, "command[0]"),
              "\"" + program + "\" " +
                  (program.find('/') != std::string::npos
                       ? std::string("is not an executable file")
                       : "not found in PATH (" + std::string(env ? env : "unset") + ")"));
    }
  }
}

bool peerNamesKnown(const Draft& d) {
  return d.seen.contains("peers") && !d.peers.empty() &&
         std::all_of(d.peers.begin(), d.peers.end(),
                     [](const PeerDraft& p) { return !p.peer.name.empty(); });
}

}  // namespace

void checkPeers(Reader& r, Draft& d, const std::optional<TopologySpec>& spec) {
  std::map<std::string, const PeerDraft*> by_name;
  for (auto& p : d.peers) {
    const SourceMark name_mark = seenOr(p.seen, "name", p.peer.mark);
    if (!p.peer.name.empty()) {
      const auto [first, inserted] = by_name.emplace(p.peer.name, &p);
      if (!inserted)
        r.error(name_mark, join(p.path, "name"),
                "duplicate peer \"" + p.peer.name + "\"; the first is " + first->second->path +
                    " on line " + std::to_string(first->second->peer.mark.line));
    }
    if (!spec || p.host.empty()) continue;
    const SourceMark host_mark = seenOr(p.seen, "host", p.peer.mark);
    const std::string host_path = join(p.path, "host");
    if (p.host == "clients") {
      if (d.scenario.topology != "many-clients") {
        r.error(host_mark, host_path,
                "`clients` (every client host) needs topology many-clients, not " +
                    d.scenario.topology);
      } else if (p.kind_known && !p.peer.isClient()) {
        r.error(host_mark, host_path,
                "only clients run on every client host; a " +
                    std::string(peerKindName(p.peer.kind)) + " needs one host");
      } else {
        for (int i = 1; i <= d.scenario.clients; ++i)
          p.peer.hosts.push_back("c" + std::to_string(i));
      }
    } else if (checkHostName(r, *spec, host_mark, host_path, p.host)) {
      p.peer.hosts = {p.host};
    }
  }

  // Who connects where, and how many connections each server must accept.
  // long long: a many-clients topology multiplies each client's count by
  // its hosts, and a sum of such products overflows an int.
  std::map<const PeerDraft*, long long> opened;
  for (auto& p : d.peers) {
    if (!p.kind_known || !p.peer.isClient() || p.peer.connect.empty() || !peerNamesKnown(d))
      continue;
    const SourceMark mark = seenOr(p.seen, "connect", p.peer.mark);
    const std::string path = join(p.path, "connect");
    const auto target = by_name.find(p.peer.connect);
    if (target == by_name.end()) {
      std::vector<std::string_view> known;
      for (const auto& [name, peer] : by_name)
        if (peer != &p) known.push_back(name);
      r.error(mark, path,
              "unknown peer \"" + p.peer.connect + "\"" + suggestion(p.peer.connect, known));
      continue;
    }
    const PeerDraft& server = *target->second;
    p.peer.server = refOf(d, server);
    if (!server.kind_known) continue;
    const PeerKind wanted =
        p.peer.kind == PeerKind::kTcpClient ? PeerKind::kTcpServer : PeerKind::kHeartbeatServer;
    if (server.peer.kind == PeerKind::kExternal) {
      if (server.peer.port == 0)
        r.error(mark, path, "external peer \"" + server.peer.name + "\" has no port to connect to");
    } else if (server.peer.isClient()) {
      r.error(mark, path,
              "\"" + server.peer.name + "\" is a " + std::string(peerKindName(server.peer.kind)) +
                  ", not a server; connect names a server or an external peer with a port");
    } else if (server.peer.kind != wanted) {
      r.error(mark, path,
              "a " + std::string(peerKindName(p.peer.kind)) + " connects to a " +
                  std::string(peerKindName(wanted)) + " (or an external peer), not to " +
                  std::string(peerKindName(server.peer.kind)) + " \"" + server.peer.name + "\"");
    } else {
      opened[&server] += static_cast<long long>(p.peer.connections) *
                         static_cast<long long>(std::max<std::size_t>(1, p.peer.hosts.size()));
    }
  }
  for (auto& p : d.peers) {
    if (!p.kind_known || !p.peer.isServer()) continue;
    const long long total = opened[&p];
    if (total > kMaxPeerConnections) {
      r.error(seenOr(p.seen, "connections", p.peer.mark), join(p.path, "connections"),
              "its clients open " + std::to_string(total) + " connections to it; a server accepts "
              "at most " + std::to_string(kMaxPeerConnections));
    } else if (!p.seen.contains("connections")) {
      p.peer.connections = std::max(1, static_cast<int>(total));
    } else if (p.peer.connections < total) {
      r.error(seenOr(p.seen, "connections", p.peer.mark), join(p.path, "connections"),
              "accepts " + std::to_string(p.peer.connections) + " but its clients open " +
                  std::to_string(total));
    }
  }

  checkCommands(r, d, spec);

  // Two listeners on one port of one host: the second would fail to bind.
  std::map<std::pair<std::string, int>, const PeerDraft*> ports;
  for (const auto& p : d.peers) {
    if (p.peer.port == 0 || p.peer.hosts.size() != 1) continue;
    const auto [first, inserted] = ports.emplace(std::pair(p.peer.hosts[0], int(p.peer.port)), &p);
    if (!inserted)
      r.error(seenOr(p.seen, "port", p.peer.mark), join(p.path, "port"),
              "port " + std::to_string(p.peer.port) + " on " + p.peer.hosts[0] +
                  " is already taken by peer \"" + first->second->peer.name + "\"");
  }

  // More connections than one process may hold open fails mid-trial with
  // EMFILE; say so now, with the numbers (scenario/resources.hpp).
  std::vector<ScenarioPeer> peers;
  for (const auto& p : d.peers)
    if (p.kind_known) peers.push_back(p.peer);
  const OpenFileLimit limit = openFileLimit();
  for (const DescriptorNeed& need : descriptorsNeeded(peers)) {
    if (limit.hard == 0 || need.total <= limit.hard || peers.empty()) continue;
    const PeerDraft& p = *std::find_if(d.peers.begin(), d.peers.end(), [&](const PeerDraft& x) {
      return x.peer.name == peers[need.peer].name;
    });
    r.error(seenOr(p.seen, "connections", p.peer.mark), join(p.path, "connections"),
            need.process + " would hold " + std::to_string(need.total) + " open files (" +
                std::to_string(need.connections) + " connection ends and " +
                std::to_string(need.total - need.connections) +
                " of its own), above this machine's hard limit of " + std::to_string(limit.hard) +
                " (ulimit -Hn); " +
                (need.process == "the harness"
                     ? "run the server with `process: separate`, use fewer connections, or "
                       "raise the hard limit"
                     : "use fewer connections or raise the hard limit"));
  }
}

void checkFaults(Reader& r, Draft& d, const std::optional<TopologySpec>& spec) {
  for (auto& f : d.faults) {
    FaultSpec& fault = f.fault.spec;
    const bool process = f.kind_known && faultKindInfo(fault.kind).takes(FaultKey::kProcess);
    if (process && !f.fault.process_peer.empty()) {
      const SourceMark mark = seenOr(f.seen, "process", f.fault.mark);
      const std::string path = join(f.path, "process");
      const auto peer = std::find_if(d.peers.begin(), d.peers.end(), [&](const PeerDraft& p) {
        return p.peer.name == f.fault.process_peer;
      });
      if (peer != d.peers.end()) f.fault.process = refOf(d, *peer);
      if (peer == d.peers.end()) {
        std::vector<std::string_view> known;
        for (const auto& p : d.peers) known.push_back(p.peer.name);
        if (peerNamesKnown(d))
          r.error(mark, path,
                  "unknown peer \"" + f.fault.process_peer + "\"" +
                      suggestion(f.fault.process_peer, known));
      } else if (peer->kind_known && peer->peer.kind != PeerKind::kExternal &&
          !peer->peer.separate_process) {
        // An in-process peer shares the harness's process: killing or
        // freezing it would hit the harness itself.
        r.error(mark, path,
                "peer \"" + peer->peer.name +
                    "\" runs inside the harness; a process fault needs an external "
                    "peer or a server with `process: separate`");
      } else if (peer->peer.hosts.size() == 1) {
        if (fault.host.empty()) {
          fault.host = peer->peer.hosts[0];
        } else if (fault.host != peer->peer.hosts[0]) {
          r.error(seenOr(f.seen, "host", f.fault.mark), join(f.path, "host"),
                  "peer \"" + peer->peer.name + "\" runs on " + peer->peer.hosts[0] + ", not " +
                      fault.host);
        }
      }
    }
    if (spec) {
      if (f.seen.contains("host") && !fault.host.empty() && !process)
        checkHostName(r, *spec, seenOr(f.seen, "host", f.fault.mark), join(f.path, "host"),
                      fault.host);
      if (!fault.target.empty())
        checkHostName(r, *spec, seenOr(f.seen, "target", f.fault.mark), join(f.path, "target"),
                      fault.target);
      if (!fault.link.empty() && spec->find(fault.host) != nullptr) {
        std::vector<std::string_view> links;
        for (const auto& wire : spec->wires)
          for (const EndSpec* end : {&wire.a, &wire.b})
            if (end->node == fault.host) links.push_back(end->link);
        if (std::find(links.begin(), links.end(), fault.link) == links.end())
          r.error(seenOr(f.seen, "link", f.fault.mark), join(f.path, "link"),
                  "host " + fault.host + " has no link \"" + fault.link + "\"; it has " +
                      listed(links, " and "));
      }
    }
    // validate() reports one problem; on a fault that already has some, it
    // would only repeat them.
    if (!f.kind_known || r.count() != f.diagnostics_before) continue;
    FaultSpec copy = fault;
    if (process) copy.pid = 1;  // the process exists only at run time
    try {
      copy.validate();
    } catch (const FaultFieldError& e) {
      const std::string& field = e.field();
      r.error(seenOr(f.seen, field, f.fault.mark), field.empty() ? f.path : join(f.path, field),
              e.reason());
    }
  }
}

void checkExpect(Reader& r, Draft& d, const std::optional<TopologySpec>& spec) {
  ExpectDraft& x = d.expect;
  Expectation& expect = x.expect;
  if (spec && !expect.rst_from.empty())
    checkHostName(r, *spec, seenOr(x.seen, "rst_from", expect.mark), "expect.rst_from",
                  expect.rst_from);
  const auto watched = std::find_if(d.peers.begin(), d.peers.end(),
                                    [&](const PeerDraft& p) { return p.peer.name == expect.peer; });
  if (watched != d.peers.end()) {
    expect.watched = refOf(d, *watched);
  } else if (!expect.peer.empty() && peerNamesKnown(d)) {
    std::vector<std::string_view> known;
    for (const auto& p : d.peers) known.push_back(p.peer.name);
    r.error(seenOr(x.seen, "peer", expect.mark), "expect.peer",
            "unknown peer \"" + expect.peer + "\"" + suggestion(expect.peer, known));
  }
  if (x.seen.contains("detected") && !expect.detected && !x.seen.contains("deadline"))
    r.error(expect.mark, "expect.deadline",
            "is required with detected: false: how long to wait for the detection that must not "
            "come");
  if (expect.window == Expectation::Window::kExplicit && x.window.contains("earliest") &&
      x.window.contains("latest") && expect.earliest > expect.latest)
    r.error(seenOr(x.seen, "window", expect.mark), "expect.window",
            "earliest " + durationText(expect.earliest) + " is after latest " +
                durationText(expect.latest));
}

void checkHosts(Reader& r, Draft& d, const std::optional<TopologySpec>& spec) {
  for (auto& h : d.hosts) {
    if (spec) checkHostName(r, *spec, h.mark, h.path, h.name);
    d.scenario.hosts[h.name] = h.settings;
  }
}

void checkTabs(Reader& r, std::string_view yaml) {
  int line = 1;
  for (std::size_t start = 0; start < yaml.size(); ++line) {
    std::size_t end = yaml.find('\n', start);
    if (end == std::string_view::npos) end = yaml.size();
    const std::string_view text = yaml.substr(start, end - start);
    const std::size_t indent = text.find_first_not_of(" \t");
    const std::size_t tab = text.substr(0, indent).find('\t');
    if (tab != std::string_view::npos && indent != std::string_view::npos)
      r.error({line, static_cast<int>(tab) + 1}, "",
              "tab in indentation: YAML indents with spaces only");
    start = end + 1;
  }
}

}  // namespace deadpeer::parse

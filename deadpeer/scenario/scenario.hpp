// scenario: a scenario file as data, and its validation.
//
// A scenario is a YAML file (format: scenarios/README.md, JSON Schema:
// scenarios/schema.json) naming a topology, peers with their detector
// settings and traffic, a fault schedule and the expectations. parse*()
// reads it with yaml-cpp and validates everything it can without touching
// the kernel: every field's type and range, names that must refer to hosts of
// the topology or to other peers, fault kinds and their parameters
// (FaultSpec::validate), detector settings (KernelDetectorSettings,
// HeartbeatSettings, TrafficMode validate()). It collects *every* problem,
// each with file:line:col and the field's path, and throws one
// ScenarioError holding them all. Nothing is built by parsing.
//
// Threading: plain data and pure functions.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "deadpeer/fault/fault.hpp"
#include "deadpeer/oracle/app_rule.hpp"
#include "deadpeer/peer/event.hpp"
#include "deadpeer/peer/external.hpp"
#include "deadpeer/peer/heartbeat.hpp"
#include "deadpeer/peer/tcp_peer.hpp"

namespace deadpeer {

// 1-based line and column in the file; 0 when unknown.
struct SourceMark {
  int line = 0;
  int column = 0;
};

struct Diagnostic {
  std::filesystem::path file;
  SourceMark mark;
  std::string field;    // "peers[1].keepalive.idle"
  std::string message;  // "must be between 1 s and 32767 s, got 0 s"
  // "scenarios/crash/x.yaml:12:11: peers[1].keepalive.idle: must be ..."
  std::string str() const;
};

// A scenario file that is not valid. what() lists every diagnostic, one per
// line. Programs exit with code 2 on it.
class ScenarioError : public std::runtime_error {
 public:
  explicit ScenarioError(std::vector<Diagnostic> diagnostics);
  const std::vector<Diagnostic>& diagnostics() const noexcept { return diagnostics_; }

 private:
  std::vector<Diagnostic> diagnostics_;
};

// A peer of the scenario: its place in Scenario::peers. The parser resolves
// every name that refers to a peer once (expect.peer, a client's connect, a
// process fault's process); code above it follows the handle and never looks
// a name up.
struct PeerRef {
  std::size_t index = 0;
  bool operator==(const PeerRef&) const = default;
};

enum class PeerKind { kTcpServer, kTcpClient, kHeartbeatServer, kHeartbeatClient, kExternal };
std::string_view peerKindName(PeerKind kind) noexcept;  // "tcp-server", ...

struct ScenarioPeer {
  std::string name;
  PeerKind kind = PeerKind::kTcpClient;
  // The hosts it runs in: one, or every client host of a many-clients
  // topology (written `host: clients`).
  std::vector<std::string> hosts;
  std::uint16_t port = 0;  // servers: listen port; external: its port, if any
  std::string connect;     // clients: the peer they connect to, as written
  std::optional<PeerRef> server;  // clients: that peer
  int connections = 1;     // clients: per host; servers: how many to accept in all
  KernelDetectorSettings kernel;  // tcp-*
  HeartbeatSettings heartbeat;    // heartbeat-*
  TrafficMode traffic;            // tcp-client
  // Servers: run as a child process (the deadpeer binary's `serve`), so
  // process faults can kill or freeze it.
  bool separate_process = false;
  // External: argv with placeholders unexpanded: {address:HOST},
  // {address-bracketed:HOST}, {port:PEER}, {family} (4 or 6), {self},
  // {dir} (the scenario file's folder), {workdir} (a directory of the
  // trial's own, removed with it).
  std::vector<std::string> command;
  ExternalPeerSpec::Readiness readiness = ExternalPeerSpec::Port{};
  ExternalPeerSpec::Detection detection = ExternalPeerSpec::Exit{};
  std::chrono::milliseconds ready_deadline{5000};
  // External: the program's own liveness rule (`rule:`), which the oracle
  // predicts alongside the kernel detector read from its socket.
  std::optional<AppRule> rule;
  SourceMark mark;

  bool isServer() const noexcept {
    return kind == PeerKind::kTcpServer || kind == PeerKind::kHeartbeatServer;
  }
  bool isClient() const noexcept {
    return kind == PeerKind::kTcpClient || kind == PeerKind::kHeartbeatClient;
  }
};

struct ScheduledFault {
  FaultSpec spec;  // host, target, link, direction, backend, loss, duration, ...
  std::chrono::milliseconds at{0};  // after the warm-up ends
  // `at: setup`: applied once the topology is built, before any peer
  // starts (a firewall that tracks the flow from its SYN).
  bool at_setup = false;
  std::string process_peer;         // process kinds: the peer whose process it hits, as written
  std::optional<PeerRef> process;   // process kinds: that peer
  SourceMark mark;
};

struct Expectation {
  enum class Window { kOracle, kExplicit, kNone };
  enum class Probes { kNone, kOracle, kExplicit };

  std::string peer;  // whose detection (every connection of it), as written
  PeerRef watched;   // that peer
  bool detected = true;
  std::optional<Detector> detector;
  std::optional<int> error;  // errno; 0 = none (FIN)
  Window window = Window::kOracle;
  std::chrono::milliseconds earliest{0};  // kExplicit: after the (first) fault
  std::chrono::milliseconds latest{0};
  Probes probes = Probes::kNone;
  int probe_count = 0;  // kExplicit
  // How long to wait after the fault. Unset: the oracle's latest + 2 s.
  // Required when not detected is expected.
  std::optional<std::chrono::milliseconds> deadline;
  // The connection stays ESTABLISHED in the kernel after the report (IP_RECVERR).
  bool survives = false;
  // The wire: the host whose address sent the first RST after the fault,
  // and a substring of an ICMP error seen after it ("host unreachable").
  std::string rst_from;
  std::string icmp;
  // Live peers: at most this many wrong suspicions per trial.
  std::optional<int> max_false_positives;
  // Live peers, per trial: query accuracy P_A at least this (0..1), and the
  // mean time between wrong suspicions T_MR at least this (a trial with
  // no mistake meets it). REFERENCE.md section 7.
  std::optional<double> min_accuracy;
  std::optional<std::chrono::milliseconds> min_mistake_recurrence;
  // Live peers: how long the run observes them, from the first fault.
  std::chrono::milliseconds observe{0};
  SourceMark mark;
};

struct HostSettings {
  HostTcpSettings tcp;
  std::map<std::string, std::string> sysctls;  // net.* keys only
};

struct Scenario {
  std::filesystem::path file;
  std::string name;    // "crash/keepalive-idle": folder/stem
  std::string folder;  // "crash"
  std::string description;
  std::string topology = "switched";  // two-hosts | routed | switched | proxied | many-clients
  int clients = 0;                    // many-clients
  std::vector<int> families{AF_INET};
  int repeat = 1;
  bool bench = false;
  std::map<std::string, HostSettings> hosts;
  std::vector<ScenarioPeer> peers;
  std::chrono::milliseconds warmup{500};
  std::vector<ScheduledFault> faults;
  Expectation expect;

  const ScenarioPeer& at(PeerRef ref) const { return peers.at(ref.index); }
  // The peer whose detection the expectation is about.
  const ScenarioPeer& watched() const { return at(expect.watched); }
  // By name, for tests and tools; nullptr when there is none.
  const ScenarioPeer* peer(std::string_view name) const noexcept;
  // The detector the expectation is about: "keepalive", "user-timeout",
  // "retransmission", "heartbeat", "external", "none". Used as a label.
  std::string detectorLabel() const;
  // The first fault's kind name, "none" without faults.
  std::string faultLabel() const;
};

// Reads (readScenarioText: a regular file of at most 1 MiB) and validates;
// throws ScenarioError with every problem, including a file that cannot be
// read.
Scenario parseScenarioFile(const std::filesystem::path& file);
// `file` names the text in diagnostics and gives the name/folder.
Scenario parseScenario(std::string_view yaml, const std::filesystem::path& file);

// The scenario files under the given files and directories
// (expandScenarioPaths in scenario/files.hpp: *.yaml and *.yml, recursively),
// sorted; throws Error for the first bad path. Programs that must report
// every bad path call expandScenarioPaths.
std::vector<std::filesystem::path> findScenarioFiles(const std::vector<std::filesystem::path>& paths);

// The longest duration a scenario file may give anywhere. A file that
// warms up for 999999999m would hang a run; the longest setting the kernel
// takes (TCP_KEEPIDLE 32767 s) is about 9 hours.
inline constexpr std::chrono::milliseconds kMaxDuration = std::chrono::hours(24);

// "250ms", "2s", "1.5s", "1m": the duration syntax of scenario files.
// nullopt when `text` is not one, or is longer than kMaxDuration. Overflow-
// safe for any number of digits.
std::optional<std::chrono::milliseconds> parseDuration(std::string_view text);
// Whether `text` has the syntax of a duration, whatever its size.
bool isDurationSyntax(std::string_view text);

// The keys each mapping of the format accepts, by where the mapping sits:
// "" is the top level, then "hosts.*", "hosts.*.tcp", "peers[]",
// "peers[].keepalive", "peers[].heartbeat", "peers[].traffic",
// "peers[].ready", "peers[].detect", "peers[].detect.socket_leaves_established",
// "peers[].rule",
// "faults[]", "expect", "expect.window", "expect.false_positives".
// scenarios/schema.json must list the same keys; a test compares them.
const std::map<std::string, std::vector<std::string>>& scenarioKeys();
// scenarioKeys().at(""): the keys a scenario file may have at its top level.
std::vector<std::string> scenarioTopLevelKeys();

}  // namespace deadpeer

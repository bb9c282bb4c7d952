// deadpeer: the command-line front end. Only programs print; the harness
// library reports errors as deadpeer::Error, and this file turns them into
// messages and exit codes: 0 ok, 1 failed, 2 bad usage or a bad scenario
// file, 4 every scenario skipped (a missing kernel feature; ctest's
// SKIP_RETURN_CODE).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "deadpeer/cli/serve.hpp"
#include "deadpeer/error.hpp"
#include "deadpeer/fault/capabilities.hpp"
#include "deadpeer/fault/fault.hpp"
#include "deadpeer/limits.hpp"
#include "deadpeer/privilege.hpp"
#include "deadpeer/report/report.hpp"
#include "deadpeer/scenario/runner.hpp"
#include "deadpeer/scenario/scenario.hpp"
#include "deadpeer/topology/reach.hpp"
#include "deadpeer/topology/topology.hpp"

namespace {

using namespace deadpeer;
using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

struct Pair {
  const char* from;
  const char* to;
};

// Builds each standard topology, proves end-to-end reachability over IPv4
// and IPv6 with a TCP handshake, tears it down, and reports the timings.
int topologies(int clients) {
  struct Row {
    TopologySpec spec;
    Pair pair;
  };
  std::vector<Row> rows;
  rows.push_back({TopologySpec::twoHosts(), {"h1", "h2"}});
  rows.push_back({TopologySpec::routed(), {"h1", "h2"}});
  rows.push_back({TopologySpec::switched(), {"h1", "h2"}});
  rows.push_back({TopologySpec::manyClients(clients), {"c1", "server"}});

  std::printf("%-14s %5s %5s  %9s  %-22s %11s %11s  %11s\n", "topology", "nodes", "wires",
              "build ms", "path", "TCP v4 ms", "TCP v6 ms", "teardown ms");
  for (auto& row : rows) {
    const std::size_t nodes = row.spec.nodes.size();
    const std::size_t wires = row.spec.wires.size();
    const std::string name = row.spec.name;
    const auto t0 = Clock::now();
    auto topo = std::make_unique<Topology>(std::move(row.spec));
    const double build = msSince(t0);
    const Host& from = topo->host(row.pair.from);
    const Host& to = topo->host(row.pair.to);
    double connect[2];
    int i = 0;
    for (int family : {AF_INET, AF_INET6}) {
      const auto took = tcpConnect(from, to, topo->address(row.pair.to, family), 7,
                                   std::chrono::milliseconds(2000));
      connect[i++] = std::chrono::duration<double, std::milli>(took).count();
    }
    const auto t1 = Clock::now();
    topo.reset();
    const double teardown = msSince(t1);
    const std::string path = std::string(row.pair.from) + " -> " + row.pair.to;
    std::printf("%-14s %5zu %5zu  %9.2f  %-22s %11.3f %11.3f  %11.2f\n", name.c_str(), nodes, wires,
                build, path.c_str(), connect[0], connect[1], teardown);
  }
  return 0;
}

// What this kernel can do, probed for real in a scratch namespace.
int features() {
  std::printf("%-28s %-10s %s\n", "feature", "here", "needed by");
  int missing = 0;
  for (const auto& f : probeKernelFeatures()) {
    std::printf("%-28s %-10s %s\n", f.name.c_str(), f.available ? "available" : "MISSING",
                f.needed_by.c_str());
    missing += f.available ? 0 : 1;
  }
  std::printf("%d missing; faults that need them are refused as unsupported\n", missing);
  return 0;
}

// The table of fault kinds, and whether this kernel can inject each.
int faults() {
  std::printf("%-16s %-10s %-58s %s\n", "kind", "here", "layer", "models");
  for (const auto& k : faultKinds()) {
    FaultSpec spec;
    spec.kind = k.kind;
    const std::string why = unsupportedReason(spec);
    std::printf("%-16s %-10s %-58s %s\n", std::string(k.name).c_str(), why.empty() ? "yes" : "no",
                std::string(k.layer).c_str(), std::string(k.models).c_str());
  }
  return 0;
}

void usage(std::FILE* out) {
  std::fprintf(
      out,
      "usage: deadpeer COMMAND ...\n"
      "  run FILE|DIR... [--repeat N] [--jobs N] [--json FILE] [--html FILE] [--junit FILE]\n"
      "                [--pcap DIR] [--quiet]\n"
      "               run scenarios against the real kernel, judge each against the oracle\n"
      "               and print one row per scenario\n"
      "  validate FILE|DIR...   check scenario files without running them\n"
      "  list [FILE|DIR...] [--ctest]   list scenarios (default: scenarios/); --ctest prints\n"
      "               ctest registrations\n"
      "  explain FILE [--family ipv4|ipv6]   the oracle's reasoning, without running\n"
      "  serve tcp|heartbeat ...   a built-in server in the current namespace\n"
      "  topologies [--clients N]   build the standard topologies and time them\n"
      "  features     probe what this kernel can do (qdiscs, tc actions, nftables)\n"
      "  faults       list the fault kinds, their kernel layer, and which work here\n");
}

std::string arg(std::string_view s) { return std::string(s); }

// Bad usage: a message and exit code 2.
struct Usage {
  std::string message;
};

std::vector<std::filesystem::path> scenarioPaths(const std::vector<std::string>& given) {
  std::vector<std::filesystem::path> paths(given.begin(), given.end());
  if (paths.empty()) paths.push_back("scenarios");
  return findScenarioFiles(paths);
}

// Parses every file, printing each bad one's diagnostics; nullopt if any
// was bad.
std::optional<std::vector<Scenario>> parseAll(const std::vector<std::filesystem::path>& files) {
  std::vector<Scenario> scenarios;
  bool bad = false;
  for (const auto& f : files) {
    try {
      scenarios.push_back(parseScenarioFile(f));
    } catch (const ScenarioError& e) {
      for (const auto& d : e.diagnostics()) std::fprintf(stderr, "%s\n", d.str().c_str());
      bad = true;
    }
  }
  if (bad) return std::nullopt;
  return scenarios;
}

int validate(const std::vector<std::string>& given) {
  if (given.empty()) throw Usage{"validate needs at least one file or directory"};
  const auto files = scenarioPaths(given);
  int bad = 0;
  for (const auto& f : files) {
    try {
      parseScenarioFile(f);
      std::printf("ok      %s\n", f.c_str());
    } catch (const ScenarioError& e) {
      ++bad;
      std::printf("invalid %s\n", f.c_str());
      for (const auto& d : e.diagnostics()) std::fprintf(stderr, "%s\n", d.str().c_str());
    }
  }
  std::printf("%zu file(s), %d invalid\n", files.size(), bad);
  return bad ? 2 : 0;
}

std::string seconds(std::chrono::nanoseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f s", std::chrono::duration<double>(d).count());
  return buf;
}

// How long a scenario waits on the protocol, per trial: warm-up, the fault
// schedule and the expectation's deadline (or the oracle's latest + grace).
std::chrono::milliseconds protocolTime(const Scenario& sc, const Runner& runner) {
  using std::chrono::milliseconds;
  milliseconds last_fault{0};
  for (const auto& f : sc.faults) last_fault = std::max(last_fault, f.at);
  milliseconds wait{0};
  if (sc.expect.deadline) {
    wait = *sc.expect.deadline;
  } else if (sc.expect.observe.count() > 0) {
    wait = sc.expect.observe;
  } else if (sc.expect.window == Expectation::Window::kExplicit) {
    wait = sc.expect.latest + milliseconds(2000);
  } else {
    try {
      const auto w = runner.explain(sc, sc.families.front());
      wait = w.never ? milliseconds(30'000)
                     : std::chrono::duration_cast<milliseconds>(w.latest - w.anchor) +
                           milliseconds(2000);
    } catch (const Error&) {
      wait = milliseconds(30'000);
    }
  }
  return sc.warmup + last_fault + wait;
}

constexpr std::chrono::seconds kLongScenario{30};

std::string cmakeQuote(const std::string& s) { return "[==[" + s + "]==]"; }

int list(const std::vector<std::string>& given, bool ctest) {
  const auto files = scenarioPaths(given);
  Runner runner;
  if (!ctest)
    std::printf("%-44s %-10s %-16s %-14s %-11s %6s %9s\n", "scenario", "folder", "detector",
                "fault", "families", "repeat", "protocol");
  for (const auto& f : files) {
    std::optional<Scenario> sc;
    std::string problem;
    try {
      sc = parseScenarioFile(f);
    } catch (const ScenarioError& e) {
      problem = e.diagnostics().empty() ? e.what() : e.diagnostics().front().str();
    }
    if (ctest) {
      // A bad file still becomes a test, which fails with its diagnostics.
      const std::filesystem::path abs = std::filesystem::absolute(f);
      const std::string name =
          sc ? sc->name : abs.parent_path().filename().string() + "/" + abs.stem().string();
      std::string labels = "scenario";
      double timeout = 120;
      if (sc) {
        labels += ";" + sc->folder + ";" + sc->detectorLabel();
        const auto per_trial = protocolTime(*sc, runner);
        if (per_trial > kLongScenario) labels += ";long";
        timeout = 60 + std::chrono::duration<double>(per_trial).count() * sc->repeat *
                           static_cast<double>(sc->families.size()) * 1.5;
      }
      std::printf("add_test(%s %s run %s)\n", cmakeQuote("scenario:" + name).c_str(),
                  cmakeQuote(std::filesystem::read_symlink("/proc/self/exe").string()).c_str(),
                  cmakeQuote(abs.string()).c_str());
      std::printf("set_tests_properties(%s PROPERTIES LABELS %s TIMEOUT %.0f SKIP_RETURN_CODE 4)\n",
                  cmakeQuote("scenario:" + name).c_str(), cmakeQuote(labels).c_str(), timeout);
      continue;
    }
    if (!sc) {
      std::printf("%-44s invalid: %s\n", f.c_str(), problem.c_str());
      continue;
    }
    std::string families;
    for (int fam : sc->families)
      families += std::string(families.empty() ? "" : ",") + (fam == AF_INET6 ? "ipv6" : "ipv4");
    std::printf("%-44s %-10s %-16s %-14s %-11s %6d %9s\n", sc->name.c_str(), sc->folder.c_str(),
                sc->detectorLabel().c_str(), sc->faultLabel().c_str(), families.c_str(), sc->repeat,
                seconds(protocolTime(*sc, runner)).c_str());
  }
  return 0;
}

int explain(const std::vector<std::string>& given, std::optional<int> family) {
  if (given.size() != 1) throw Usage{"explain needs exactly one scenario file"};
  const auto parsed = parseAll({given.front()});
  if (!parsed) return 2;
  const Scenario& sc = parsed->front();
  Runner runner;
  std::printf("%s: %s\n", sc.name.c_str(), sc.description.c_str());
  std::printf("timer wheel: HZ=%d, read from the running kernel\n", TimerWheel::probe().hz());
  for (int fam : sc.families) {
    if (family && fam != *family) continue;
    std::printf("\n[%s]\n", fam == AF_INET6 ? "ipv6" : "ipv4");
    try {
      const ScenarioPeer* expected = sc.peer(sc.expect.peer);
      const bool program = expected && expected->kind == PeerKind::kExternal;
      if (program)
        std::printf("  %s is a program: starting the scenario's peers to read its sockets at "
                    "the end of the warm-up (no fault is applied)\n",
                    expected->name.c_str());
      const DetectionWindow w =
          program ? runner.explainByReading(sc, fam) : runner.explain(sc, fam);
      for (const auto& line : w.reasoning) std::printf("  %s\n", line.c_str());
      if (!w.never) {
        const auto tol = packetdrillTolerance(
            std::chrono::duration_cast<std::chrono::microseconds>(w.latest - w.anchor));
        std::printf("  window width %s; packetdrill's default tolerance for this interval is %s\n",
                    seconds(w.width()).c_str(), seconds(tol).c_str());
      }
      if (sc.expect.window == Expectation::Window::kExplicit)
        std::printf("  the scenario sets its own window: %s to %s after the fault\n",
                    seconds(sc.expect.earliest).c_str(), seconds(sc.expect.latest).c_str());
    } catch (const Error& e) {
      const ScenarioPeer* expected = sc.peer(sc.expect.peer);
      if (expected && expected->kind == PeerKind::kExternal) {
        std::printf("  could not read the program's sockets: %s\n", e.what());
        return 1;
      }
      // A setting the kernel would refuse: say so as the kernel would.
      std::printf("  the kernel refuses this scenario's settings: %s\n", e.what());
      return 2;
    }
  }
  return 0;
}

// Live progress: one line per running scenario, redrawn with the elapsed
// time when stderr is a terminal, printed once per phase otherwise.
class Progress {
 public:
  explicit Progress(bool quiet) : quiet_(quiet), tty_(::isatty(STDERR_FILENO) == 1) {
    if (tty_ && !quiet_) ticker_ = std::thread([this] { tick(); });
  }
  ~Progress() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    if (ticker_.joinable()) ticker_.join();
    if (tty_ && !quiet_) std::fprintf(stderr, "\r\033[K");
  }
  void update(const std::string& line) {
    if (quiet_) return;
    std::lock_guard lock(mutex_);
    // The clock restarts with each scenario trial (the text before ':').
    if (line_.empty() || prefix(line) != prefix(line_)) started_ = Clock::now();
    line_ = line;
    if (!tty_) std::fprintf(stderr, "%s\n", line.c_str());
  }

 private:
  static std::string prefix(const std::string& line) { return line.substr(0, line.find(':')); }
  void tick() {
    std::unique_lock lock(mutex_);
    // Bounded by the owner: the destructor sets stop_.
    while (!stop_) {
      if (!line_.empty())
        std::fprintf(stderr, "\r\033[K%s  %.1f s", line_.c_str(),
                     std::chrono::duration<double>(Clock::now() - started_).count());
      wake_.wait_for(lock, std::chrono::milliseconds(200));
    }
  }
  bool quiet_;
  bool tty_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::string line_;
  Clock::time_point started_{};
  std::thread ticker_;
};

struct RunArgs {
  std::vector<std::string> paths;
  RunOptions options;
  int jobs = 1;
  std::optional<std::string> json, html, junit;
  bool quiet = false;
};

int run(const RunArgs& a) {
  if (a.paths.empty()) throw Usage{"run needs at least one scenario file or directory"};
  const auto parsed = parseAll(scenarioPaths(a.paths));
  if (!parsed) return 2;
  if (a.options.pcap_dir) std::filesystem::create_directories(*a.options.pcap_dir);
  std::optional<Progress> progress(std::in_place, a.quiet);
  RunOptions options = a.options;
  options.progress = [&](const std::string& line) { progress->update(line); };
  // Scenarios run on `jobs` threads; each trial owns its namespaces, so
  // they do not meet. Results keep the files' order.
  std::vector<std::vector<ScenarioResult>> slots(parsed->size());
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    Runner runner(options);
    for (std::size_t i = next++; i < parsed->size(); i = next++)
      slots[i] = runner.run((*parsed)[i]);
  };
  std::vector<std::thread> threads;
  const int jobs = std::max(1, std::min<int>(a.jobs, static_cast<int>(parsed->size())));
  for (int j = 1; j < jobs; ++j) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  std::vector<ScenarioResult> results;
  for (auto& s : slots)
    for (auto& r : s) results.push_back(std::move(r));
  progress.reset();  // the table replaces the progress line
  std::printf("%s", resultTable(results).c_str());
  if (a.json) writeJson(results, *a.json);
  if (a.html) writeHtml(results, *a.html);
  if (a.junit) writeJunit(results, *a.junit);
  bool failed = false, all_skipped = !results.empty();
  for (const auto& r : results) {
    failed = failed || r.verdict == ScenarioResult::Verdict::kFail ||
             r.verdict == ScenarioResult::Verdict::kError;
    all_skipped = all_skipped && r.verdict == ScenarioResult::Verdict::kSkip;
  }
  if (failed) return 1;
  return all_skipped ? 4 : 0;
}

int familyArg(std::string_view s) {
  if (s == "ipv4") return AF_INET;
  if (s == "ipv6") return AF_INET6;
  throw Usage{"--family must be ipv4 or ipv6, not '" + arg(s) + "'"};
}

int intArg(std::string_view flag, std::string_view s, int low, int high) {
  try {
    std::size_t used = 0;
    const int v = std::stoi(arg(s), &used);
    if (used == s.size() && v >= low && v <= high) return v;
  } catch (const std::exception&) {
  }
  throw Usage{arg(flag) + " must be a number between " + std::to_string(low) + " and " +
              std::to_string(high) + ", not '" + arg(s) + "'"};
}

int dispatch(const std::vector<std::string_view>& args) {
  const std::string_view cmd = args[0];
  auto value = [&](std::size_t& i) {
    if (i + 1 >= args.size()) throw Usage{arg(args[i]) + " needs a value"};
    return args[++i];
  };
  if (cmd == "run") {
    RunArgs a;
    for (std::size_t i = 1; i < args.size(); ++i) {
      const auto s = args[i];
      if (s == "--repeat")
        a.options.repeat = intArg(s, value(i), 1, 1000);
      else if (s == "--jobs" || s == "-j")
        a.jobs = intArg(s, value(i), 1, 64);
      else if (s == "--json")
        a.json = arg(value(i));
      else if (s == "--html")
        a.html = arg(value(i));
      else if (s == "--junit")
        a.junit = arg(value(i));
      else if (s == "--pcap")
        a.options.pcap_dir = arg(value(i));
      else if (s == "--quiet" || s == "-q")
        a.quiet = true;
      else if (!s.empty() && s[0] == '-')
        throw Usage{"run: unknown option '" + arg(s) + "'"};
      else
        a.paths.push_back(arg(s));
    }
    a.options.self = std::filesystem::read_symlink("/proc/self/exe");
    return run(a);
  }
  std::vector<std::string> paths;
  bool ctest = false;
  std::optional<int> family;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const auto s = args[i];
    if (cmd == "list" && s == "--ctest")
      ctest = true;
    else if (cmd == "explain" && s == "--family")
      family = familyArg(value(i));
    else if (!s.empty() && s[0] == '-')
      throw Usage{arg(cmd) + ": unknown option '" + arg(s) + "'"};
    else
      paths.push_back(arg(s));
  }
  if (cmd == "validate") return validate(paths);
  if (cmd == "list") return list(paths, ctest);
  if (cmd == "explain") return explain(paths, family);
  throw Usage{"unknown command '" + arg(cmd) + "'"};
}

}  // namespace

int main(int argc, char** argv) {
  // Before anything opens a descriptor: a scenario's connections may need
  // more than the usual soft limit of 1024 (limits.hpp). serve inherits it
  // and raises its own too.
  deadpeer::raiseOpenFileLimit();
  // serve runs in the namespace it was started in (a host's): it must not
  // make a private one.
  if (argc > 1 && std::string_view(argv[1]) == "serve") return serveMain(argc - 1, argv + 1);
  try {
    std::vector<std::string_view> args(argv + 1, argv + argc);
    if (args.empty() || args[0] == "--help" || args[0] == "-h") {
      usage(args.empty() ? stderr : stdout);
      return args.empty() ? 2 : 0;
    }
    const std::string_view cmd = args[0];
    if (cmd == "validate") return dispatch(args);  // touches no kernel state
    const Privilege privilege = enterPrivateNamespaces();
    if (cmd == "topologies") {
      int clients = 8;
      for (std::size_t i = 1; i < args.size(); ++i) {
        if (args[i] == "--clients" && i + 1 < args.size()) {
          clients = std::atoi(std::string(args[++i]).c_str());
        } else {
          std::fprintf(stderr, "deadpeer topologies: unknown argument '%.*s'\n",
                       static_cast<int>(args[i].size()), args[i].data());
          return 2;
        }
      }
      std::printf("deadpeer: running as %s\n", privilege.description.c_str());
      return topologies(clients);
    }
    if (cmd == "features" && args.size() == 1) return features();
    if (cmd == "faults" && args.size() == 1) return faults();
    return dispatch(args);
  } catch (const Usage& u) {
    std::fprintf(stderr, "deadpeer: %s\n", u.message.c_str());
    usage(stderr);
    return 2;
  } catch (const ScenarioError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  } catch (const Error& e) {
    std::fprintf(stderr, "deadpeer: %s\n", e.what());
    return 1;
  }
}

// deadpeer: the command-line front end. Only programs print; the harness
// library reports errors as deadpeer::Error, and this file turns them into
// messages and exit codes (kExit* below, the same for every command):
//   0   every selected scenario passed (or the command did its job)
//   1   a scenario failed or met an error
//   2   bad usage or bad input: an unknown option, a missing or unreadable
//       path, a scenario file that does not validate, an output path that
//       cannot be written (checked before anything runs)
//   3   an internal error (an exception nobody handled; cli/last_resort.hpp)
//   4   every scenario was skipped (a missing kernel feature; ctest's
//       SKIP_RETURN_CODE)
//   130 interrupted (SIGINT; 143 for SIGTERM): the reports hold what finished
//
// Arguments are parsed by CLI11, regular expressions (-R, -E) matched by
// RE2 (linear time, bounded memory).
#include <fcntl.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <re2/re2.h>

#include "deadpeer/cli/last_resort.hpp"
#include "deadpeer/cli/progress.hpp"
#include "deadpeer/cli/serve.hpp"
#include "deadpeer/cli/shard.hpp"
#include "deadpeer/error.hpp"
#include "deadpeer/fault/capabilities.hpp"
#include "deadpeer/fault/fault.hpp"
#include "deadpeer/limits.hpp"
#include "deadpeer/privilege.hpp"
#include "deadpeer/report/report.hpp"
#include "deadpeer/report/results_file.hpp"
#include "deadpeer/scenario/files.hpp"
#include "deadpeer/scenario/runner.hpp"
#include "deadpeer/scenario/scenario.hpp"
#include "deadpeer/text.hpp"
#include "deadpeer/topology/reach.hpp"
#include "deadpeer/topology/topology.hpp"
#include "deadpeer/version.hpp"


namespace {

using namespace deadpeer;
using cli::UsageError;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr int kExitPass = 0;
constexpr int kExitFail = 1;
constexpr int kExitUsage = 2;
constexpr int kExitSkipped = 4;
// 128 + the signal's number, as shells report a death by signal.
constexpr int kExitSignalBase = 128;

// "deadpeer 0.1.0 (git 3f2a9c1d07e4)": the project version, and the
// revision of a build from a checkout.
std::string versionText() { return "deadpeer " + deadpeer::versionText(); }

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
  return kExitPass;
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
  return kExitPass;
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
  return kExitPass;
}

// Bad input found before anything ran (a missing path, a file that does
// not validate): the diagnostics are printed already; exit 2.
struct BadInput {};

// The bad paths named on the command line (scenario/files.hpp): each is
// printed, the command goes on with the others, then exits 2.
std::vector<PathProblem> g_path_problems;

std::vector<fs::path> scenarioPaths(const std::vector<std::string>& given) {
  std::vector<fs::path> paths(given.begin(), given.end());
  if (paths.empty()) paths.push_back("scenarios");
  ScenarioPaths found = expandScenarioPaths(paths);
  for (auto& p : found.problems) {
    std::fprintf(stderr, "deadpeer: %s\n", p.str().c_str());
    g_path_problems.push_back(std::move(p));
  }
  return std::move(found.files);
}

// A bad path on the command line is bad input, whatever else happened.
int withPathProblems(int status) { return g_path_problems.empty() ? status : kExitUsage; }

// Parses every file, printing each bad one's diagnostics; throws BadInput
// if any was bad.
std::vector<Scenario> parseAll(const std::vector<fs::path>& files) {
  std::vector<Scenario> scenarios;
  bool bad = false;
  for (const auto& f : files) {
    try {
      scenarios.push_back(parseScenarioFile(f));
    } catch (const ScenarioError& e) {
      for (const auto& d : e.diagnostics()) std::fprintf(stderr, "%s\n", d.str().c_str());
      bad = true;
    } catch (const Error& e) {
      std::fprintf(stderr, "deadpeer: %s\n", e.what());
      bad = true;
    }
  }
  if (bad) throw BadInput{};
  return scenarios;
}

// -R and -E, as ctest has them: a scenario is selected when its name
// ("crash/keepalive-idle") contains a match of -R (if given) and none of
// -E (if given).
class NameFilter {
 public:
  NameFilter(const std::string& include, const std::string& exclude)
      : include_(compile("-R", include)), exclude_(compile("-E", exclude)) {}
  bool active() const { return include_ || exclude_; }
  bool selects(const std::string& name) const {
    if (include_ && !RE2::PartialMatch(name, *include_)) return false;
    return !(exclude_ && RE2::PartialMatch(name, *exclude_));
  }

 private:
  static std::shared_ptr<RE2> compile(const char* flag, const std::string& pattern) {
    if (pattern.empty()) return nullptr;
    RE2::Options options;
    options.set_log_errors(false);
    options.set_max_mem(8 << 20);  // a user's pattern gets bounded memory
    auto re = std::make_shared<RE2>(pattern, options);
    if (!re->ok())
      throw UsageError{std::string(flag) + " '" + pattern + "': " + re->error()};
    return re;
  }
  std::shared_ptr<RE2> include_;
  std::shared_ptr<RE2> exclude_;
};

int validate(const std::vector<std::string>& given) {
  const auto files = scenarioPaths(given);
  int bad = 0;
  for (const auto& f : files) {
    try {
      parseScenarioFile(f);
      std::printf("ok      %s\n", printable(f.string()).c_str());
    } catch (const ScenarioError& e) {
      ++bad;
      std::printf("invalid %s\n", printable(f.string()).c_str());
      for (const auto& d : e.diagnostics()) std::fprintf(stderr, "%s\n", d.str().c_str());
    } catch (const Error& e) {
      ++bad;
      std::printf("invalid %s\n", printable(f.string()).c_str());
      std::fprintf(stderr, "deadpeer: %s\n", printable(e.what()).c_str());
    }
  }
  std::printf("%zu file(s), %d invalid", files.size(), bad);
  if (!g_path_problems.empty()) std::printf(", %zu bad path(s)", g_path_problems.size());
  std::printf("\n");
  return bad ? kExitUsage : kExitPass;
}

std::string seconds(std::chrono::nanoseconds d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f s", std::chrono::duration<double>(d).count());
  return buf;
}

constexpr std::chrono::seconds kLongScenario{30};

// A CMake bracket argument whose closing bracket does not occur in `s`,
// whatever a file name holds.
std::string cmakeQuote(const std::string& s) {
  std::string level = "==";
  while (s.find("]" + level + "]") != std::string::npos) level += "=";
  return "[" + level + "[" + s + "]" + level + "]";
}

int list(const std::vector<std::string>& given, bool ctest, const NameFilter& filter) {
  const auto files = scenarioPaths(given);
  Runner runner;
  if (!ctest)
    std::printf("%-44s %-10s %-16s %-14s %-11s %6s %9s\n", "scenario", "folder", "detector",
                "fault", "families", "repeat", "protocol");
  if (ctest) {
    // A bad path becomes a test too, which fails saying why.
    for (const auto& p : g_path_problems) {
      const std::string name = cmakeQuote("scenario:" + printable(p.path.string()));
      std::printf("add_test(%s %s validate %s)\n", name.c_str(),
                  cmakeQuote(fs::read_symlink("/proc/self/exe").string()).c_str(),
                  cmakeQuote(fs::absolute(p.path).string()).c_str());
      std::printf("set_tests_properties(%s PROPERTIES LABELS scenario)\n", name.c_str());
    }
    g_path_problems.clear();
  }
  for (const auto& f : files) {
    std::optional<Scenario> sc;
    std::string problem;
    try {
      sc = parseScenarioFile(f);
    } catch (const ScenarioError& e) {
      problem = e.diagnostics().empty() ? e.what() : e.diagnostics().front().str();
    } catch (const Error& e) {
      problem = e.what();
    }
    const fs::path abs = fs::absolute(f);
    const std::string name =
        sc ? sc->name : abs.parent_path().filename().string() + "/" + abs.stem().string();
    if (!filter.selects(name)) continue;
    if (ctest) {
      // A bad file still becomes a test, which fails with its diagnostics.
      std::string labels = "scenario";
      double timeout = 120;
      if (sc) {
        labels += ";" + sc->folder + ";" + sc->detectorLabel();
        const auto per_trial = runner.protocolTime(*sc);
        if (per_trial > kLongScenario) labels += ";long";
        timeout = 60 + std::chrono::duration<double>(per_trial).count() * sc->repeat *
                           static_cast<double>(sc->families.size()) * 1.5;
      }
      std::printf("add_test(%s %s run %s)\n", cmakeQuote("scenario:" + name).c_str(),
                  cmakeQuote(fs::read_symlink("/proc/self/exe").string()).c_str(),
                  cmakeQuote(abs.string()).c_str());
      std::printf("set_tests_properties(%s PROPERTIES LABELS %s TIMEOUT %.0f SKIP_RETURN_CODE 4)\n",
                  cmakeQuote("scenario:" + name).c_str(), cmakeQuote(labels).c_str(), timeout);
      continue;
    }
    if (!sc) {
      std::printf("%-44s invalid: %s\n", printable(f.string()).c_str(), printable(problem).c_str());
      continue;
    }
    std::string families;
    for (int fam : sc->families)
      families += std::string(families.empty() ? "" : ",") + (fam == AF_INET6 ? "ipv6" : "ipv4");
    std::printf("%-44s %-10s %-16s %-14s %-11s %6d %9s\n", sc->name.c_str(), sc->folder.c_str(),
                sc->detectorLabel().c_str(), sc->faultLabel().c_str(), families.c_str(), sc->repeat,
                seconds(runner.protocolTime(*sc)).c_str());
  }
  return kExitPass;
}

int explain(const std::string& file, const std::string& family_name) {
  const auto parsed = parseAll({file});
  const Scenario& sc = parsed.front();
  std::optional<int> family;
  if (family_name == "ipv4") family = AF_INET;
  if (family_name == "ipv6") family = AF_INET6;
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
      return kExitUsage;
    }
  }
  return kExitPass;
}

// Where the reports go. Each path is proven writable before anything runs,
// so that a typo does not cost a whole run.
struct Outputs {
  std::string json, html, junit;
  RunInfo run;  // what ran where: every report records it

  void check() const {
    checkFile("--json", json);
    checkFile("--html", html);
    checkFile("--junit", junit);
  }
  void write(const std::vector<ScenarioResult>& results) const {
    if (!json.empty()) writeJson(results, json, run);
    if (!html.empty()) writeHtml(results, html, run);
    if (!junit.empty()) writeJunit(results, junit, run);
  }

 private:
  // Opens the file for writing without truncating it (O_NONBLOCK: a FIFO
  // must not hang the check); a file the check created is removed again.
  static void checkFile(const char* option, const std::string& file) {
    if (file.empty()) return;
    struct stat st {};
    const bool existed = ::stat(file.c_str(), &st) == 0;
    if (existed && S_ISDIR(st.st_mode))
      throw UsageError{std::string(option) + " '" + file + "': is a directory"};
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
                          0644);
    if (fd < 0)
      throw UsageError{std::string(option) + " '" + file + "': cannot be written: " +
                       std::strerror(errno)};
    ::close(fd);
    if (!existed) ::unlink(file.c_str());
  }
};

void checkPcapDirectory(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    throw UsageError{"--pcap '" + dir.string() + "': cannot create the directory: " +
                     ec.message()};
  if (!fs::is_directory(dir, ec))
    throw UsageError{"--pcap '" + dir.string() + "': not a directory"};
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    throw UsageError{"--pcap '" + dir.string() + "': cannot be written: " +
                     std::strerror(errno)};
}

// The exit code of a set of results: 1 if any failed or met an error, or
// if their report would contradict itself (deadpeer's own failure, which
// every scenario test thereby checks on a real run), else 4 if there were
// some and every one was skipped, else 0.
void printContradictions(const std::vector<ScenarioResult>& results) {
  for (const std::string& line : report::contradictions(results))
    std::fprintf(stderr, "deadpeer: the report contradicts itself: %s\n", line.c_str());
}

int exitCode(const std::vector<ScenarioResult>& results) {
  bool failed = !report::contradictions(results).empty(), all_skipped = !results.empty();
  for (const auto& r : results) {
    failed = failed || r.verdict == ScenarioResult::Verdict::kFail ||
             r.verdict == ScenarioResult::Verdict::kError;
    all_skipped = all_skipped && r.verdict == ScenarioResult::Verdict::kSkip;
  }
  if (failed) return kExitFail;
  return all_skipped ? kExitSkipped : kExitPass;
}

// SIGINT and SIGTERM during a run: the first requests a stop (the runner
// tears down the trials under way and the run reports what finished); a
// second one ends the process at once, as the signal would have.
//
// Construct it before any other thread starts: it blocks both signals in
// the calling thread, every later thread inherits the mask, and the signals
// then arrive only through a signalfd read by its own thread. Children
// reset their mask (peer/external).
class InterruptWatch {
 public:
  explicit InterruptWatch(std::stop_source stop) : stop_(std::move(stop)) {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGINT);
    sigaddset(&signals_, SIGTERM);
    if (::pthread_sigmask(SIG_BLOCK, &signals_, &previous_) != 0)
      throw Error::fromErrno("pthread_sigmask", "SIGINT and SIGTERM", "", errno);
    signal_fd_ = ::signalfd(-1, &signals_, SFD_CLOEXEC);
    quit_fd_ = ::eventfd(0, EFD_CLOEXEC);
    if (signal_fd_ < 0 || quit_fd_ < 0)
      throw Error::fromErrno("signalfd", "SIGINT and SIGTERM", "", errno);
    thread_ = std::thread([this] { watch(); });
  }
  ~InterruptWatch() {
    const std::uint64_t one = 1;
    if (::write(quit_fd_, &one, sizeof one) < 0) {
      // Cannot happen for an eventfd below its maximum; the join would hang.
    }
    thread_.join();
    ::close(signal_fd_);
    ::close(quit_fd_);
    ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }
  // The first signal received, 0 for none.
  int signal() const { return signal_.load(); }
  // Called (from the watching thread) on the first signal.
  void onSignal(std::function<void(int)> f) {
    std::lock_guard lock(mutex_);
    on_signal_ = std::move(f);
  }

 private:
  void watch() {
    pollfd fds[2] = {{signal_fd_, POLLIN, 0}, {quit_fd_, POLLIN, 0}};
    // Ends when the owner writes quit_fd_.
    for (;;) {
      if (::poll(fds, 2, -1) < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (fds[1].revents != 0) return;
      signalfd_siginfo info{};
      if (::read(signal_fd_, &info, sizeof info) != sizeof info) continue;
      const int signo = static_cast<int>(info.ssi_signo);
      if (signal_.exchange(signo) != 0) {
        // The second: die of it, as if nothing had caught it.
        ::signal(signo, SIG_DFL);
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, signo);
        ::pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
        ::kill(::getpid(), signo);
        return;
      }
      {
        std::lock_guard lock(mutex_);
        if (on_signal_) on_signal_(signo);
      }
      stop_.request_stop();
    }
  }

  std::stop_source stop_;
  sigset_t signals_{};
  sigset_t previous_{};
  int signal_fd_ = -1;
  int quit_fd_ = -1;
  std::atomic<int> signal_{0};
  std::mutex mutex_;
  std::function<void(int)> on_signal_;
  std::thread thread_;
};

struct RunArgs {
  std::vector<std::string> paths;
  RunOptions options;
  int repeat = 0;  // 0: the file's
  int jobs = 1;
  Outputs outputs;
  std::string pcap;
  std::string include, exclude;
  bool fail_fast = false;
  bool quiet = false;
};

int run(RunArgs& a) {
  // Everything that can be wrong with the command is found before the
  // first trial: the shard variables, the output paths, the files.
  const std::optional<cli::Shard> shard = cli::shardFromEnvironment();
  const NameFilter filter(a.include, a.exclude);
  a.outputs.check();
  if (!a.pcap.empty()) {
    checkPcapDirectory(a.pcap);
    a.options.pcap_dir = a.pcap;
  }
  const std::vector<Scenario> all = parseAll(scenarioPaths(a.paths));
  if (!g_path_problems.empty()) throw BadInput{};
  std::vector<const Scenario*> selected;
  for (const Scenario& sc : all)
    if (filter.selects(sc.name)) selected.push_back(&sc);
  if (selected.empty() && filter.active())
    throw UsageError{"no scenario name matches" +
                     (a.include.empty() ? std::string() : " -R '" + a.include + "'") +
                     (a.exclude.empty() ? std::string() : " without -E '" + a.exclude + "'")};
  // Sharding comes after the name filter, as in googletest: the shards
  // split what would have run.
  if (shard) {
    std::vector<const Scenario*> mine;
    for (std::size_t i = 0; i < selected.size(); ++i)
      if (shard->contains(i)) mine.push_back(selected[i]);
    if (!a.quiet)
      std::printf("%s: %zu of %zu scenarios\n", shard->str().c_str(), mine.size(),
                  selected.size());
    selected = std::move(mine);
  }

  std::stop_source stop;
  InterruptWatch interrupt(stop);
  std::size_t variants = 0;
  for (const Scenario* sc : selected) variants += sc->families.size();
  const int jobs = std::max(1, std::min<int>(a.jobs, static_cast<int>(selected.size())));
  std::optional<cli::Progress> progress;
  if (!a.quiet)
    progress.emplace(stdout, cli::ProgressStyle::detect(STDOUT_FILENO), variants, jobs);
  interrupt.onSignal([&](int signo) {
    if (progress)
      progress->note(std::string("interrupted (") + sigabbrev_np(signo) +
                     "): stopping; the reports will hold what finished");
  });

  // Scenarios run on `jobs` threads; each trial owns its namespaces, so
  // they do not meet. Results keep the files' order.
  std::vector<std::optional<std::vector<ScenarioResult>>> slots(selected.size());
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr crashed;  // the first exception a worker did not expect
  std::mutex crashed_mutex;
  auto worker = [&](int job) {
    RunOptions options = a.options;
    options.stop = stop.get_token();
    if (progress) options.progress = [&, job](const std::string& line) { progress->phase(job, line); };
    Runner runner(options);
    for (std::size_t i = next++; i < selected.size(); i = next++) {
      if (stop.stop_requested() || (a.fail_fast && failed)) break;
      try {
        auto results = runner.run(*selected[i]);
        // A scenario that returns after the stop may have met its end (a
        // peer killed by the terminal's SIGINT): it did not finish.
        if (stop.stop_requested()) break;
        if (exitCode(results) == kExitFail) failed = true;
        if (progress) progress->finished(job, results);
        slots[i] = std::move(results);
      } catch (...) {
        // Interrupted: the Error says so, and there is nothing to report.
        if (!stop.stop_requested()) {
          std::lock_guard lock(crashed_mutex);
          if (!crashed) crashed = std::current_exception();
          stop.request_stop();
        }
        break;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int j = 1; j < jobs; ++j) threads.emplace_back(worker, j);
  worker(0);
  for (auto& t : threads) t.join();
  if (progress) progress->close();
  if (crashed) std::rethrow_exception(crashed);

  std::vector<ScenarioResult> results;
  std::size_t finished = 0;
  for (auto& s : slots) {
    if (!s) continue;
    ++finished;
    for (auto& r : *s) results.push_back(std::move(r));
  }
  std::printf("%s", resultTable(results).c_str());
  printContradictions(results);
  if (finished < selected.size()) {
    const std::size_t left = selected.size() - finished;
    if (interrupt.signal() != 0)
      std::printf("interrupted: %zu of %zu scenarios did not finish and are not reported\n", left,
                  selected.size());
    else if (a.fail_fast)
      std::printf("--fail-fast: %zu of %zu scenarios were not run after the first failure\n",
                  left, selected.size());
  }
  a.outputs.write(results);
  if (interrupt.signal() != 0) return kExitSignalBase + interrupt.signal();
  return exitCode(results);
}

struct MergeArgs {
  std::vector<std::string> files;
  Outputs outputs;
  bool quiet = false;
};

// The results of several runs (shards) as one: the same table, JSON, JUnit
// and HTML as one run of them all would give, in the same order (by file,
// as a run orders them; a file's variants as its run gave them).
int merge(const MergeArgs& a) {
  a.outputs.check();
  Outputs outputs = a.outputs;
  bool have_run = false;
  std::vector<ScenarioResult> results;
  std::map<std::string, std::string> seen;  // result name -> the file it came from
  bool bad = false;
  for (const std::string& file : a.files) {
    try {
      ResultsFile read = readResultsFile(file);
      // The machine's facts are the first shard's (shards of one run share them).
      if (!have_run) outputs.run = read.run;
      have_run = true;
      for (ScenarioResult& r : read.results) {
        if (auto [it, fresh] = seen.emplace(r.name, file); !fresh) {
          std::fprintf(stderr, "deadpeer merge: %s: \"%s\" is also in %s (overlapping shards?)\n",
                       file.c_str(), r.name.c_str(), it->second.c_str());
          bad = true;
          continue;
        }
        results.push_back(std::move(r));
      }
    } catch (const Error& e) {
      std::fprintf(stderr, "deadpeer merge: %s\n", e.what());
      bad = true;
    }
  }
  if (bad) return kExitUsage;
  std::stable_sort(results.begin(), results.end(),
                   [](const ScenarioResult& x, const ScenarioResult& y) {
                     return fs::path(x.file) < fs::path(y.file);
                   });
  if (!a.quiet) std::printf("%s", resultTable(results).c_str());
  printContradictions(results);
  outputs.write(results);
  return exitCode(results);
}

constexpr const char* kExitCodes =
    "Exit codes: 0 passed, 1 a scenario failed, 2 bad usage or input (missing path,\n"
    "invalid file, unwritable output), 4 every scenario skipped, 130 interrupted.";

// Adds --json, --html and --junit.
void addOutputOptions(CLI::App& app, Outputs& outputs) {
  app.add_option("--json", outputs.json, "write the results as JSON to FILE")
      ->type_name("FILE");
  app.add_option("--html", outputs.html,
                 "write a self-contained HTML report with a timeline per scenario")
      ->type_name("FILE");
  app.add_option("--junit", outputs.junit, "write JUnit XML to FILE")->type_name("FILE");
}

int dispatch(int argc, char** argv) {
  CLI::App app{
      "deadpeer: how fast do TCP connections detect a dead peer? Runs scenario files\n"
      "against the real kernel in private network namespaces and judges each detection\n"
      "against the kernel's rules.",
      "deadpeer"};
  app.set_version_flag("--version", versionText(), "print the version and exit");
  app.require_subcommand(1);
  app.footer(std::string(kExitCodes) + "\n");

  RunArgs run_args;
  CLI::App* run_cmd = app.add_subcommand(
      "run", "run scenarios, judge each against the oracle, and print one row per scenario");
  run_cmd->add_option("paths", run_args.paths, "scenario files and directories")
      ->required()
      ->type_name("FILE|DIR");
  run_cmd->add_option("--repeat", run_args.repeat,
                      "trials per scenario and family (default: the file's `repeat`)")
      ->check(CLI::Range(1, 1000));
  run_cmd->add_option("-j,--jobs", run_args.jobs, "scenarios to run at once")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  addOutputOptions(*run_cmd, run_args.outputs);
  run_cmd->add_option("--pcap", run_args.pcap, "write one pcap file per trial into DIR")
      ->type_name("DIR");
  run_cmd->add_option("-R,--tests-regex", run_args.include,
                      "run only scenarios whose name (crash/keepalive-idle) matches REGEX")
      ->type_name("REGEX");
  run_cmd->add_option("-E,--exclude-regex", run_args.exclude,
                      "leave out scenarios whose name matches REGEX")
      ->type_name("REGEX");
  run_cmd->add_flag("--fail-fast,--stop-on-failure", run_args.fail_fast,
                    "start no scenario after the first that fails");
  run_cmd->add_flag("-q,--quiet", run_args.quiet, "no progress, only the table");
  run_cmd->footer(std::string(
      "Progress: one line per finished scenario and, on a terminal, a live status line\n"
      "of the running jobs (plain output when stdout is not a terminal, NO_COLOR is set\n"
      "or TERM=dumb). Ctrl-C stops, tears down, writes the reports of what finished.\n"
      "Sharding: GTEST_TOTAL_SHARDS and GTEST_SHARD_INDEX select every N-th scenario, as\n"
      "googletest does; combine the shards' --json files with `deadpeer merge`.\n") +
                  kExitCodes + "\n");

  std::vector<std::string> validate_paths;
  CLI::App* validate_cmd =
      app.add_subcommand("validate", "check scenario files without running them");
  validate_cmd->add_option("paths", validate_paths, "scenario files and directories")
      ->required()
      ->type_name("FILE|DIR");
  validate_cmd->footer("Exit codes: 0 every file is valid, 2 a file is invalid or missing.\n");

  std::vector<std::string> list_paths;
  bool list_ctest = false;
  std::string list_include, list_exclude;
  CLI::App* list_cmd = app.add_subcommand(
      "list", "list scenarios with their detector, fault and protocol time");
  list_cmd->add_option("paths", list_paths, "scenario files and directories (default: scenarios/)")
      ->type_name("FILE|DIR");
  list_cmd->add_flag("--ctest", list_ctest, "print ctest registrations, one test per file");
  list_cmd->add_option("-R,--tests-regex", list_include, "only names matching REGEX")
      ->type_name("REGEX");
  list_cmd->add_option("-E,--exclude-regex", list_exclude, "leave out names matching REGEX")
      ->type_name("REGEX");
  list_cmd->footer(
      "Exit codes: 0 listed (a file that does not validate is listed as invalid), 2 a path\n"
      "is missing or holds no scenario files.\n");

  std::string explain_file, explain_family;
  CLI::App* explain_cmd = app.add_subcommand(
      "explain", "print the oracle's reasoning for a scenario, without running it");
  explain_cmd->add_option("file", explain_file, "one scenario file")->required()->type_name("FILE");
  explain_cmd->add_option("--family", explain_family, "only this address family")
      ->check(CLI::IsMember({"ipv4", "ipv6"}));
  explain_cmd->footer(
      "Exit codes: 0 explained, 1 a program's sockets could not be read, 2 the file is\n"
      "missing or invalid, or the kernel refuses its settings.\n");

  MergeArgs merge_args;
  CLI::App* merge_cmd = app.add_subcommand(
      "merge", "combine the --json results of several runs (shards) into one report");
  merge_cmd->add_option("files", merge_args.files, "results files written by run --json")
      ->required()
      ->type_name("FILE.json");
  addOutputOptions(*merge_cmd, merge_args.outputs);
  merge_cmd->add_flag("-q,--quiet", merge_args.quiet, "do not print the table");
  merge_cmd->footer(
      "Exit codes: as `run` would give for the combined results; 2 when a file cannot be\n"
      "read, is not a results file, or repeats a result another file has.\n");

  // A subcommand inherits the program's footer, whose exit codes are run's.
  constexpr const char* kExitCodesProbe =
      "Exit codes: 0 done, 1 the kernel refused a step (the message names it).\n";
  app.add_subcommand("features", "probe what this kernel can do (qdiscs, tc actions, nftables)")
      ->footer(kExitCodesProbe);
  app.add_subcommand("faults", "list the fault kinds, their kernel layer, and which work here")
      ->footer(kExitCodesProbe);
  int clients = 8;
  CLI::App* topologies_cmd =
      app.add_subcommand("topologies", "build the standard topologies and time them");
  topologies_cmd->add_option("--clients", clients, "clients of many-clients")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  topologies_cmd->footer(kExitCodesProbe);
  // Parsed by serve itself (it is started in a host's namespace, often by
  // the runner); listed here for --help.
  app.add_subcommand("serve", "a built-in tcp or heartbeat server in the current namespace "
                              "(see deadpeer serve --help)");

  // CLI11 would call an unknown command a missing one.
  if (argc > 1 && argv[1][0] != '-') {
    const auto commands = app.get_subcommands([](CLI::App*) { return true; });
    if (std::none_of(commands.begin(), commands.end(),
                     [&](const CLI::App* c) { return c->get_name() == argv[1]; })) {
      std::fprintf(stderr, "deadpeer: unknown command '%s'\nRun 'deadpeer --help' for usage.\n",
                   argv[1]);
      return kExitUsage;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string command = "deadpeer";
    for (const CLI::App* sub : app.get_subcommands()) command += " " + sub->get_name();
    std::fprintf(stderr, "%s: %s\nRun '%s --help' for usage.\n", command.c_str(), e.what(),
                 command.c_str());
    return kExitUsage;
  }

  // Only what touches the kernel needs the private namespaces.
  if (validate_cmd->parsed()) return validate(validate_paths);
  if (merge_cmd->parsed()) return merge(merge_args);
  const Privilege privilege = enterPrivateNamespaces();
  if (run_cmd->parsed()) {
    run_args.outputs.run = RunInfo::collect(std::vector<std::string>(argv, argv + argc));
    run_args.options.self = fs::read_symlink("/proc/self/exe");
    if (run_args.repeat > 0) run_args.options.repeat = run_args.repeat;
    return run(run_args);
  }
  if (list_cmd->parsed()) return list(list_paths, list_ctest, NameFilter(list_include, list_exclude));
  if (explain_cmd->parsed()) return explain(explain_file, explain_family);
  if (topologies_cmd->parsed()) {
    std::printf("deadpeer: running as %s\n", privilege.description.c_str());
    return topologies(clients);
  }
  if (app.got_subcommand("features")) return features();
  if (app.got_subcommand("faults")) return faults();
  return kExitUsage;  // require_subcommand(1) leaves nothing else
}

int commandMain(int argc, char** argv) {
  // Before anything opens a descriptor: a scenario's connections may need
  // more than the usual soft limit of 1024 (limits.hpp). serve inherits it
  // and raises its own too.
  deadpeer::raiseOpenFileLimit();
  // serve runs in the namespace it was started in (a host's): it must not
  // make a private one, and parses its own arguments.
  if (argc > 1 && std::string_view(argv[1]) == "serve") return serveMain(argc - 1, argv + 1);
  try {
    return withPathProblems(dispatch(argc, argv));
  } catch (const UsageError& u) {
    std::fprintf(stderr, "deadpeer: %s\n", u.message.c_str());
    return kExitUsage;
  } catch (const BadInput&) {
    return kExitUsage;
  } catch (const ScenarioError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return kExitUsage;
  } catch (const Error& e) {
    std::fprintf(stderr, "deadpeer: %s\n", e.what());
    return kExitFail;
  }
}

}  // namespace

int main(int argc, char** argv) {
  return deadpeer::runGuarded("deadpeer", [&] { return commandMain(argc, argv); });
}

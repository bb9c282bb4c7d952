// Detection latency: every scenario file marked `bench: true` under
// scenarios/ is one benchmark per family variant ("crash/keepalive-idle/ipv4"),
// registered at startup, so marking a file adds a benchmark with no code.
// One iteration is one trial of the scenario runner (scenario/runner.hpp);
// its manual time is how long after the fault the expected peer detected it
// (the median over its connections). Counters, averaged over the trials:
//   expected         the oracle window's midpoint, seconds after the fault;
//   window_earliest, window_latest   the oracle window, seconds after the fault;
//   since_last_activity   the same detection, in seconds after the trial's
//                    anchor (TrialResult::anchor: what the window counts
//                    from, the last segment received or the last PONG for
//                    the idle rules, the send for data in flight), the
//                    frame every report uses:
//                    the detector's own latency. The time after the fault
//                    also holds where in its cycle the detector was when the
//                    fault came (up to a heartbeat period: 300 or 400 ms
//                    for crash/heartbeat), which this does not; ci/compare
//                    gates on it;
//   probes           keepalive probes (or PINGs) seen on the wire;
//   idle_bytes_per_hour, idle_packets_per_hour   TCP on the wire per
//                    connection while idle, from the capture between the
//                    warm-up's start and the fault (RunOptions::min_warmup
//                    makes that span at least kMinWarmup);
//   false_positives  wrong suspicions of a live peer;
//   in_window        the fraction of trials whose detections all fell inside
//                    the window.
// A trial that does not pass ends the benchmark with SkipWithError and the
// runner's reason, so a latency is never reported for a wrong detection.
//
// The files under bench/overhead/ are registered the same way but measure a
// live, idle connection: their manual time is the idle span watched, and
// their counters bytes_per_hour and packets_per_hour. They are kept out of
// scenarios/ because they test nothing the scenario set does not.
//
// Environment: DEADPEER_SCENARIOS overrides the scenarios directory,
// DEADPEER_BENCH_ITERATIONS the trials per benchmark (default 3).
//
// Threading: registration runs in main() (startup_registration.hpp), the benchmarks on
// Google Benchmark's main thread; the runner blocks that thread per trial.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "deadpeer/error.hpp"
#include "deadpeer/scenario/runner.hpp"
#include "deadpeer/scenario/scenario.hpp"
#include "ratio_reporter.hpp"
#include "startup_registration.hpp"

#ifndef DEADPEER_SOURCE_DIR
#error "DEADPEER_SOURCE_DIR must name the source tree"
#endif
#ifndef DEADPEER_CLI
#error "DEADPEER_CLI must name the deadpeer binary"
#endif

namespace deadpeer {
namespace {

using namespace std::chrono_literals;

// Long enough that the idle counters cover several keepalive or heartbeat
// periods of every marked scenario; the oracle anchors on whatever segment
// the warm-up ends with, so a longer warm-up keeps the windows right.
constexpr auto kMinWarmup = 5s;
constexpr int kDefaultIterations = 3;

int iterations() {
  const char* text = std::getenv("DEADPEER_BENCH_ITERATIONS");
  if (text == nullptr || *text == '\0') return kDefaultIterations;
  char* end = nullptr;
  const long n = std::strtol(text, &end, 10);
  // A bad value must not silently become a different run length.
  if (*end != '\0' || n < 1 || n > 1000) return -1;
  return static_cast<int>(n);
}

std::filesystem::path scenariosDir() {
  if (const char* dir = std::getenv("DEADPEER_SCENARIOS"); dir != nullptr && *dir != '\0')
    return dir;
  return std::filesystem::path(DEADPEER_SOURCE_DIR) / "scenarios";
}

std::string familyName(int family) { return family == AF_INET6 ? "ipv6" : "ipv4"; }

// One trial of `sc` restricted to `family`; the runner's one result.
ScenarioResult runTrial(const Scenario& sc, int family) {
  Scenario variant = sc;
  variant.families = {family};
  RunOptions options;
  options.repeat = 1;
  options.self = DEADPEER_CLI;
  options.keep_detail = false;
  options.min_warmup = kMinWarmup;
  Runner runner(options);
  std::vector<ScenarioResult> results = runner.run(variant);
  if (results.size() != 1)
    throw Error("run", sc.name, familyName(family), EINVAL,
                "expected one result, got " + std::to_string(results.size()));
  return std::move(results.front());
}

// "" when the result passed; otherwise why, for SkipWithError.
std::string whyNot(const ScenarioResult& r) {
  if (r.verdict == ScenarioResult::Verdict::kPass) return {};
  return std::string(verdictName(r.verdict)) + ": " +
         (r.reason.empty() ? "no reason given" : r.reason);
}

void detectionLatency(benchmark::State& state, const Scenario& sc, int family) {
  double expected = 0, earliest = 0, latest = 0, since_anchor = 0, probes = 0, idle_bytes = 0,
         idle_packets = 0, false_positives = 0, in_window = 0;
  try {
    for (auto _ : state) {
      const ScenarioResult r = runTrial(sc, family);
      if (const std::string why = whyNot(r); !why.empty()) {
        state.SkipWithError(why.c_str());
        break;
      }
      const TrialResult& t = r.trials.front();
      if (t.detections.empty()) {
        state.SkipWithError("the trial passed without a detection to time");
        break;
      }
      std::vector<double> at;
      for (const Detection& d : t.detections) at.push_back(d.at.count());
      std::sort(at.begin(), at.end());
      // The median's lower element for an even count: a time that was measured.
      const double median = at[(at.size() - 1) / 2];
      state.SetIterationTime(median);
      const bool inside = std::all_of(at.begin(), at.end(), [&](double s) {
        return s >= t.window_earliest.count() && s <= t.window_latest.count();
      });
      expected += (t.window_earliest.count() + t.window_latest.count()) / 2;
      earliest += t.window_earliest.count();
      latest += t.window_latest.count();
      since_anchor += median - t.anchor.count();
      probes += t.probes_seen;
      idle_bytes += t.idle_bytes_per_hour.value_or(0);
      idle_packets += t.idle_packets_per_hour.value_or(0);
      false_positives += t.false_positives;
      in_window += inside ? 1 : 0;
    }
  } catch (const Error& e) {
    state.SkipWithError(e.what());
  }
  const auto avg = [](double sum) {
    return benchmark::Counter(sum, benchmark::Counter::kAvgIterations);
  };
  state.counters["expected"] = avg(expected);
  state.counters["window_earliest"] = avg(earliest);
  state.counters["window_latest"] = avg(latest);
  state.counters["since_last_activity"] = avg(since_anchor);
  state.counters["probes"] = avg(probes);
  state.counters["idle_bytes_per_hour"] = avg(idle_bytes);
  state.counters["idle_packets_per_hour"] = avg(idle_packets);
  state.counters["false_positives"] = avg(false_positives);
  state.counters["in_window"] = avg(in_window);
}

void idleOverhead(benchmark::State& state, const Scenario& sc) {
  // The runner watches the idle connection from the warm-up's start until
  // the (absent) fault, which it places when the warm-up's wait ends.
  const double span =
      std::chrono::duration<double>(std::max(sc.warmup, std::chrono::milliseconds(kMinWarmup)))
          .count();
  double bytes = 0, packets = 0;
  try {
    for (auto _ : state) {
      const ScenarioResult r = runTrial(sc, sc.families.front());
      if (const std::string why = whyNot(r); !why.empty()) {
        state.SkipWithError(why.c_str());
        break;
      }
      const TrialResult& t = r.trials.front();
      if (!t.idle_bytes_per_hour || !t.idle_packets_per_hour) {
        state.SkipWithError("the runner measured no idle span (under 1 s?)");
        break;
      }
      state.SetIterationTime(span);
      bytes += *t.idle_bytes_per_hour;
      packets += *t.idle_packets_per_hour;
    }
  } catch (const Error& e) {
    state.SkipWithError(e.what());
  }
  state.counters["bytes_per_hour"] = benchmark::Counter(bytes, benchmark::Counter::kAvgIterations);
  state.counters["packets_per_hour"] =
      benchmark::Counter(packets, benchmark::Counter::kAvgIterations);
}

// A file that cannot be read or parsed still becomes a benchmark, which
// fails with the diagnostics: a typo must not silently drop it from the gate.
void brokenFile(benchmark::State& state, const std::string& why) {
  for (auto _ : state) {
    state.SkipWithError(why.c_str());
    break;
  }
}

benchmark::internal::Benchmark* configure(benchmark::internal::Benchmark* b, int n) {
  return b->Iterations(n)->UseManualTime()->Unit(benchmark::kMillisecond);
}

void registerAll() {
  const int n = iterations();
  if (n < 0) {
    benchmark::RegisterBenchmark("detection/configuration", [](benchmark::State& state) {
      brokenFile(state, "DEADPEER_BENCH_ITERATIONS must be a number from 1 to 1000");
    })->Iterations(1);
    return;
  }
  std::vector<std::filesystem::path> files;
  try {
    files = findScenarioFiles({scenariosDir()});
  } catch (const Error& e) {
    const std::string why = e.what();
    benchmark::RegisterBenchmark("detection/scenarios", [why](benchmark::State& state) {
      brokenFile(state, why);
    })->Iterations(1);
  }
  for (const auto& file : files) {
    try {
      const Scenario sc = parseScenarioFile(file);
      if (!sc.bench) continue;
      for (int family : sc.families)
        configure(benchmark::RegisterBenchmark((sc.name + "/" + familyName(family)).c_str(),
                                               [sc, family](benchmark::State& state) {
                                                 detectionLatency(state, sc, family);
                                               }),
                  n);
    } catch (const std::exception& e) {  // ScenarioError or Error
      const std::string why = e.what();
      benchmark::RegisterBenchmark(file.string().c_str(), [why](benchmark::State& state) {
        brokenFile(state, why);
      })->Iterations(1);
    }
  }
  std::vector<std::filesystem::path> overhead;
  try {
    overhead =
        findScenarioFiles({std::filesystem::path(DEADPEER_SOURCE_DIR) / "bench" / "overhead"});
  } catch (const Error& e) {
    const std::string why = e.what();
    benchmark::RegisterBenchmark("overhead/scenarios", [why](benchmark::State& state) {
      brokenFile(state, why);
    })->Iterations(1);
  }
  for (const auto& file : overhead) {
    try {
      const Scenario sc = parseScenarioFile(file);
      configure(benchmark::RegisterBenchmark(
                    sc.name.c_str(), [sc](benchmark::State& state) { idleOverhead(state, sc); }),
                n);
    } catch (const std::exception& e) {
      const std::string why = e.what();
      benchmark::RegisterBenchmark(file.string().c_str(), [why](benchmark::State& state) {
        brokenFile(state, why);
      })->Iterations(1);
    }
  }
}

// Not a static initialiser of its own: parsing needs the harness's tables.
const bool kDeclared = bench::registerAtStartup(registerAll);

// Same detection time (4 s), so the idle cost is the only difference.
const bool kCompared = bench::compareBenchmarks({"idle overhead at 4 s",
                                                 {"overhead/heartbeat-4s", "heartbeat"},
                                                 {"overhead/keepalive-4s", "keepalive"},
                                                 {"bytes_per_hour", "packets_per_hour"}});

}  // namespace
}  // namespace deadpeer

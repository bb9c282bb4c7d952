// bench/ratio_reporter: "how many times faster" lines after a benchmark run.
//
// A benchmark file declares the pairs it wants compared, at static
// initialisation:
//   const bool kCompared = deadpeer::bench::compareBenchmarks(
//       {"two-hosts", {"topology/two-hosts/ip-cli", "ip CLI"},
//                     {"topology/two-hosts/deadpeer", "deadpeer"}});
// bench_main.cpp, the one main() of every benchmark binary, runs the
// benchmarks through a RatioReporter and then calls printRatios(), which
// prints for each pair whose two sides ran
//   ratio two-hosts: ip CLI 23.1 ms / deadpeer 1.45 ms = 15.9x
// i.e. numerator time / denominator time, from real time per iteration:
// the median when repetitions give one, else the mean. A pair that names
// counters prints one line per counter instead, from the counter's values
// (the median aggregate's when there is one, else the mean of the runs):
//   ratio idle overhead at 4 s bytes_per_hour: heartbeat 790000 / keepalive 380194 = 2.08x
//
// The reporter wraps the display reporter that the command line asks for
// (--benchmark_format, --benchmark_color, --benchmark_counters_tabular), so
// those flags keep working; the ratio lines go to stdout after a console
// table, and to stderr when stdout carries JSON or CSV.
//
// Threading: Google Benchmark registers and reports on the main thread; so
// does everything here.
#pragma once

#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace deadpeer::bench {

struct RatioSide {
  std::string benchmark;  // the registered name, e.g. "topology/two-hosts/deadpeer"
  std::string caption;    // how the line names it, e.g. "deadpeer"
};

struct RatioSpec {
  std::string label;
  RatioSide numerator;
  RatioSide denominator;
  // Empty: compare the times. Otherwise one line per named counter, which
  // compares the counter's values instead (e.g. the bytes an idle connection
  // costs per hour), for benchmarks whose time is not what they measure.
  std::vector<std::string> counters = {};
};

// Adds a pair to the registry that printRatios() reads; returns true, for
// use in a static initialiser.
bool compareBenchmarks(RatioSpec spec);

class RatioReporter final : public benchmark::BenchmarkReporter {
 public:
  // Call after benchmark::Initialize(), which parses the display flags.
  RatioReporter();

  bool ReportContext(const Context& context) override;
  void ReportRuns(const std::vector<Run>& reports) override;
  void Finalize() override;

  void printRatios();

 private:
  struct Measured {
    std::vector<double> seconds;  // real time per iteration, one per repetition
    std::optional<double> median;
    std::map<std::string, std::vector<double>> counters;  // per repetition
    std::map<std::string, double> median_counters;
    std::string error;
  };

  std::unique_ptr<benchmark::BenchmarkReporter> display_;
  std::map<std::string, Measured> measured_;
};

}  // namespace deadpeer::bench

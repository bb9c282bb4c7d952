// The main() of every benchmark binary: raise the open-file limit to the
// hard one (deadpeer/limits.hpp), enter a private user and network
// namespace when unprivileged, and a private mount namespace with its own
// /run/netns (bench/private_netns_dir.hpp), all before any thread starts;
// then record the kernel, its HZ and deadpeer's version in the benchmark
// context, run the benchmarks and print the ratios they declared
// (bench/ratio_reporter.hpp).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>
#include <vector>

#include "deadpeer/error.hpp"
#include "deadpeer/limits.hpp"
#include "deadpeer/privilege.hpp"
#include "deadpeer/report/report.hpp"
#include "private_netns_dir.hpp"
#include "ratio_reporter.hpp"
#include "startup_registration.hpp"

int main(int argc, char** argv) {
  deadpeer::raiseOpenFileLimit();
  try {
    deadpeer::enterPrivateNamespaces();
  } catch (const deadpeer::Error& e) {
    std::fprintf(stderr, "deadpeer: %s\n", e.what());
    return 1;
  }
  // A failure here only matters to benchmarks that name namespaces; they
  // skip with the reason.
  deadpeer::bench::enterPrivateNetnsDir();
  deadpeer::bench::runStartupRegistrations();

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  // What the numbers were measured on, in the JSON's "context": a baseline
  // from another kernel or HZ is another experiment (ci/compare says so).
  const deadpeer::RunInfo run =
      deadpeer::RunInfo::collect(std::vector<std::string>(argv, argv + argc));
  benchmark::AddCustomContext("deadpeer_version", run.version);
  benchmark::AddCustomContext("kernel", run.kernel);
  benchmark::AddCustomContext("hz", run.hz == 0 ? "unknown" : std::to_string(run.hz));
  deadpeer::bench::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.printRatios();
  benchmark::Shutdown();
  return 0;
}

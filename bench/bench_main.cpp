// The main() of every benchmark binary: raise the open-file limit to the
// hard one (deadpeer/limits.hpp), enter a private user and network
// namespace when unprivileged, and a private mount namespace with its own
// /run/netns (bench/private_netns_dir.hpp), all before any thread starts;
// then run the benchmarks and print the ratios they declared
// (bench/ratio_reporter.hpp).
#include <benchmark/benchmark.h>

#include <cstdio>

#include "deadpeer/error.hpp"
#include "deadpeer/limits.hpp"
#include "deadpeer/privilege.hpp"
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
  deadpeer::bench::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.printRatios();
  benchmark::Shutdown();
  return 0;
}

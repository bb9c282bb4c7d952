// bench/startup_registration: benchmarks registered from data, in main().
//
// A benchmark file that registers benchmarks from files (detection_bench:
// one per scenario) cannot do it in a static initialiser: parsing reads
// tables of the harness (fault kinds, ...) that are themselves statics of
// other translation units, whose initialisation order is unspecified. It
// declares a function instead, at static initialisation:
//   const bool kDeclared = deadpeer::bench::registerAtStartup(registerAll);
// and bench_main.cpp calls every declared function once, after entering its
// namespaces and before benchmark::Initialize() reads the filters, so
// --benchmark_filter and --benchmark_list_tests see these benchmarks like
// any other.
//
// Threading: main thread only.
#pragma once

namespace deadpeer::bench {

// Adds `fn` to the functions runStartupRegistrations() calls; returns true,
// for use in a static initialiser.
bool registerAtStartup(void (*fn)());

// Calls every declared function, in declaration order. They must not throw.
void runStartupRegistrations() noexcept;

}  // namespace deadpeer::bench

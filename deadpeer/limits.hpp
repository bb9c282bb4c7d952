// limits: the process's open-file limit (RLIMIT_NOFILE), which bounds how
// many connections one deadpeer process can hold.
//
// Distributions give ordinary users a soft limit of 1024 and a far higher
// hard limit (20,000 on this project's machines); root often has the same
// soft limit. A scenario with 1,000 connections holds 2,000 descriptors in
// the harness (both ends of each connection), so every deadpeer program
// (the CLI, `serve`, each test binary and each benchmark) raises its soft
// limit to the hard one first thing in main(). Raising the soft limit up to
// the hard one needs no privilege (setrlimit(2)). Children inherit it.
//
// Threading: process-wide state; raiseOpenFileLimit() belongs at the start
// of main(), the rest may be called from any thread.
#pragma once

#include <cstdint>
#include <string>

namespace deadpeer {

struct OpenFileLimit {
  std::uint64_t soft = 0;  // descriptors; RLIM_INFINITY reads as UINT64_MAX
  std::uint64_t hard = 0;
};

// The limits in force now (getrlimit). Zeroes when getrlimit fails, which
// it cannot for RLIMIT_NOFILE on Linux.
OpenFileLimit openFileLimit() noexcept;

// Sets the soft limit to the hard one and returns the limits then in force.
// Never throws: a refusal leaves the soft limit as it was, and the caller
// sees that in the result (a scenario that needs more is refused by
// validation with the numbers, see scenario/resources.hpp).
OpenFileLimit raiseOpenFileLimit() noexcept;

}  // namespace deadpeer

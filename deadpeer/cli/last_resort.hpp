// cli/last_resort: what a program does with an exception nobody handled.
//
// The harness reads files, paths and program output from other hands, so
// an exception can come from anywhere in it. A program must never die of
// one with "terminate called after..." and exit code 134: runGuarded() turns
// whatever escapes `body` into one message on stderr and an exit code:
//   2  bad input: an invalid scenario file, a YAML error, a bad path;
//   1  deadpeer::Error, an operation that failed (as every command reports);
//   3  anything else, an internal error, with "please report".
// It also installs a std::terminate handler for what cannot be caught here
// (an exception leaving a thread, or a noexcept function): the same message
// and exit code 3, without running destructors of a state that is broken.
//
// Threading: call once, from main(), before any thread starts.
#pragma once

#include <functional>

namespace deadpeer {

inline constexpr int kExitFailed = 1;
inline constexpr int kExitBadInput = 2;
inline constexpr int kExitInternalError = 3;

int runGuarded(const char* program, const std::function<int()>& body) noexcept;

}  // namespace deadpeer

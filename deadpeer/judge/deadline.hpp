// judge/deadline: how long a trial waits for its expectation after the
// fault. One rule for the runner (when to stop waiting) and for `deadpeer
// list --ctest` (a scenario's labels and ctest timeout), so the two cannot
// drift.
//
// Threading: pure functions.
#pragma once

#include <chrono>
#include <optional>

#include "deadpeer/scenario/scenario.hpp"

namespace deadpeer {

// Beyond the oracle's latest, how long a trial still waits for a detection
// before calling it missing.
inline constexpr std::chrono::milliseconds kDetectionGrace{2'000};
// How long a trial waits when the oracle predicts no detection and the file
// sets no deadline.
inline constexpr std::chrono::milliseconds kNoPredictionWait{30'000};

// After the (first) fault: the file's deadline, else the live peer's
// observation time, else an explicit window's latest + grace, else the
// oracle's latest (`latest_after_fault`, nullopt when it predicts none) +
// grace, else kNoPredictionWait + grace.
std::chrono::nanoseconds waitAfterFault(const Expectation& x,
                                         std::optional<std::chrono::nanoseconds> latest_after_fault);

// A trial's protocol time: warm-up, the fault schedule and waitAfterFault.
std::chrono::nanoseconds protocolTime(const Scenario& sc,
                                       std::optional<std::chrono::nanoseconds> latest_after_fault);

}  // namespace deadpeer

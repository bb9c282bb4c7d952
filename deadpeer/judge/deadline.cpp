#include "deadpeer/judge/deadline.hpp"

#include <algorithm>

namespace deadpeer {

using std::chrono::milliseconds;

std::chrono::nanoseconds waitAfterFault(const Expectation& x,
                                        std::optional<std::chrono::nanoseconds> latest_after_fault) {
  if (x.deadline) return *x.deadline;
  if (x.observe.count() > 0) return x.observe;
  if (x.window == Expectation::Window::kExplicit) return x.latest + kDetectionGrace;
  if (!latest_after_fault) return kNoPredictionWait + kDetectionGrace;
  return *latest_after_fault + kDetectionGrace;
}

std::chrono::nanoseconds protocolTime(const Scenario& sc,
                                      std::optional<std::chrono::nanoseconds> latest_after_fault) {
  milliseconds last_fault{0};
  for (const auto& f : sc.faults) last_fault = std::max(last_fault, f.at);
  return sc.warmup + last_fault + waitAfterFault(sc.expect, latest_after_fault);
}

}  // namespace deadpeer

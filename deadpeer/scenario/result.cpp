#include "deadpeer/scenario/result.hpp"

#include <algorithm>

namespace deadpeer {

void QualityMetrics::derive() {
  t_mr.reset();
  t_m.reset();
  p_a.reset();
  if (observed.count() <= 0) return;
  p_a = 1.0 - suspected.count() / observed.count();
  if (mistakes == 0) return;
  t_mr = Seconds(observed.count() / mistakes);
  t_m = Seconds(suspected.count() / mistakes);
}

std::string_view verdictName(ScenarioResult::Verdict v) noexcept {
  switch (v) {
    case ScenarioResult::Verdict::kPass:
      return "pass";
    case ScenarioResult::Verdict::kFail:
      return "FAIL";
    case ScenarioResult::Verdict::kSkip:
      return "skip";
    case ScenarioResult::Verdict::kError:
      return "ERROR";
  }
  return "?";
}

namespace {

// Nearest rank: the smallest sample with at least p % of the samples at or
// below it, i.e. the ceil(p/100 x n)-th of the sorted samples. Integer
// arithmetic, so that 99 % of 100 samples is exactly the 99th.
Seconds nearestRank(const std::vector<Seconds>& sorted, std::size_t percent) {
  const std::size_t n = sorted.size();
  std::size_t rank = (percent * n + 99) / 100;
  rank = std::clamp<std::size_t>(rank, 1, n);
  return sorted[rank - 1];
}

}  // namespace

std::optional<Percentiles> percentiles(std::vector<Seconds> samples) {
  if (samples.empty()) return std::nullopt;
  std::sort(samples.begin(), samples.end());
  Percentiles p;
  p.p50 = nearestRank(samples, 50);
  p.p99 = nearestRank(samples, 99);
  p.max = samples.back();
  p.samples = static_cast<int>(samples.size());
  return p;
}

}  // namespace deadpeer

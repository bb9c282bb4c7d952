// The terminal table: one row per scenario variant, columns as wide as
// their widest cell, then the counts and the reason of every row that did
// not pass. Every time is after the trial's anchor (report/text.hpp,
// RowTimes), so the window and the percentiles beside it share one axis.
#include <algorithm>
#include <array>
#include <string_view>
#include <vector>

#include "deadpeer/report/report.hpp"
#include "deadpeer/report/text.hpp"

namespace deadpeer {
namespace {

constexpr std::size_t kColumns = 9;
using Row = std::array<std::string, kColumns>;
// Times read best right-aligned, words left-aligned.
constexpr std::array<bool, kColumns> kRightAligned = {false, false, false, false, true,
                                                      true,  true,  false, false};

// What the oracle read from a program's socket at the fault, as its
// reasoning says it ("read at the fault: redis-server (pid ...), socket ...").
std::vector<std::string> readSettings(const ScenarioResult& result) {
  static constexpr std::string_view kRead = "read at the fault: ";
  std::vector<std::string> out;
  if (result.trials.empty()) return out;
  for (const std::string& step : result.trials.front().window.reasoning)
    if (step.rfind(kRead, 0) == 0) out.push_back(step.substr(kRead.size()));
  return out;
}

void appendRow(std::string& out, const Row& row, const std::array<std::size_t, kColumns>& width) {
  std::string line;
  for (std::size_t c = 0; c < kColumns; ++c) {
    if (c > 0) line += "  ";
    const std::size_t pad = width[c] - std::min(width[c], row[c].size());
    if (kRightAligned[c]) line.append(pad, ' ');
    line += row[c];
    if (!kRightAligned[c]) line.append(pad, ' ');
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  out += line;
  out += '\n';
}

}  // namespace

std::string resultTable(const std::vector<ScenarioResult>& results) {
  std::vector<Row> rows;
  rows.push_back(
      {"SCENARIO", "DETECTOR", "FAULT", "AFTER", "WINDOW", "P50", "P99", "DETECTIONS", "VERDICT"});
  for (const ScenarioResult& result : results) {
    const report::RowTimes times = report::rowTimes(result);
    rows.push_back(
        {result.name, result.detector, result.fault, times.earliest ? times.from : "-",
         report::windowText(times), report::percentileText(times, &Percentiles::p50),
         report::percentileText(times, &Percentiles::p99),
         result.verdict == ScenarioResult::Verdict::kSkip ? "-" : report::detectionsText(times),
         std::string(verdictName(result.verdict))});
  }
  std::array<std::size_t, kColumns> width{};
  for (const Row& row : rows) {
    for (std::size_t c = 0; c < kColumns; ++c) width[c] = std::max(width[c], row[c].size());
  }

  std::string out;
  for (const Row& row : rows) appendRow(out, row, width);
  out += report::countsText(report::count(results));
  out += '\n';
  if (!results.empty()) {
    out += report::kTimeFrameNote;
    out += '\n';
  }

  // Programs: the settings the oracle read from their sockets.
  bool first_read = true;
  for (const ScenarioResult& result : results)
    for (const std::string& settings : readSettings(result)) {
      if (first_read) out += '\n';
      first_read = false;
      out += "read   " + result.name + ": " + settings + '\n';
    }

  bool first = true;
  for (const ScenarioResult& result : results) {
    if (result.verdict == ScenarioResult::Verdict::kPass) continue;
    if (first) out += '\n';
    first = false;
    std::string reason = result.reason;
    if (reason.empty() && result.verdict == ScenarioResult::Verdict::kFail) {
      for (const TrialResult& trial : result.trials) {
        if (!trial.failures.empty()) {
          reason = trial.failures.front();
          break;
        }
      }
    }
    std::string verdict(verdictName(result.verdict));
    verdict.resize(std::max<std::size_t>(verdict.size(), 5), ' ');
    out += verdict + "  " + result.name + ": " + (reason.empty() ? "(no reason given)" : reason) +
           '\n';
  }
  return out;
}

}  // namespace deadpeer

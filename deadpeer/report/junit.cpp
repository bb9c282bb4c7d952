// JUnit XML, the format CI systems read: one <testsuite> for the run, one
// <testcase> per scenario variant, classname = the fault folder.
#include <cstdio>

#include "deadpeer/report/report.hpp"
#include "deadpeer/report/text.hpp"

namespace deadpeer {
namespace {

std::string secondsAttribute(Seconds s) {
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%.3f", s.count());
  return buffer;
}

// Every failure of every trial, "trial 2: ..." when there are several
// trials; the result's reason when no trial said anything.
std::vector<std::string> failureLines(const ScenarioResult& result) {
  std::vector<std::string> lines;
  for (const TrialResult& trial : result.trials) {
    for (const std::string& failure : trial.failures) {
      lines.push_back(result.trials.size() > 1
                          ? "trial " + std::to_string(trial.trial) + ": " + failure
                          : failure);
    }
  }
  if (lines.empty() && !result.reason.empty()) lines.push_back(result.reason);
  if (lines.empty()) lines.push_back("failed");
  return lines;
}

// What the run measured, for the test's output pane.
std::string measuredText(const ScenarioResult& result) {
  std::string text = "expected " + report::windowText(result);
  if (result.detection) {
    text += ", measured p50 " + report::secondsText(result.detection->p50) + " s, p99 " +
            report::secondsText(result.detection->p99) + " s, max " +
            report::secondsText(result.detection->max) + " s over " +
            std::to_string(result.detection->samples) + " detection(s)";
  } else {
    text += ", no detection";
  }
  return text;
}

}  // namespace

std::string junitXml(const std::vector<ScenarioResult>& results) {
  using report::xmlEscape;
  const report::Counts counts = report::count(results);
  const std::string totals =
      "tests=\"" + std::to_string(counts.total) + "\" failures=\"" + std::to_string(counts.failed) +
      "\" errors=\"" + std::to_string(counts.errors) + "\" skipped=\"" +
      std::to_string(counts.skipped) + "\" time=\"" + secondsAttribute(counts.wall) + "\"";
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<testsuites name=\"deadpeer\" " + totals + ">\n";
  out += "  <testsuite name=\"deadpeer\" " + totals + ">\n";
  for (const ScenarioResult& result : results) {
    out += "    <testcase classname=\"" + xmlEscape(result.folder, true) + "\" name=\"" +
           xmlEscape(result.name, true) + "\"" +
           (result.file.empty() ? "" : " file=\"" + xmlEscape(result.file, true) + "\"") +
           " time=\"" + secondsAttribute(result.wall) + "\"";
    switch (result.verdict) {
      case ScenarioResult::Verdict::kPass:
        out += ">\n      <system-out>" + xmlEscape(measuredText(result)) + "</system-out>\n";
        break;
      case ScenarioResult::Verdict::kFail: {
        const std::vector<std::string> lines = failureLines(result);
        std::string message;
        std::string body;
        for (const std::string& line : lines) {
          message += (message.empty() ? "" : "; ") + line;
          body += line + "\n";
        }
        body += measuredText(result) + "\n";
        out += ">\n      <failure message=\"" + xmlEscape(message, true) + "\" type=\"FAIL\">" +
               xmlEscape(body) + "</failure>\n";
        break;
      }
      case ScenarioResult::Verdict::kSkip:
        out += ">\n      <skipped message=\"" + xmlEscape(result.reason, true) + "\"/>\n";
        break;
      case ScenarioResult::Verdict::kError:
        out += ">\n      <error message=\"" + xmlEscape(result.reason, true) +
               "\" type=\"ERROR\">" + xmlEscape(result.reason) + "</error>\n";
        break;
    }
    out += "    </testcase>\n";
  }
  out += "  </testsuite>\n";
  out += "</testsuites>\n";
  return out;
}

void writeJunit(const std::vector<ScenarioResult>& results, const std::filesystem::path& file) {
  report::writeFile(file, junitXml(results));
}

}  // namespace deadpeer

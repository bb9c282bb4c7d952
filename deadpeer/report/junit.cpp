// JUnit XML, the format CI systems read. What both strict schemas accept
// (fixtures/data/junit/: the Jenkins xUnit plugin's junit-10.xsd and the
// Ant JUnit.xsd), which is narrower than either:
//   - <testsuites> carries no attributes (Ant allows none);
//   - its <testsuite> carries package and id (Ant requires them inside
//     <testsuites>), timestamp without a zone and hostname (Ant requires
//     them), and skipped (both allow it there, not on <testsuites>);
//   - the suite's children come in Ant's order: properties, testcases,
//     system-out, system-err, each present;
//   - a <testcase> has name, classname and time only (no file) and at most
//     one of skipped/failure/error, nothing else: what was measured goes
//     in the failure's text and in the suite's system-out (the table).
#include <cstdio>

#include "deadpeer/report/report.hpp"
#include "deadpeer/report/text.hpp"

namespace deadpeer {
namespace {

// At most three decimals: junit-10.xsd's SUREFIRE_TIME.
std::string secondsAttribute(Seconds s) {
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%.3f", std::max(0.0, s.count()));
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

// What the run measured, in the table's frame.
std::string measuredText(const ScenarioResult& result) {
  const report::RowTimes row = report::rowTimes(result);
  std::string text = "window " + report::windowText(row);
  if (row.earliest) text += " after the " + row.from;
  text += "; " + report::detectionsText(row);
  if (row.since && !row.live) {
    text += "; p50 " + report::percentileText(row, &Percentiles::p50) + ", p99 " +
            report::percentileText(row, &Percentiles::p99) + ", max " +
            report::percentileText(row, &Percentiles::max) + " over " +
            std::to_string(row.since->samples) + " detection(s)";
  }
  return text;
}

std::string property(std::string_view name, std::string_view value) {
  return "      <property name=\"" + report::xmlEscape(name, true) + "\" value=\"" +
         report::xmlEscape(value, true) + "\"/>\n";
}

}  // namespace

std::string junitXml(const std::vector<ScenarioResult>& results, const RunInfo& run) {
  using report::xmlEscape;
  const report::Counts counts = report::count(results);
  std::string timestamp = utcTimestamp(run.started);
  if (timestamp.empty()) timestamp = utcTimestamp(std::chrono::system_clock::now());
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n";
  out += "  <testsuite name=\"deadpeer\" package=\"deadpeer\" id=\"0\" timestamp=\"" + timestamp +
         "\" hostname=\"" + xmlEscape(run.host.empty() ? "localhost" : run.host, true) +
         "\" tests=\"" + std::to_string(counts.total) + "\" failures=\"" +
         std::to_string(counts.failed) + "\" errors=\"" + std::to_string(counts.errors) +
         "\" skipped=\"" + std::to_string(counts.skipped) + "\" time=\"" +
         secondsAttribute(counts.wall) + "\">\n";
  out += "    <properties>\n";
  out += property("deadpeer.version", run.version);
  out += property("kernel", run.kernel);
  out += property("hz", run.hz == 0 ? "" : std::to_string(run.hz));
  out += property("hostname", run.host);
  out += property("started", timestamp + "Z");
  std::string command;
  for (const std::string& word : run.command) command += (command.empty() ? "" : " ") + word;
  out += property("command", command);
  out += property("times", report::kTimeFrameNote);
  out += "    </properties>\n";
  for (const ScenarioResult& result : results) {
    out += "    <testcase classname=\"" +
           xmlEscape(result.folder.empty() ? "deadpeer" : result.folder, true) + "\" name=\"" +
           xmlEscape(result.name, true) + "\" time=\"" + secondsAttribute(result.wall) + "\"";
    switch (result.verdict) {
      case ScenarioResult::Verdict::kPass:
        out += "/>\n";
        continue;
      case ScenarioResult::Verdict::kFail: {
        const std::vector<std::string> lines = failureLines(result);
        std::string message;
        std::string body;
        for (const std::string& line : lines) {
          message += (message.empty() ? "" : "; ") + line;
          body += line + "\n";
        }
        if (!result.file.empty()) body += "file: " + report::relativePath(result.file) + "\n";
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
  out += "    <system-out>" + xmlEscape(resultTable(results)) + "</system-out>\n";
  out += "    <system-err></system-err>\n";
  out += "  </testsuite>\n</testsuites>\n";
  return out;
}

void writeJunit(const std::vector<ScenarioResult>& results, const std::filesystem::path& file,
                const RunInfo& run) {
  report::writeFile(file, junitXml(results, run));
}

}  // namespace deadpeer

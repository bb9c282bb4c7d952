// report: the results of a run as a terminal table, JSON, JUnit XML and a
// self-contained HTML page (inline CSS and one SVG timeline per scenario, no
// network fetches).
//
// Threading: pure functions of the results; the writers throw Error (with
// the path) when a file cannot be written.
#pragma once

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "deadpeer/scenario/result.hpp"

namespace deadpeer {

// What ran, where and when: printed by the JSON, the HTML and the JUnit
// properties so that a result file says which kernel it measured.
struct RunInfo {
  std::string version;  // deadpeer's version
  std::string kernel;   // uname(2): release and version, "6.18.0 #1 SMP ..."
  int hz = 0;           // the kernel's HZ as TimerWheel::probe() measured it; 0 unknown
  std::string host;     // gethostname(2)
  std::chrono::system_clock::time_point started{};  // epoch: unknown
  std::vector<std::string> command;                 // argv

  // Reads the running system now. Never throws: a fact it cannot read
  // stays empty (hz 0) rather than hide the results.
  static RunInfo collect(std::vector<std::string> command);
};

// "2026-11-29T13:07:06": UTC, without a zone (the Ant JUnit schema's
// pattern); "" for the epoch.
std::string utcTimestamp(std::chrono::system_clock::time_point t);

// One row per scenario variant: scenario, detector, fault, the anchor the
// times count from, the window, p50/p99 after that anchor, detections in
// their windows, verdict. Plain text, fixed-width columns.
std::string resultTable(const std::vector<ScenarioResult>& results);

namespace report {
// Every way a row would contradict itself: a "pass" whose p50, p99 or max
// lies outside the window printed beside it, whose detections are not all in
// their windows, or a "never" row that shows a detection. Empty when the
// reports are consistent; the CLI and the tests call it on real runs.
std::vector<std::string> contradictions(const std::vector<ScenarioResult>& results);
}  // namespace report

// The results format (docs/results.schema.json); results_file.hpp reads it back.
inline constexpr int kResultsFormatVersion = 2;
nlohmann::json resultsJson(const std::vector<ScenarioResult>& results, const RunInfo& run = {});
void writeJson(const std::vector<ScenarioResult>& results, const std::filesystem::path& file,
               const RunInfo& run = {});

// JUnit XML valid against both the Jenkins xUnit plugin's junit-10.xsd and
// the Ant JUnit schema (fixtures/data/junit/): <testsuites> holding one
// <testsuite> with the run's properties, one <testcase> per scenario variant
// (classname = folder) with <failure>/<skipped>/<error> and the reason, and
// the table as the suite's <system-out>.
std::string junitXml(const std::vector<ScenarioResult>& results, const RunInfo& run = {});
void writeJunit(const std::vector<ScenarioResult>& results, const std::filesystem::path& file,
                const RunInfo& run = {});

// A page for people: the run's facts and the summary table first, then per
// scenario its trials' timelines on one shared axis (seconds after the
// anchor) with the window as a band, or a distribution of the detections
// when there are too many to draw one by one.
std::string html(const std::vector<ScenarioResult>& results, const RunInfo& run = {});
void writeHtml(const std::vector<ScenarioResult>& results, const std::filesystem::path& file,
               const RunInfo& run = {});

}  // namespace deadpeer

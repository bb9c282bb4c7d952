// report: the results of a run as a terminal table, JSON, JUnit XML and a
// self-contained HTML page (inline CSS and one SVG timeline per scenario, no
// network fetches).
//
// Threading: pure functions of the results; the writers throw Error (with
// the path) when a file cannot be written.
#pragma once

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "deadpeer/scenario/result.hpp"

namespace deadpeer {

// One row per scenario variant: scenario, detector, fault, expected window,
// measured p50/p99, verdict. Plain text, fixed-width columns.
std::string resultTable(const std::vector<ScenarioResult>& results);

nlohmann::json resultsJson(const std::vector<ScenarioResult>& results);
void writeJson(const std::vector<ScenarioResult>& results, const std::filesystem::path& file);

// JUnit XML: one <testsuite> per run, one <testcase> per scenario variant
// (classname = folder), <failure>/<skipped>/<error> with the reason.
std::string junitXml(const std::vector<ScenarioResult>& results);
void writeJunit(const std::vector<ScenarioResult>& results, const std::filesystem::path& file);

// Each timeline: the connection as a line, the last activity, the fault
// (and its revert), each probe, ping, pong, RST, FIN and ICMP seen on the
// wire, the detections, and the oracle window as a band.
std::string html(const std::vector<ScenarioResult>& results);
void writeHtml(const std::vector<ScenarioResult>& results, const std::filesystem::path& file);

}  // namespace deadpeer

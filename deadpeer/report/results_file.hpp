// report/results_file: a results file written by writeJson, read back into
// the ScenarioResults it was written from, so that the results of several
// runs (the shards of one run on several machines) can be combined and
// reported with the same table, JSON, JUnit and HTML writers as one run
// (`deadpeer merge`).
//
// What the JSON keeps is what comes back: times relative to each trial's
// fault (T = 0) are placed after an arbitrary common origin on the
// monotonic clock, which every report draws relative to, so writing what
// was read gives the same JSON again. Keys the reader does not know are
// ignored; a key it needs that is missing or of the wrong type is an error.
//
// Bounded: a file above kMaxResultsFileBytes is refused before it is parsed.
//
// Threading: pure functions, apart from reading the file.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "deadpeer/report/report.hpp"
#include "deadpeer/scenario/result.hpp"

namespace deadpeer {

constexpr std::size_t kMaxResultsFileBytes = std::size_t{1} << 30;

// Throws Error naming `source` and the JSON pointer of the offending value
// ("results.json: /results/3/trials/0/window/earliest: expected a number").
std::vector<ScenarioResult> resultsFromJson(const nlohmann::json& document,
                                            const std::string& source);

// The run's facts ("run"); empty fields when the file has none.
RunInfo runInfoFromJson(const nlohmann::json& document, const std::string& source);

struct ResultsFile {
  RunInfo run;
  std::vector<ScenarioResult> results;
};
// Reads and parses `file`; throws Error naming the file when it cannot be
// read, is too large, is not JSON, or is not a deadpeer results file of
// this format version.
ResultsFile readResultsFile(const std::filesystem::path& file);
std::vector<ScenarioResult> readResultsJson(const std::filesystem::path& file);

}  // namespace deadpeer

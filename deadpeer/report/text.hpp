// report/text: what every report format shares (internal to report/): the
// way times, windows and errnos are written, escaping for XML and HTML, the
// run's counts, and writing a file with an Error that names it.
//
// Threading: pure functions.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "deadpeer/scenario/result.hpp"

namespace deadpeer::report {

// "4.00" for one second and more, "0.250" below (two significant decimals
// are too coarse for heartbeat windows of a few hundred ms).
std::string secondsText(Seconds s);
// The expected window of a result, from its first trial: "4.00-4.14 s",
// "never", or "-" when there is no trial.
std::string windowText(const ScenarioResult& result);
// "pass", "fail", "skip", "error": a verdict as a JSON value and a CSS class.
std::string verdictKey(ScenarioResult::Verdict v);
// "ETIMEDOUT"; "" for 0; the number when glibc has no name for it.
std::string errnoName(int error);

// `text` with each invalid UTF-8 sequence replaced by U+FFFD (event text
// comes from external programs).
std::string validUtf8(std::string_view text);
// validUtf8, and each
// control character XML 1.0 forbids (all below 0x20 but tab, LF, CR) by '?'.
std::string xmlSafe(std::string_view text);
// Escapes & < > " ' (and, in attributes, tab, LF and CR as character
// references so that they survive attribute normalisation).
std::string xmlEscape(std::string_view text, bool attribute = false);
// xmlEscape, and "http" written as "&#104;ttp": the page then holds no
// address, even in text a user wrote (a reason quoting a URL), so the only
// "http" in it is the SVG namespace.
std::string htmlEscape(std::string_view text);

// The trial's T = 0 on CLOCK_MONOTONIC: fault_at when set, else derived from
// the oracle's window (absolute and relative), else none.
std::optional<Event::Clock::time_point> faultTime(const TrialResult& trial);

struct Counts {
  int total = 0;
  int passed = 0;
  int failed = 0;
  int skipped = 0;
  int errors = 0;
  Seconds wall{};
};
Counts count(const std::vector<ScenarioResult>& results);
// "3 passed, 1 failed, 0 skipped, 0 errors (4 scenarios, 12.3 s)"
std::string countsText(const Counts& counts);

// Writes `content` to `file` (truncating it); throws Error naming the file
// with errno when it cannot be opened, written or closed.
void writeFile(const std::filesystem::path& file, std::string_view content);

}  // namespace deadpeer::report

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

// "4.090", "0.250": always milliseconds, never "-0.000".
std::string secondsText(Seconds s);

// What one row of every report shows, in the one frame every report uses:
// seconds after each trial's anchor (TrialResult::anchor, what its window
// counts from). In that frame the windows of a scenario's trials agree up
// to the timer wheel's phase, so one window and percentiles pooled over
// every trial can be printed side by side.
struct RowTimes {
  // The union of the checked windows of the trials, after their anchors.
  // Unset when no trial held its detections to a window.
  std::optional<Seconds> earliest;
  std::optional<Seconds> latest;
  // What the window counts from, without "the": "last received segment";
  // "anchor" when the trials differ; "fault" without a window.
  std::string from;
  int detections = 0;
  int in_window = 0;                 // detections inside their own trial's window
  bool never_expected = false;       // the scenario expects no detection
  bool live = false;                 // a live peer: detections are mistakes
  Seconds observed{};                // the longest watch after a fault
  std::optional<Percentiles> since;  // ScenarioResult::detection
};
RowTimes rowTimes(const ScenarioResult& result);
// "last segment" for "the last received segment": an anchor in a column.
std::string anchorShortName(std::string_view anchor_name);
// The one sentence every report prints under its times.
inline constexpr std::string_view kTimeFrameNote =
    "Times are seconds after each trial's anchor (AFTER): what the kernel's rule counts from, "
    "mostly the connection's last activity before the fault. Windows are the oracle's "
    "(or the file's), one per trial, joined; p50/p99 pool every detection of every trial.";

// "4.000-4.110 s", "never" (nothing must detect), "-" (no window was checked).
std::string windowText(const RowTimes& row);
// "3/3 in window", "none in 12.300 s", "0 mistakes in 20.000 s", "2 (no window)".
std::string detectionsText(const RowTimes& row);
// "4.090 s" or "-" for p50/p99/max.
std::string percentileText(const RowTimes& row, Seconds Percentiles::*field);

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

// `path` relative to the working directory ("scenarios/crash/x.yaml"), as
// CI systems link it; unchanged when relative already or when that fails.
std::string relativePath(const std::string& path);

// Writes `content` to `file` (truncating it); throws Error naming the file
// with errno when it cannot be opened, written or closed.
void writeFile(const std::filesystem::path& file, std::string_view content);

}  // namespace deadpeer::report

// cli/progress: what `deadpeer run` shows while it runs, in the manner of
// ctest: one line per finished scenario variant ("  3/41 pass   crash/...
// 4.2 s"), and, on a terminal, one live status line below them that shows
// every running job's current phase and elapsed time, cut to the
// terminal's width so that it never wraps (a wrapped line cannot be
// redrawn with a carriage return, and leaves stale copies behind).
//
// Plain output (finished lines only, no escape sequences, no carriage
// returns) when the stream is not a terminal, when NO_COLOR is set to
// anything non-empty (no-color.org), or when TERM is unset or "dumb".
//
// Threading: every member is safe from any thread (one mutex). A ticker
// thread redraws the status line every 200 ms on a terminal; it is joined
// by the destructor, which also erases the status line.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "deadpeer/scenario/result.hpp"

namespace deadpeer::cli {

struct ProgressStyle {
  bool live = false;    // a redrawn status line (and colour)
  // Reads isatty(fd), NO_COLOR and TERM.
  static ProgressStyle detect(int fd);
};

// `text` cut to at most `columns` characters (UTF-8 code points, each
// counted as one column), with "..." at the end when it was cut.
std::string fitColumns(const std::string& text, std::size_t columns);

class Progress {
 public:
  // `total`: the scenario variants the run will report; `jobs`: how many
  // may run at once.
  Progress(std::FILE* out, ProgressStyle style, std::size_t total, int jobs);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Job `job` (0-based) entered a phase: the runner's progress line.
  void phase(int job, const std::string& line);
  // Job `job` finished a scenario: one line per variant.
  void finished(int job, const std::vector<ScenarioResult>& results);
  // A line outside the table of finished scenarios ("interrupted ...").
  void note(const std::string& line);
  // Erases the status line and stops redrawing it (the table follows).
  void close();

 private:
  struct Job {
    std::string line;  // empty: idle
    std::chrono::steady_clock::time_point since{};
  };
  void tick();
  void drawLocked();
  void eraseLocked();
  std::size_t columns() const;

  std::FILE* out_;
  ProgressStyle style_;
  std::size_t total_;
  std::size_t done_ = 0;
  std::vector<Job> jobs_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool closed_ = false;
  bool drawn_ = false;  // a status line is on the screen
  std::thread ticker_;
};

}  // namespace deadpeer::cli

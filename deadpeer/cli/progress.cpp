#include "deadpeer/cli/progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string_view>

namespace deadpeer::cli {
namespace {

using Clock = std::chrono::steady_clock;

// Columns when the terminal does not say (and COLUMNS is unset).
constexpr std::size_t kDefaultColumns = 80;
// How often the status line's elapsed times are redrawn.
constexpr std::chrono::milliseconds kTick{200};

bool isContinuation(unsigned char c) { return (c & 0xC0) == 0x80; }

std::size_t codePoints(std::string_view s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return !isContinuation(c); }));
}

// The byte offset after the first `n` code points of `s`.
std::size_t prefixBytes(std::string_view s, std::size_t n) {
  std::size_t i = 0;
  for (std::size_t seen = 0; i < s.size(); ++i) {
    if (!isContinuation(static_cast<unsigned char>(s[i])) && seen++ == n) break;
  }
  return i;
}

std::string elapsedText(Clock::duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", std::chrono::duration<double>(d).count());
  return buf;
}

const char* verdictColour(ScenarioResult::Verdict v) {
  switch (v) {
    case ScenarioResult::Verdict::kPass:
      return "\033[32m";
    case ScenarioResult::Verdict::kSkip:
      return "\033[33m";
    case ScenarioResult::Verdict::kFail:
    case ScenarioResult::Verdict::kError:
      return "\033[31m";
  }
  return "";
}

}  // namespace

ProgressStyle ProgressStyle::detect(int fd) {
  ProgressStyle style;
  const char* no_colour = std::getenv("NO_COLOR");
  const char* term = std::getenv("TERM");
  const bool dumb = term == nullptr || std::string_view(term).empty() || std::string_view(term) == "dumb";
  style.live = ::isatty(fd) == 1 && !dumb && !(no_colour != nullptr && *no_colour != '\0');
  return style;
}

std::string fitColumns(const std::string& text, std::size_t columns) {
  if (codePoints(text) <= columns) return text;
  if (columns <= 3) return text.substr(0, prefixBytes(text, columns));
  return text.substr(0, prefixBytes(text, columns - 3)) + "...";
}

Progress::Progress(std::FILE* out, ProgressStyle style, std::size_t total, int jobs)
    : out_(out), style_(style), total_(total), jobs_(static_cast<std::size_t>(std::max(1, jobs))) {
  if (style_.live) ticker_ = std::thread([this] { tick(); });
}

Progress::~Progress() { close(); }

void Progress::close() {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
    eraseLocked();
    std::fflush(out_);
  }
  wake_.notify_all();
  if (ticker_.joinable()) ticker_.join();
}

void Progress::phase(int job, const std::string& line) {
  std::lock_guard lock(mutex_);
  if (job < 0 || static_cast<std::size_t>(job) >= jobs_.size()) return;
  Job& j = jobs_[static_cast<std::size_t>(job)];
  // The clock restarts with each trial (the text before ':'), not with
  // each phase of it.
  const auto trial = [](const std::string& s) { return s.substr(0, s.find(':')); };
  if (j.line.empty() || trial(line) != trial(j.line)) j.since = Clock::now();
  j.line = line;
  // A new phase shows at once, not at the next tick.
  drawLocked();
  if (style_.live) std::fflush(out_);
}

void Progress::finished(int job, const std::vector<ScenarioResult>& results) {
  std::lock_guard lock(mutex_);
  if (job >= 0 && static_cast<std::size_t>(job) < jobs_.size())
    jobs_[static_cast<std::size_t>(job)].line.clear();
  eraseLocked();
  const int width = static_cast<int>(std::to_string(total_).size());
  for (const ScenarioResult& r : results) {
    ++done_;
    std::string verdict(verdictName(r.verdict));
    verdict.resize(std::max<std::size_t>(verdict.size(), 5), ' ');
    if (style_.live) verdict = verdictColour(r.verdict) + verdict + "\033[0m";
    char wall[32];
    std::snprintf(wall, sizeof wall, "%.2f s", r.wall.count());
    std::fprintf(out_, "%*zu/%zu  %s  %s  %s\n", width, done_, total_, verdict.c_str(),
                 r.name.c_str(), wall);
  }
  drawLocked();
  std::fflush(out_);
}

void Progress::note(const std::string& line) {
  std::lock_guard lock(mutex_);
  eraseLocked();
  std::fprintf(out_, "%s\n", line.c_str());
  drawLocked();
  std::fflush(out_);
}

std::size_t Progress::columns() const {
  winsize ws{};
  if (::ioctl(::fileno(out_), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  if (const char* c = std::getenv("COLUMNS")) {
    const long n = std::strtol(c, nullptr, 10);
    if (n > 0 && n < 10'000) return static_cast<std::size_t>(n);
  }
  return kDefaultColumns;
}

void Progress::eraseLocked() {
  if (!drawn_) return;
  std::fputs("\r\033[K", out_);
  drawn_ = false;
}

// "[3/41] crash/a [ipv4] trial 1: warming up 0.4s | reboot/b ...": every
// running job gets an equal share of the width. One column stays free: a
// line that fills the last column makes some terminals wrap at once.
void Progress::drawLocked() {
  if (!style_.live || closed_) return;
  const std::size_t width = columns() > 1 ? columns() - 1 : 1;
  std::string line = "[" + std::to_string(done_) + "/" + std::to_string(total_) + "]";
  std::vector<const Job*> running;
  for (const Job& j : jobs_)
    if (!j.line.empty()) running.push_back(&j);
  const auto now = Clock::now();
  if (!running.empty()) {
    const std::string separator = " | ";
    const std::size_t room = width > codePoints(line) + 1 ? width - codePoints(line) - 1 : 0;
    const std::size_t share =
        (room + separator.size()) / running.size() > separator.size()
            ? (room + separator.size()) / running.size() - separator.size()
            : 0;
    line += ' ';
    for (std::size_t i = 0; i < running.size(); ++i) {
      const std::string elapsed = elapsedText(now - running[i]->since);
      std::string segment;
      if (share > elapsed.size() + 1)
        segment = fitColumns(running[i]->line, share - elapsed.size() - 1) + " " + elapsed;
      else
        segment = fitColumns(elapsed, share);
      if (i > 0) line += separator;
      line += segment;
    }
  }
  std::fputs(("\r\033[K" + fitColumns(line, width)).c_str(), out_);
  drawn_ = true;
}

void Progress::tick() {
  std::unique_lock lock(mutex_);
  // Bounded by the owner: close() sets closed_ and wakes this thread.
  while (!closed_) {
    drawLocked();
    std::fflush(out_);
    wake_.wait_for(lock, kTick);
  }
}

}  // namespace deadpeer::cli

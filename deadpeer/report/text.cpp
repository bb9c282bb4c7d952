#include "deadpeer/report/text.hpp"

#include <strings.h>
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "deadpeer/error.hpp"

namespace deadpeer::report {

std::string secondsText(Seconds s) {
  char buffer[48];
  double v = s.count();
  if (std::fabs(v) < 0.0005) v = 0;  // never "-0.000"
  std::snprintf(buffer, sizeof buffer, "%.3f", v);
  return buffer;
}

std::string anchorShortName(std::string_view anchor_name) {
  // The oracle's anchors (oracle.cpp) and the runner's default.
  static constexpr std::pair<std::string_view, std::string_view> kShort[] = {
      {"the last received segment", "last segment"},
      {"the last sign of life", "last sign of life"},
      {"the send", "send"},
      {"the first zero-window probe", "zero-window probe"},
      {"the kill", "kill"},
      {"the fault", "fault"},
  };
  for (const auto& [name, short_name] : kShort)
    if (name == anchor_name) return std::string(short_name);
  std::string name(anchor_name);
  if (name.rfind("the ", 0) == 0) name.erase(0, 4);
  return name;
}

RowTimes rowTimes(const ScenarioResult& result) {
  RowTimes row;
  row.since = result.detection;
  std::optional<std::string> from;
  bool mixed = false;
  for (const TrialResult& trial : result.trials) {
    row.observed = std::max(row.observed, trial.observed);
    row.detections += static_cast<int>(trial.detections.size());
    const bool live = trial.quality && !trial.detection_expected;
    if (live) row.live = true;
    if (!trial.detection_expected && !live) row.never_expected = true;
    if (!trial.window_checked) continue;
    const Seconds lo = trial.window_earliest - trial.anchor;
    const Seconds hi = trial.window_latest - trial.anchor;
    row.earliest = row.earliest ? std::min(*row.earliest, lo) : lo;
    row.latest = row.latest ? std::max(*row.latest, hi) : hi;
    for (const Detection& d : trial.detections)
      if (d.at >= trial.window_earliest && d.at <= trial.window_latest) ++row.in_window;
    const std::string name = anchorShortName(trial.anchor_name);
    if (from && *from != name) mixed = true;
    if (!from) from = name;
  }
  row.from = mixed ? "anchor" : from.value_or("fault");
  return row;
}

std::string windowText(const RowTimes& row) {
  if (row.earliest && row.latest)
    return secondsText(*row.earliest) + "-" + secondsText(*row.latest) + " s";
  if (row.never_expected || row.live) return "never";
  return "-";
}

std::string detectionsText(const RowTimes& row) {
  const std::string in = " in " + secondsText(row.observed) + " s";
  if (row.live)
    return std::to_string(row.detections) + (row.detections == 1 ? " mistake" : " mistakes") + in;
  if (row.detections == 0) return "none" + in;
  if (row.earliest)
    return std::to_string(row.in_window) + "/" + std::to_string(row.detections) + " in window";
  return std::to_string(row.detections) + " (no window)";
}

std::string percentileText(const RowTimes& row, Seconds Percentiles::*field) {
  if (!row.since || row.live) return "-";
  return secondsText((*row.since).*field) + " s";
}

std::vector<std::string> contradictions(const std::vector<ScenarioResult>& results) {
  std::vector<std::string> out;
  for (const ScenarioResult& result : results) {
    if (result.verdict != ScenarioResult::Verdict::kPass) continue;
    const RowTimes row = rowTimes(result);
    auto say = [&](const std::string& what) { out.push_back(result.name + ": pass, but " + what); };
    if (row.earliest && row.since) {
      for (auto [name, field] : {std::pair{"p50", &Percentiles::p50},
                                 {"p99", &Percentiles::p99},
                                 {"max", &Percentiles::max}}) {
        const Seconds v = (*row.since).*field;
        if (v < *row.earliest || v > *row.latest)
          say(std::string(name) + " " + secondsText(v) + " s is outside the window " +
              windowText(row));
      }
    }
    if (row.earliest && row.in_window != row.detections)
      say(std::to_string(row.detections - row.in_window) +
          " detection(s) outside their own trial's window");
    if (row.never_expected && row.detections > 0)
      say("the window is never and it shows " + std::to_string(row.detections) + " detection(s)");
    int samples = row.since ? row.since->samples : 0;
    if (samples != (row.live ? samples : row.detections))
      say("the percentiles count " + std::to_string(samples) + " detections of " +
          std::to_string(row.detections));
  }
  return out;
}

std::string verdictKey(ScenarioResult::Verdict v) {
  switch (v) {
    case ScenarioResult::Verdict::kPass:
      return "pass";
    case ScenarioResult::Verdict::kFail:
      return "fail";
    case ScenarioResult::Verdict::kSkip:
      return "skip";
    case ScenarioResult::Verdict::kError:
      return "error";
  }
  return "error";
}

std::string errnoName(int error) {
  if (error == 0) return "";
  if (const char* name = strerrorname_np(error)) return name;
  return std::to_string(error);
}

namespace {

// The length of the valid UTF-8 sequence at the start of `s`, 0 if invalid
// (overlong forms, surrogates and code points above U+10FFFF included).
std::size_t utf8Length(std::string_view s) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char lead = byte(0);
  std::size_t length = 0;
  char32_t cp = 0;
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    cp = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    cp = lead & 0x0F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    cp = lead & 0x07;
  } else {
    return 0;
  }
  if (s.size() < length) return 0;
  for (std::size_t i = 1; i < length; ++i) {
    if ((byte(i) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i) & 0x3F);
  }
  if ((length == 3 && cp < 0x800) || (length == 4 && cp < 0x10000)) return 0;
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
  if (cp > 0x10FFFF) return 0;
  return length;
}

}  // namespace

namespace {

std::string sanitize(std::string_view text, bool xml) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const std::size_t length = utf8Length(text);
    if (length == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      text.remove_prefix(1);
      continue;
    }
    const unsigned char c = static_cast<unsigned char>(text[0]);
    if (xml && length == 1 && ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F)) {
      out += '?';
    } else {
      out.append(text.substr(0, length));
    }
    text.remove_prefix(length);
  }
  return out;
}

}  // namespace

std::string validUtf8(std::string_view text) { return sanitize(text, false); }

std::string xmlSafe(std::string_view text) { return sanitize(text, true); }

std::string xmlEscape(std::string_view text, bool attribute) {
  const std::string safe = xmlSafe(text);
  std::string out;
  out.reserve(safe.size() + safe.size() / 8);
  for (char c : safe) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '\t':
        out += attribute ? "&#9;" : "\t";
        break;
      case '\n':
        out += attribute ? "&#10;" : "\n";
        break;
      case '\r':
        out += attribute ? "&#13;" : "\r";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string htmlEscape(std::string_view text) {
  const std::string escaped = xmlEscape(text, true);
  std::string out;
  out.reserve(escaped.size());
  for (std::size_t i = 0; i < escaped.size(); ++i) {
    if (escaped.size() - i >= 4 && (escaped[i] == 'h' || escaped[i] == 'H') &&
        strncasecmp(escaped.c_str() + i + 1, "ttp", 3) == 0) {
      out += escaped[i] == 'h' ? "&#104;" : "&#72;";
      continue;
    }
    out += escaped[i];
  }
  return out;
}

std::optional<Event::Clock::time_point> faultTime(const TrialResult& trial) {
  if (trial.fault_at != Event::Clock::time_point{}) return trial.fault_at;
  if (!trial.window.never && trial.window.earliest != Event::Clock::time_point{}) {
    return trial.window.earliest -
           std::chrono::duration_cast<Event::Clock::duration>(trial.window_earliest);
  }
  return std::nullopt;
}

Counts count(const std::vector<ScenarioResult>& results) {
  Counts counts;
  for (const ScenarioResult& result : results) {
    ++counts.total;
    counts.wall += result.wall;
    switch (result.verdict) {
      case ScenarioResult::Verdict::kPass:
        ++counts.passed;
        break;
      case ScenarioResult::Verdict::kFail:
        ++counts.failed;
        break;
      case ScenarioResult::Verdict::kSkip:
        ++counts.skipped;
        break;
      case ScenarioResult::Verdict::kError:
        ++counts.errors;
        break;
    }
  }
  return counts;
}

std::string countsText(const Counts& counts) {
  char buffer[160];
  std::snprintf(
      buffer, sizeof buffer, "%d passed, %d failed, %d skipped, %d error%s (%d scenario%s, %.1f s)",
      counts.passed, counts.failed, counts.skipped, counts.errors, counts.errors == 1 ? "" : "s",
      counts.total, counts.total == 1 ? "" : "s", counts.wall.count());
  return buffer;
}

std::string relativePath(const std::string& path) {
  const std::filesystem::path p(path);
  if (path.empty() || p.is_relative()) return path;
  std::error_code error;
  const std::filesystem::path cwd = std::filesystem::current_path(error);
  if (error) return path;
  const std::filesystem::path relative = p.lexically_proximate(cwd);
  return relative.empty() ? path : relative.string();
}

void writeFile(const std::filesystem::path& file, std::string_view content) {
  const std::string object = quoted("file", file.string());
  std::FILE* stream = std::fopen(file.c_str(), "w");
  if (stream == nullptr) throw Error::fromErrno("open", object, "", errno);
  if (!content.empty() &&
      std::fwrite(content.data(), 1, content.size(), stream) != content.size()) {
    const int error = errno != 0 ? errno : EIO;
    std::fclose(stream);
    throw Error::fromErrno("write", object, "", error);
  }
  if (std::fclose(stream) != 0) throw Error::fromErrno("close", object, "", errno);
}

}  // namespace deadpeer::report

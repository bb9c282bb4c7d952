#include "deadpeer/scenario/parse/reader.hpp"

#include <re2/re2.h>

#include "deadpeer/text.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace deadpeer::parse {

using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

// Optimal string alignment distance: a swapped pair of letters is one typo.
std::size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

SourceMark markOf(const YAML::Mark& mark) {
  if (mark.line < 0) return {};
  return {mark.line + 1, mark.column + 1};
}

std::string join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string listed(const std::vector<std::string_view>& names, std::string_view last) {
  std::string text;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) text += i + 1 == names.size() ? std::string(last) : std::string(", ");
    text += names[i];
  }
  return text;
}

std::string suggestion(std::string_view word, std::vector<std::string_view> known) {
  std::sort(known.begin(), known.end());
  known.erase(std::unique(known.begin(), known.end()), known.end());
  if (known.empty()) return "";
  std::string_view best;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  for (std::string_view k : known) {
    const std::size_t distance = editDistance(word, k);
    if (distance < best_distance) best = k, best_distance = distance;
  }
  // Two edits make most typos; on short words that would match anything.
  const std::size_t limit = std::min<std::size_t>(2, std::max<std::size_t>(1, word.size() / 3));
  if (!best.empty() && best_distance <= limit)
    return "; did you mean \"" + std::string(best) + "\"?";
  return "; expected " + listed(known);
}

Plain plainType(const YAML::Node& node) {
  if (node.IsNull()) return Plain::kNull;
  if (node.Tag() != "?") return Plain::kString;
  // RE2: linear time and no recursion, whatever the length of the scalar
  // (std::regex recursed once per character and overflowed the stack on a
  // 26,000-digit number).
  static const re2::RE2 kNull("~|null|Null|NULL|");
  static const re2::RE2 kBool("true|True|TRUE|false|False|FALSE");
  static const re2::RE2 kInt("[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+");
  static const re2::RE2 kFloat(
      "[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|"
      "NAN)");
  const std::string& text = node.Scalar();
  if (re2::RE2::FullMatch(text, kNull)) return Plain::kNull;
  if (re2::RE2::FullMatch(text, kBool)) return Plain::kBool;
  if (re2::RE2::FullMatch(text, kInt)) return Plain::kInt;
  if (re2::RE2::FullMatch(text, kFloat)) return Plain::kFloat;
  return Plain::kString;
}

std::string described(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a mapping";
  if (node.Tag() != "?") return "the string \"" + node.Scalar() + "\"";
  if (plainType(node) == Plain::kNull) return "nothing";
  return plainType(node) == Plain::kString ? "\"" + node.Scalar() + "\"" : node.Scalar();
}

std::string durationText(milliseconds value) {
  if (value.count() % 1000 == 0) return std::to_string(value.count() / 1000) + "s";
  return std::to_string(value.count()) + "ms";
}

std::optional<std::string> Reader::text(const Entry& at) {
  if (!at.value.IsScalar() || plainType(at.value) == Plain::kNull) {
    error(at, "must be a string, got " + described(at.value));
    return std::nullopt;
  }
  if (plainType(at.value) != Plain::kString) {
    error(at,
          "must be a string, got " + described(at.value) + " (quote it if it is meant as text)");
    return std::nullopt;
  }
  return checkedText(at);
}

// Text goes into reports, file names and command lines: UTF-8 without NUL
// (a NUL would cut a C string where the rest of the text still counts).
std::optional<std::string> Reader::checkedText(const Entry& at) {
  if (auto problem = textProblem(at.value.Scalar())) {
    error(at, *problem);
    return std::nullopt;
  }
  return at.value.Scalar();
}

std::optional<std::string> Reader::scalar(const Entry& at) {
  if (!at.value.IsScalar() || plainType(at.value) == Plain::kNull) {
    error(at, "must be a string or a number, got " + described(at.value));
    return std::nullopt;
  }
  return checkedText(at);
}

std::optional<long long> Reader::integer(const Entry& at, long long low, long long high) {
  if (!at.value.IsScalar() || plainType(at.value) != Plain::kInt) {
    error(at, "must be an integer, got " + described(at.value));
    return std::nullopt;
  }
  const std::string& s = at.value.Scalar();
  long long value = 0;
  const char* begin = s.data() + (s[0] == '+' ? 1 : 0);
  const auto [end, ec] = std::from_chars(begin, s.data() + s.size(), value);
  if (ec == std::errc::result_out_of_range ||
      (ec == std::errc() && (value < low || value > high))) {
    error(at, "must be between " + std::to_string(low) + " and " + std::to_string(high) +
                  ", got " + s);
    return std::nullopt;
  }
  if (ec != std::errc() || end != s.data() + s.size()) {
    error(at, "must be a decimal integer, got " + s);
    return std::nullopt;
  }
  return value;
}

std::optional<double> Reader::number(const Entry& at) {
  const Plain type = at.value.IsScalar() ? plainType(at.value) : Plain::kString;
  if (type != Plain::kInt && type != Plain::kFloat) {
    error(at, "must be a number, got " + described(at.value));
    return std::nullopt;
  }
  // YAML's .nan and .inf are numbers to YAML but no setting's value, and
  // strtod reads neither (".nan" came out as 0).
  const std::string& text = at.value.Scalar();
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(value)) {
    error(at, "must be a finite number, got " + text);
    return std::nullopt;
  }
  return value;
}

std::optional<bool> Reader::boolean(const Entry& at) {
  if (!at.value.IsScalar() || plainType(at.value) != Plain::kBool) {
    error(at, "must be true or false, got " + described(at.value));
    return std::nullopt;
  }
  return at.value.Scalar()[0] == 't' || at.value.Scalar()[0] == 'T';
}

std::optional<milliseconds> Reader::duration(const Entry& at) {
  const bool scalar = at.value.IsScalar() && plainType(at.value) != Plain::kNull;
  const std::string text = scalar ? at.value.Scalar() : "";
  if (scalar) {
    if (auto value = parseDuration(text)) return value;
    if (isDurationSyntax(text)) {
      error(at, "must be at most " + durationText(kMaxDuration) + " (24 hours), got " + text);
      return std::nullopt;
    }
    if (!text.empty() && text[0] == '-' && parseDuration(text.substr(1))) {
      error(at, "must not be negative, got " + text);
      return std::nullopt;
    }
    if (plainType(at.value) == Plain::kInt || plainType(at.value) == Plain::kFloat) {
      error(at,
            "must be a duration with its unit (" + text + "ms or " + text + "s), got " + text);
      return std::nullopt;
    }
  }
  error(at, "must be a duration such as 250ms, 2s, 1.5s or 1m, got " + described(at.value));
  return std::nullopt;
}

std::optional<seconds> Reader::wholeSeconds(const Entry& at) {
  const auto value = duration(at);
  if (!value) return std::nullopt;
  if (value->count() % 1000 != 0) {
    error(at, "must be whole seconds: the kernel counts it in seconds, got " +
                  std::to_string(value->count()) + "ms");
    return std::nullopt;
  }
  return std::chrono::duration_cast<seconds>(*value);
}

Entry entryOf(const YAML::Node& value, std::string path, SourceMark key_mark) {
  const bool empty = !value.IsDefined() || value.IsNull() || value.Mark().line < 0;
  return Entry{value, std::move(path), empty ? key_mark : markOf(value.Mark())};
}

std::optional<Entry> findKey(const Entry& at, std::string_view key) {
  if (!at.value.IsMap()) return std::nullopt;
  for (const auto& pair : at.value)
    if (pair.first.IsScalar() && pair.first.Scalar() == key)
      return entryOf(pair.second, join(at.path, key), markOf(pair.first.Mark()));
  return std::nullopt;
}

}  // namespace deadpeer::parse

// peer/line_pattern: a user's regular expression over a program's output,
// on a linear-time engine.
//
// Scenario files give patterns (`ready: {line: ...}`, `detect: {line: ...}`)
// and programs we do not control give the lines. A backtracking engine
// (std::regex) takes exponential time on `^(a+)+$` against "aaaa...!" and
// recurses once per character, so one long line overflows the stack. RE2
// matches in time linear in the line and in bounded memory, and refuses what
// it cannot do that way (back references, lookaround). The syntax is RE2's
// (https://github.com/google/re2/wiki/Syntax); a match anywhere in the line
// counts, as with grep.
//
// Threading: a compiled LinePattern is immutable; matches() may be called
// from any thread at once.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace re2 {
class RE2;
}

namespace deadpeer {

class LinePattern {
 public:
  // Longest pattern accepted, in bytes: a pattern is a line of a scenario
  // file, not a program.
  static constexpr std::size_t kMaxPatternBytes = 4096;

  // Compiles `pattern`; throws Error EINVAL whose reason says what is wrong
  // and where: "does not compile at character 2: missing ]: [a-z".
  explicit LinePattern(const std::string& pattern);
  ~LinePattern();
  LinePattern(LinePattern&&) noexcept;
  LinePattern& operator=(LinePattern&&) noexcept;

  // True when the pattern matches somewhere in `line`.
  bool matches(std::string_view line) const;
  const std::string& pattern() const noexcept { return pattern_; }

 private:
  std::string pattern_;
  std::unique_ptr<re2::RE2> re_;
};

}  // namespace deadpeer

#include "deadpeer/peer/line_pattern.hpp"

#include <re2/re2.h>

#include <cerrno>

#include "deadpeer/error.hpp"
#include "deadpeer/text.hpp"

namespace deadpeer {
namespace {

// RE2's default budget (8 MiB) holds its compiled program and DFA cache; a
// pattern that needs more is refused when compiled, and a match that would
// exceed it falls back to the NFA, which is slower but still linear.
constexpr std::int64_t kMaxMemory = 8 << 20;

Error refused(std::string why) {
  return Error("compile", "line pattern", "", EINVAL, std::move(why));
}

}  // namespace

LinePattern::LinePattern(const std::string& pattern) : pattern_(pattern) {
  if (pattern.size() > kMaxPatternBytes)
    throw refused("is " + std::to_string(pattern.size()) + " bytes long; the limit is " +
                  std::to_string(kMaxPatternBytes));
  RE2::Options options;
  options.set_log_errors(false);  // the Error says it; a library never prints
  options.set_max_mem(kMaxMemory);
  re_ = std::make_unique<re2::RE2>(pattern, options);
  if (re_->ok()) return;
  // RE2 names the offending part of the pattern; its offset is the position.
  const std::string& part = re_->error_arg();
  const std::size_t at = part.empty() ? std::string::npos : pattern.find(part);
  std::string why = "\"" + printable(pattern) + "\" does not compile";
  // An unclosed group is noticed at the end, and RE2 names the whole pattern.
  if (re_->error_code() == re2::RE2::ErrorMissingParen && part == pattern)
    why += " at the end";
  else if (at != std::string::npos)
    why += " at character " + std::to_string(at + 1);
  why += ": " + printable(re_->error());
  throw refused(std::move(why));
}

LinePattern::~LinePattern() = default;
LinePattern::LinePattern(LinePattern&&) noexcept = default;
LinePattern& LinePattern::operator=(LinePattern&&) noexcept = default;

bool LinePattern::matches(std::string_view line) const {
  return re2::RE2::PartialMatch(re2::StringPiece(line.data(), line.size()), *re_);
}

}  // namespace deadpeer

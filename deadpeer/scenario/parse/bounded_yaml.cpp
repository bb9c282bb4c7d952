#include "deadpeer/scenario/parse/bounded_yaml.hpp"

#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <sstream>
#include <string>

#include "deadpeer/text.hpp"

namespace deadpeer::parse {
namespace {

// Thrown by the event pass to stop yaml-cpp at the first bound: the
// exception unwinds its recursion before it goes any deeper.
struct OutOfBounds {
  YAML::Mark mark;
  std::string message;
};

// Where the quoted scalar that opens at `pos` closes, or npos when it runs
// to the end of the text. yaml-cpp 0.7 closes an unterminated quote at the
// end of the file without complaint, which turns the rest of the file into
// one string and leaves the reader to report the keys it swallowed as
// missing.
std::size_t closingQuote(std::string_view text, std::size_t pos) {
  const char quote = text[pos];
  for (std::size_t i = pos + 1; i < text.size(); ++i) {
    if (quote == '"' && text[i] == '\\') {
      ++i;  // an escaped character, whatever it is
    } else if (text[i] == quote) {
      if (quote == '\'' && i + 1 < text.size() && text[i + 1] == '\'') {
        ++i;  // '' is a quote inside a single-quoted string
        continue;
      }
      return i;
    }
  }
  return std::string_view::npos;
}

class Bounds : public YAML::EventHandler {
 public:
  explicit Bounds(std::string_view text) : text_(text) {}

  int documents() const noexcept { return documents_; }
  // Where document 2 starts (its first node), if there is one.
  const YAML::Mark& second() const noexcept { return second_; }

  void OnDocumentStart(const YAML::Mark& mark) override {
    // No progress since the last document: the scanner is stuck on a token
    // that starts no node.
    if (documents_ > 0 && mark.pos == last_start_)
      throw OutOfBounds{mark, "YAML syntax: unexpected " + token(mark.pos) + stuckHint(mark.pos)};
    last_start_ = mark.pos;
    ++documents_;
    first_node_ = true;
    depth_ = 0;
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { node(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override {
    throw OutOfBounds{mark, "aliases (*name) are not supported in scenario files; write the "
                            "value out"};
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t,
                const std::string& value) override {
    node(mark);
    if (value.size() > kMaxScalarBytes)
      throw OutOfBounds{mark, "a value of " + std::to_string(value.size()) +
                                  " bytes; the limit is " + std::to_string(kMaxScalarBytes)};
    const auto pos = static_cast<std::size_t>(mark.pos);
    if (tag == "!" && pos < text_.size() && (text_[pos] == '"' || text_[pos] == '\'') &&
        closingQuote(text_, pos) == std::string_view::npos)
      throw OutOfBounds{mark, std::string("YAML syntax: the quoted string that starts here (") +
                                  text_[pos] + ") is never closed"};
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    open(mark);
  }
  void OnSequenceEnd() override { --depth_; }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    open(mark);
  }
  void OnMapEnd() override { --depth_; }

 private:
  void node(const YAML::Mark& mark) {
    if (first_node_ && documents_ == 2) second_ = mark;
    first_node_ = false;
    if (++nodes_ > kMaxNodes)
      throw OutOfBounds{mark, "more than " + std::to_string(kMaxNodes) +
                                  " values in the file; a scenario needs far fewer"};
  }
  void open(const YAML::Mark& mark) {
    node(mark);
    if (++depth_ > kMaxDepth)
      throw OutOfBounds{mark, "nested more than " + std::to_string(kMaxDepth) +
                                  " levels deep; a scenario needs at most 5"};
  }
  std::string token(int pos) const {
    if (pos < 0 || static_cast<std::size_t>(pos) >= text_.size()) return "end of file";
    return "'" + printable(text_.substr(static_cast<std::size_t>(pos), 1)) + "'";
  }
  std::string stuckHint(int pos) const {
    if (pos >= 0 && static_cast<std::size_t>(pos) < text_.size() && text_[pos] == ',')
      return " outside a flow collection ([...] or {...})";
    return "";
  }

  std::string_view text_;
  int documents_ = 0;
  int last_start_ = -1;
  int depth_ = 0;
  std::size_t nodes_ = 0;
  bool first_node_ = false;
  YAML::Mark second_ = YAML::Mark::null_mark();
};

}  // namespace

std::optional<YAML::Node> loadBoundedDocument(Reader& r, std::string_view text) {
  // YAML allows no NUL byte, and yaml-cpp 0.7 reads one as the end of a
  // line: it then reports a wrong place and a made-up cause ("unknown
  // escape character"). The first NUL is named where it is instead.
  if (const std::size_t nul = text.find('\0'); nul != std::string_view::npos) {
    const std::size_t line_start = text.rfind('\n', nul);
    const std::size_t column = line_start == std::string_view::npos ? nul : nul - line_start - 1;
    const auto line = std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(nul), '\n');
    r.error({static_cast<int>(line) + 1, static_cast<int>(column) + 1}, "",
            "a NUL byte; a scenario file is text (YAML allows no NUL)");
    return std::nullopt;
  }
  const std::string copy(text);
  Bounds bounds(copy);
  try {
    std::istringstream in(copy);
    YAML::Parser parser(in);
    // Bounded: each turn consumes a document or throws (no progress), and
    // counting stops at kMaxDocuments.
    while (bounds.documents() < kMaxDocuments && parser.HandleNextDocument(bounds)) {
    }
  } catch (const OutOfBounds& e) {
    r.error(markOf(e.mark), "", e.message);
    return std::nullopt;
  } catch (const YAML::Exception& e) {
    r.error(markOf(e.mark), "", "YAML syntax: " + e.msg);
    return std::nullopt;
  }
  if (bounds.documents() > 1) {
    const std::string of = bounds.documents() >= kMaxDocuments
                               ? std::to_string(kMaxDocuments) + " or more"
                               : std::to_string(bounds.documents());
    r.error(markOf(bounds.second()), "",
            "a scenario file holds one YAML document; this is document 2 of " + of);
  }
  try {
    return YAML::Load(copy);  // the first document only
  } catch (const YAML::Exception& e) {
    r.error(markOf(e.mark), "", "YAML syntax: " + e.msg);
    return std::nullopt;
  }
}

}  // namespace deadpeer::parse

// scenario/parse/bounded_yaml: the one door from untrusted text to YAML nodes.
//
// yaml-cpp is trusted with well-formed text only after a first pass over
// its parse events has checked the bounds below, so that no file can make
// the parser, or the reader after it, use unbounded time, stack or memory:
//   - documents: a file holds one; counting stops at kMaxDocuments. This
//     pass also catches yaml-cpp 0.7's stray-token loop: on a token that can
//     start no node (a ',' outside a flow collection, as in the one-byte
//     file "," or "{...}" then ","), Parser::HandleNextDocument reports an
//     empty document without consuming the token, forever, so LoadAll
//     collects empty documents until memory runs out. Two documents starting
//     at the same offset mean no progress: that is reported as the syntax
//     error it is, at the token.
//   - nesting depth (kMaxDepth): a deeper file is refused at the collection
//     that goes too deep, before yaml-cpp's recursion goes further;
//   - scalar length (kMaxScalarBytes) and node count (kMaxNodes);
//   - aliases (*name): refused. They would let a small file stand for an
//     exponential tree for every reader that walks it, and the format has no
//     use for them.
// Only then is the first document loaded (YAML::Load, one document).
//
// Internal to the scenario parser. Threading: pure.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <optional>
#include <string_view>

#include "deadpeer/scenario/parse/reader.hpp"

namespace deadpeer::parse {

inline constexpr int kMaxDocuments = 16;
inline constexpr int kMaxDepth = 32;
inline constexpr std::size_t kMaxScalarBytes = 16 * 1024;
inline constexpr std::size_t kMaxNodes = 20'000;
// Diagnostics reported per file; the rest are counted in one more.
inline constexpr std::size_t kMaxDiagnostics = 50;

// The first document of `text`, or nullopt after adding the diagnostics
// that say why not (a YAML syntax error, a bound, a second document).
// A second document is reported but the first is still returned.
std::optional<YAML::Node> loadBoundedDocument(Reader& r, std::string_view text);

}  // namespace deadpeer::parse

// scenario/parse/reader: the toolkit every section's rules are written in.
//
// A scenario file is read mapping by mapping. Each mapping is a table of
// Rules (its keys, which kinds take them, which need them), so that unknown,
// misplaced and missing keys are found in one place (readMap) and the key
// lists are data that scenarios/schema.json is generated from. The Reader
// turns each scalar into a typed value or a Diagnostic at the value's place,
// and never throws for bad input: every problem of a file is collected.
//
// Internal to the scenario parser (scenario/parse/*.cpp); the public face is
// scenario/scenario.hpp. Threading: a Reader belongs to one parse.
#pragma once

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "deadpeer/error.hpp"
#include "deadpeer/scenario/scenario.hpp"

namespace deadpeer::parse {

// ---- marks, names, suggestions ------------------------------------------------

SourceMark markOf(const YAML::Mark& mark);
// "path.key", or "key" at the top level.
std::string join(const std::string& path, std::string_view key);
// "a, b or c"
std::string listed(const std::vector<std::string_view>& names, std::string_view last = " or ");
// "; did you mean "keepalive"?" for a near miss, else "; expected one of ...".
std::string suggestion(std::string_view word, std::vector<std::string_view> known);

// What a YAML 1.2 (core schema) reader, such as the editors' language
// server checking schema.json, takes a plain scalar to be. Quoted scalars
// are always strings.
enum class Plain { kString, kNull, kBool, kInt, kFloat };
Plain plainType(const YAML::Node& node);

// "got ..." in messages.
std::string described(const YAML::Node& node);
// "2s", "250ms": a duration as a file would write it.
std::string durationText(std::chrono::milliseconds value);

// ---- the reader: typed values, each problem a diagnostic -----------------------

// One value of the file and where it is. `mark` is the value's, or its
// key's when the value is empty (yaml-cpp marks an empty value at the next
// token, often on the next line).
struct Entry {
  YAML::Node value;
  std::string path;
  SourceMark mark;
};

class Reader {
 public:
  explicit Reader(std::filesystem::path file) : file_(std::move(file)) {}

  void error(SourceMark mark, std::string field, std::string message) {
    diagnostics_.push_back({file_, mark, std::move(field), std::move(message)});
  }
  void error(const Entry& at, std::string message) { error(at.mark, at.path, std::move(message)); }
  std::size_t count() const noexcept { return diagnostics_.size(); }
  const std::filesystem::path& file() const noexcept { return file_; }
  std::vector<Diagnostic>& diagnostics() noexcept { return diagnostics_; }

  // The harness's validate() functions are the one statement of each rule;
  // their Error becomes a diagnostic at the field they were given.
  template <class F>
  void check(const Entry& at, F&& validate) {
    try {
      validate();
    } catch (const Error& e) {
      error(at, e.reason());
    }
  }

  // Each returns nullopt after reporting a value of the wrong type or range.
  std::optional<std::string> text(const Entry& at);
  // Any scalar as text: command arguments and sysctl values may be numbers.
  std::optional<std::string> scalar(const Entry& at);
  std::optional<long long> integer(const Entry& at, long long low, long long high);
  std::optional<double> number(const Entry& at);
  // The scalar if it is UTF-8 without NUL; else a diagnostic.
  std::optional<std::string> checkedText(const Entry& at);
  std::optional<bool> boolean(const Entry& at);
  std::optional<std::chrono::milliseconds> duration(const Entry& at);
  // Kernel settings counted in seconds: 1500ms would be silently truncated.
  std::optional<std::chrono::seconds> wholeSeconds(const Entry& at);

  template <class V>
  std::optional<V> choice(const Entry& at, std::string_view what,
                          const std::vector<std::pair<std::string, V>>& table) {
    const auto name = text(at);
    if (!name) return std::nullopt;
    std::vector<std::string_view> known;
    for (const auto& [n, value] : table) {
      if (n == *name) return value;
      known.push_back(n);
    }
    error(at, "unknown " + std::string(what) + " \"" + *name + "\"" + suggestion(*name, known));
    return std::nullopt;
  }

 private:
  std::filesystem::path file_;
  std::vector<Diagnostic> diagnostics_;
};

// ---- mappings as tables of keys --------------------------------------------------

constexpr std::uint32_t kEvery = ~0u;

// One key of a mapping: how to read it into the target, which kinds (of
// peer, fault, traffic) take it, and which need it.
template <class T>
struct Rule {
  std::string_view key;
  void (*read)(Reader&, const Entry&, T&);
  std::uint32_t applies = kEvery;
  std::uint32_t required = 0;
};

// The kind of a mapping whose keys depend on it. `bit` is nullopt when the
// kind itself is missing or wrong: that was reported, and checking its keys
// against a guess would only add noise.
struct Kinds {
  std::optional<std::uint32_t> bit = kEvery;
  std::string (*names)(std::uint32_t bits) = nullptr;
  std::string_view noun;
};

// Key -> where its value is, for the keys a mapping had.
using Seen = std::map<std::string, SourceMark, std::less<>>;

Entry entryOf(const YAML::Node& value, std::string path, SourceMark key_mark);

template <class T>
Seen readMap(Reader& r, const Entry& at, const std::vector<Rule<T>>& rules, T& target,
             const Kinds& kinds = {}) {
  Seen seen;
  if (!at.value.IsMap()) {
    r.error(at, "must be a mapping, got " + described(at.value));
    return seen;
  }
  std::vector<std::string_view> known;
  for (const auto& rule : rules) known.push_back(rule.key);
  for (const auto& pair : at.value) {
    const SourceMark key_mark = markOf(pair.first.Mark());
    if (!pair.first.IsScalar()) {
      r.error(key_mark, at.path, "keys must be names, got " + described(pair.first));
      continue;
    }
    const std::string key = pair.first.Scalar();
    const Entry entry = entryOf(pair.second, join(at.path, key), key_mark);
    if (const auto first = seen.find(key); first != seen.end()) {
      r.error(key_mark, entry.path,
              "duplicate key; the first is on line " + std::to_string(first->second.line));
      continue;
    }
    const auto rule = std::find_if(rules.begin(), rules.end(),
                                   [&](const Rule<T>& candidate) { return candidate.key == key; });
    if (rule == rules.end()) {
      r.error(key_mark, entry.path, "unknown key" + suggestion(key, known));
      continue;
    }
    seen.emplace(key, entry.mark);
    if (kinds.bit && (rule->applies & *kinds.bit) == 0) {
      r.error(key_mark, entry.path,
              std::string(kinds.noun) + " kind " + kinds.names(*kinds.bit) + " takes no " + key +
                  ": only " + kinds.names(rule->applies) + " do");
      continue;
    }
    rule->read(r, entry, target);
  }
  for (const auto& rule : rules) {
    const bool required = kinds.bit ? (rule.required & *kinds.bit) != 0 : rule.required == kEvery;
    if (required && seen.find(rule.key) == seen.end())
      r.error(at.mark, join(at.path, rule.key), "is required");
  }
  return seen;
}


// The value of `key` in a mapping, read before the rest because the other
// keys depend on it (a peer's or a fault's kind).
std::optional<Entry> findKey(const Entry& at, std::string_view key);

template <class F>
void readList(Reader& r, const Entry& at, F&& each) {
  if (!at.value.IsSequence()) {
    r.error(at, "must be a list, got " + described(at.value));
    return;
  }
  for (std::size_t i = 0; i < at.value.size(); ++i)
    each(entryOf(at.value[i], at.path + "[" + std::to_string(i) + "]", at.mark));
}

template <class T>
std::uint32_t bitOf(T kind) {
  return 1u << static_cast<unsigned>(kind);
}

template <class T>
std::string namesOf(std::uint32_t bits, const std::vector<std::pair<std::string, T>>& table) {
  std::vector<std::string_view> names;
  for (const auto& [name, kind] : table)
    if ((bits & bitOf(kind)) != 0) names.push_back(name);
  return listed(names, " and ");
}

}  // namespace deadpeer::parse

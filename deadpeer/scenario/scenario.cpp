// How a file is read: every mapping of the format is a table of Rules (its
// keys, which kinds take them, which need them), so that unknown keys,
// misplaced keys and missing keys are found in one place, and the key lists
// are data that schema.json is tested against. Values are read into drafts
// that keep each field's mark, because names that refer elsewhere (hosts of
// the topology, peers) are checked only once the whole file is read. Each
// range is checked by the harness's own validate() where one exists, one
// field at a time, so every bad field is reported at its own place.
#include "deadpeer/scenario/scenario.hpp"

#include <sys/socket.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <fstream>
#include <limits>
#include <regex>
#include <set>
#include <sstream>

#include "deadpeer/error.hpp"
#include "deadpeer/limits.hpp"
#include "deadpeer/scenario/resources.hpp"
#include "deadpeer/topology/spec.hpp"

namespace deadpeer {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// ---- marks, names, suggestions ------------------------------------------------

SourceMark markOf(const YAML::Mark& mark) {
  if (mark.line < 0) return {};
  return {mark.line + 1, mark.column + 1};
}

std::string join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

// "a, b or c"
std::string listed(const std::vector<std::string_view>& names, std::string_view last = " or ") {
  std::string text;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) text += i + 1 == names.size() ? std::string(last) : std::string(", ");
    text += names[i];
  }
  return text;
}

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

// "; did you mean "keepalive"?" for a near miss, else "; expected one of ...".
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

// What a YAML 1.2 (core schema) reader, such as the editors' language
// server checking schema.json, takes a plain scalar to be. Quoted scalars
// are always strings.
enum class Plain { kString, kNull, kBool, kInt, kFloat };

Plain plainType(const YAML::Node& node) {
  if (node.IsNull()) return Plain::kNull;
  if (node.Tag() != "?") return Plain::kString;
  static const std::regex kNull("~|null|Null|NULL|");
  static const std::regex kBool("true|True|TRUE|false|False|FALSE");
  static const std::regex kInt("[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+");
  static const std::regex kFloat(
      "[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|"
      "NAN)");
  const std::string& text = node.Scalar();
  if (std::regex_match(text, kNull)) return Plain::kNull;
  if (std::regex_match(text, kBool)) return Plain::kBool;
  if (std::regex_match(text, kInt)) return Plain::kInt;
  if (std::regex_match(text, kFloat)) return Plain::kFloat;
  return Plain::kString;
}

// "got ..." in messages.
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

  std::optional<std::string> text(const Entry& at) {
    if (!at.value.IsScalar() || plainType(at.value) == Plain::kNull) {
      error(at, "must be a string, got " + described(at.value));
      return std::nullopt;
    }
    if (plainType(at.value) != Plain::kString) {
      error(at,
            "must be a string, got " + described(at.value) + " (quote it if it is meant as text)");
      return std::nullopt;
    }
    return at.value.Scalar();
  }

  // Any scalar as text: command arguments and sysctl values may be numbers.
  std::optional<std::string> scalar(const Entry& at) {
    if (!at.value.IsScalar() || plainType(at.value) == Plain::kNull) {
      error(at, "must be a string or a number, got " + described(at.value));
      return std::nullopt;
    }
    return at.value.Scalar();
  }

  std::optional<long long> integer(const Entry& at, long long low, long long high) {
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

  std::optional<double> number(const Entry& at) {
    const Plain type = at.value.IsScalar() ? plainType(at.value) : Plain::kString;
    if (type != Plain::kInt && type != Plain::kFloat) {
      error(at, "must be a number, got " + described(at.value));
      return std::nullopt;
    }
    return std::strtod(at.value.Scalar().c_str(), nullptr);
  }

  std::optional<bool> boolean(const Entry& at) {
    if (!at.value.IsScalar() || plainType(at.value) != Plain::kBool) {
      error(at, "must be true or false, got " + described(at.value));
      return std::nullopt;
    }
    return at.value.Scalar()[0] == 't' || at.value.Scalar()[0] == 'T';
  }

  std::optional<milliseconds> duration(const Entry& at) {
    const bool scalar = at.value.IsScalar() && plainType(at.value) != Plain::kNull;
    const std::string text = scalar ? at.value.Scalar() : "";
    if (scalar) {
      if (auto value = parseDuration(text)) return value;
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

  // Kernel settings counted in seconds: 1500ms would be silently truncated.
  std::optional<seconds> wholeSeconds(const Entry& at) {
    const auto value = duration(at);
    if (!value) return std::nullopt;
    if (value->count() % 1000 != 0) {
      error(at, "must be whole seconds: the kernel counts it in seconds, got " +
                    std::to_string(value->count()) + "ms");
      return std::nullopt;
    }
    return std::chrono::duration_cast<seconds>(*value);
  }

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

Entry entryOf(const YAML::Node& value, std::string path, SourceMark key_mark) {
  const bool empty = !value.IsDefined() || value.IsNull() || value.Mark().line < 0;
  return Entry{value, std::move(path), empty ? key_mark : markOf(value.Mark())};
}

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
std::optional<Entry> findKey(const Entry& at, std::string_view key) {
  if (!at.value.IsMap()) return std::nullopt;
  for (const auto& pair : at.value)
    if (pair.first.IsScalar() && pair.first.Scalar() == key)
      return entryOf(pair.second, join(at.path, key), markOf(pair.first.Mark()));
  return std::nullopt;
}

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

// ---- tables of names ---------------------------------------------------------------

const std::vector<std::pair<std::string, PeerKind>>& peerKinds() {
  static const std::vector<std::pair<std::string, PeerKind>> table = {
      {"tcp-server", PeerKind::kTcpServer},
      {"tcp-client", PeerKind::kTcpClient},
      {"heartbeat-server", PeerKind::kHeartbeatServer},
      {"heartbeat-client", PeerKind::kHeartbeatClient},
      {"external", PeerKind::kExternal},
  };
  return table;
}

const std::vector<std::pair<std::string, FaultKind>>& faultKindNames() {
  static const std::vector<std::pair<std::string, FaultKind>> table = [] {
    std::vector<std::pair<std::string, FaultKind>> rows;
    for (const auto& info : faultKinds()) rows.emplace_back(std::string(info.name), info.kind);
    return rows;
  }();
  return table;
}

const std::vector<std::pair<std::string, TrafficMode>>& trafficModes() {
  static const std::vector<std::pair<std::string, TrafficMode>> table = {
      {"idle", TrafficMode::idle()},
      {"data-in-flight", TrafficMode::dataInFlight(1000)},
      {"request-response", TrafficMode::requestResponse(milliseconds(100))},
      {"stop-reading", TrafficMode::stopReading()},
  };
  return table;
}

const std::vector<std::pair<std::string, TrafficMode::Kind>>& trafficKinds() {
  static const std::vector<std::pair<std::string, TrafficMode::Kind>> table = [] {
    std::vector<std::pair<std::string, TrafficMode::Kind>> rows;
    for (const auto& [name, mode] : trafficModes()) rows.emplace_back(name, mode.kind);
    return rows;
  }();
  return table;
}

// Scenario files spell detectors as labels: "user-timeout".
const std::vector<std::pair<std::string, Detector>>& detectors() {
  static const std::vector<std::pair<std::string, Detector>> table = [] {
    std::vector<std::pair<std::string, Detector>> rows;
    for (int d = static_cast<int>(Detector::kKeepalive); d <= static_cast<int>(Detector::kExternal);
         ++d) {
      std::string name(detectorName(static_cast<Detector>(d)));
      std::replace(name.begin(), name.end(), '_', '-');
      rows.emplace_back(std::move(name), static_cast<Detector>(d));
    }
    return rows;
  }();
  return table;
}

// The errors a detection can end with.
const std::vector<std::pair<std::string, int>>& errnos() {
  static const std::vector<std::pair<std::string, int>> table = {
      {"ETIMEDOUT", ETIMEDOUT},       {"ECONNRESET", ECONNRESET}, {"EHOSTUNREACH", EHOSTUNREACH},
      {"ENETUNREACH", ENETUNREACH},   {"EACCES", EACCES},         {"EPIPE", EPIPE},
      {"ECONNREFUSED", ECONNREFUSED}, {"EPROTO", EPROTO},         {"none", 0},
  };
  return table;
}

const std::vector<std::pair<std::string, int>>& familyNames() {
  static const std::vector<std::pair<std::string, int>> table = {{"ipv4", AF_INET},
                                                                 {"ipv6", AF_INET6}};
  return table;
}

const std::vector<std::pair<std::string, Direction>>& directions() {
  static const std::vector<std::pair<std::string, Direction>> table = {
      {"both", Direction::kBoth}, {"egress", Direction::kEgress}, {"ingress", Direction::kIngress}};
  return table;
}

const std::vector<std::pair<std::string, Backend>>& backends() {
  static const std::vector<std::pair<std::string, Backend>> table = {
      {"auto", Backend::kAuto}, {"tc", Backend::kTc}, {"nft", Backend::kNft}};
  return table;
}

const std::vector<std::pair<std::string, bool>>& topologies() {
  // Name -> whether it takes `clients`; TopologySpec::named() builds them.
  static const std::vector<std::pair<std::string, bool>> table = {
      {"two-hosts", false}, {"routed", false},      {"switched", false},
      {"proxied", false},   {"many-clients", true},
  };
  return table;
}

// ---- drafts: what is read, and where it was ---------------------------------------

struct HeartbeatDraft {
  HeartbeatSettings settings;
};

struct TrafficDraft {
  TrafficMode mode;
};

struct ReadyDraft {
  std::optional<ExternalPeerSpec::Readiness> readiness;
};

struct DetectDraft {
  std::optional<ExternalPeerSpec::Detection> detection;
};

struct PeerDraft {
  ScenarioPeer peer;
  std::string path;
  std::string host;  // as written: a node, or "clients"
  bool kind_known = false;
  Seen seen;
};

struct FaultDraft {
  ScheduledFault fault;
  std::string path;
  bool kind_known = false;
  Seen seen;
  std::size_t diagnostics_before = 0;
};

struct ExpectDraft {
  Expectation expect;
  std::string path = "expect";
  Seen seen;
  Seen window;  // the explicit window's keys
};

struct HostDraft {
  std::string name;
  std::string path;
  SourceMark mark;  // the name's
  HostSettings settings;
};

struct Draft {
  Scenario scenario;
  bool topology_known = true;
  SourceMark mark;
  Seen seen;
  std::vector<HostDraft> hosts;
  std::vector<PeerDraft> peers;
  std::vector<FaultDraft> faults;
  ExpectDraft expect;
};

// ---- peers --------------------------------------------------------------------------

constexpr std::uint32_t kServers = (1u << static_cast<unsigned>(PeerKind::kTcpServer)) |
                                   (1u << static_cast<unsigned>(PeerKind::kHeartbeatServer));
constexpr std::uint32_t kClients = (1u << static_cast<unsigned>(PeerKind::kTcpClient)) |
                                   (1u << static_cast<unsigned>(PeerKind::kHeartbeatClient));
constexpr std::uint32_t kTcp = (1u << static_cast<unsigned>(PeerKind::kTcpServer)) |
                               (1u << static_cast<unsigned>(PeerKind::kTcpClient));
constexpr std::uint32_t kHeartbeat = (1u << static_cast<unsigned>(PeerKind::kHeartbeatServer)) |
                                     (1u << static_cast<unsigned>(PeerKind::kHeartbeatClient));
constexpr std::uint32_t kExternal = 1u << static_cast<unsigned>(PeerKind::kExternal);
constexpr std::uint32_t kTcpClient = 1u << static_cast<unsigned>(PeerKind::kTcpClient);

std::string peerKindNames(std::uint32_t bits) { return namesOf(bits, peerKinds()); }

const std::vector<Rule<KernelDetectorSettings>>& keepaliveRules() {
  static const std::vector<Rule<KernelDetectorSettings>> rules = {
      {"idle",
       [](Reader& r, const Entry& e, KernelDetectorSettings& k) {
         if (auto v = r.wholeSeconds(e)) {
           k.keepidle = *v;
           r.check(e, [&] { KernelDetectorSettings{.keepidle = v}.validate(); });
         }
       }},
      {"interval",
       [](Reader& r, const Entry& e, KernelDetectorSettings& k) {
         if (auto v = r.wholeSeconds(e)) {
           k.keepintvl = *v;
           r.check(e, [&] { KernelDetectorSettings{.keepintvl = v}.validate(); });
         }
       }},
      {"count",
       [](Reader& r, const Entry& e, KernelDetectorSettings& k) {
         if (auto v = r.integer(e, INT32_MIN, INT32_MAX)) {
           k.keepcnt = static_cast<int>(*v);
           r.check(e, [&] { KernelDetectorSettings{.keepcnt = k.keepcnt}.validate(); });
         }
       }},
  };
  return rules;
}

const std::vector<Rule<HeartbeatDraft>>& heartbeatRules() {
  // Each field is validated alone, on otherwise default settings, so that
  // every bad field is reported at its own place.
  static const std::vector<Rule<HeartbeatDraft>> rules = {
      {"idle",
       [](Reader& r, const Entry& e, HeartbeatDraft& h) {
         if (auto v = r.duration(e)) {
           h.settings.idle = *v;
           r.check(e, [&] { HeartbeatSettings{.idle = *v}.validate(); });
         }
       }},
      {"interval",
       [](Reader& r, const Entry& e, HeartbeatDraft& h) {
         if (auto v = r.duration(e)) {
           h.settings.interval = *v;
           r.check(e, [&] { HeartbeatSettings{.interval = *v}.validate(); });
         }
       }},
      {"count",
       [](Reader& r, const Entry& e, HeartbeatDraft& h) {
         if (auto v = r.integer(e, INT32_MIN, INT32_MAX)) {
           h.settings.count = static_cast<int>(*v);
           r.check(e, [&] { HeartbeatSettings{.count = h.settings.count}.validate(); });
         }
       }},
      {"pong_only",
       [](Reader& r, const Entry& e, HeartbeatDraft& h) {
         if (auto v = r.boolean(e)) h.settings.pong_only = *v;
       }},
      {"pong_delay",
       [](Reader& r, const Entry& e, HeartbeatDraft& h) {
         if (auto v = r.duration(e)) {
           h.settings.pong_delay = *v;
           r.check(e, [&] { HeartbeatSettings{.pong_delay = *v}.validate(); });
         }
       }},
      {"suspect_only",
       [](Reader& r, const Entry& e, HeartbeatDraft& h) {
         if (auto v = r.boolean(e)) {
           h.settings.suspect_only = *v;
           r.check(e, [&] { HeartbeatSettings{.suspect_only = *v}.validate(); });
         }
       }},
  };
  return rules;
}

std::string trafficKindNames(std::uint32_t bits) { return namesOf(bits, trafficKinds()); }

const std::vector<Rule<TrafficDraft>>& trafficRules() {
  using K = TrafficMode::Kind;
  static const std::vector<Rule<TrafficDraft>> rules = {
      {"kind", [](Reader&, const Entry&, TrafficDraft&) {}, kEvery, kEvery},  // read first
      {"interval",
       [](Reader& r, const Entry& e, TrafficDraft& t) {
         if (auto v = r.duration(e)) {
           t.mode.interval = *v;
           TrafficMode one = TrafficMode::requestResponse(*v);
           r.check(e, [&] { one.validate(); });
         }
       },
       bitOf(K::kRequestResponse)},
      {"bytes",
       [](Reader& r, const Entry& e, TrafficDraft& t) {
         if (auto v = r.integer(e, 0, 1ll << 30)) {
           t.mode.bytes = static_cast<std::size_t>(*v);
           TrafficMode one = TrafficMode::dataInFlight(t.mode.bytes);
           r.check(e, [&] { one.validate(); });
         }
       },
       bitOf(K::kRequestResponse) | bitOf(K::kDataInFlight) | bitOf(K::kStopReading)},
  };
  return rules;
}

void readTraffic(Reader& r, const Entry& e, PeerDraft& p) {
  if (e.value.IsScalar()) {
    if (auto mode = r.choice(e, "traffic", trafficModes())) p.peer.traffic = *mode;
    return;
  }
  if (!e.value.IsMap()) {
    r.error(e,
            "must be idle, data-in-flight, request-response, stop-reading or a mapping "
            "{kind, interval, bytes}, got " +
                described(e.value));
    return;
  }
  TrafficDraft draft;
  Kinds kinds{std::nullopt, trafficKindNames, "traffic"};
  if (auto kind = findKey(e, "kind")) {
    if (auto mode = r.choice(*kind, "traffic", trafficModes())) {
      draft.mode = *mode;
      kinds.bit = bitOf(mode->kind);
    }
  }
  readMap(r, e, trafficRules(), draft, kinds);
  p.peer.traffic = draft.mode;
}

// validate() also looks argv[0] up in PATH, which is a run-time question
// (a file may be validated on another machine than the one that runs it):
// a program that always exists stands in for the command.
template <class F>
void checkExternal(Reader& r, const Entry& e, F&& set) {
  ExternalPeerSpec spec;
  spec.name = "peer";
  spec.host = "host";
  spec.argv = {"/proc/self/exe"};
  spec.readiness = ExternalPeerSpec::Port{std::nullopt, 1};
  set(spec);
  r.check(e, [&] { spec.validate(); });
}

const std::vector<Rule<ReadyDraft>>& readyRules() {
  static const std::vector<Rule<ReadyDraft>> rules = {
      {"port",
       [](Reader& r, const Entry& e, ReadyDraft& d) {
         if (auto v = r.integer(e, 1, 65535))
           d.readiness = ExternalPeerSpec::Port{std::nullopt, static_cast<std::uint16_t>(*v)};
       }},
      {"line",
       [](Reader& r, const Entry& e, ReadyDraft& d) {
         if (auto v = r.text(e)) {
           d.readiness = ExternalPeerSpec::LineRegex{*v};
           checkExternal(r, e, [&](ExternalPeerSpec& s) { s.readiness = *d.readiness; });
         }
       }},
      {"fd",
       [](Reader& r, const Entry& e, ReadyDraft& d) {
         if (auto v = r.integer(e, 0, 1023)) {
           d.readiness = ExternalPeerSpec::InheritedFd{static_cast<int>(*v)};
           checkExternal(r, e, [&](ExternalPeerSpec& s) { s.readiness = *d.readiness; });
         }
       }},
  };
  return rules;
}

std::optional<std::uint16_t> readPort(Reader& r, const Entry& e) {
  if (auto v = r.integer(e, 1, 65535)) return static_cast<std::uint16_t>(*v);
  return std::nullopt;
}

const std::vector<Rule<ExternalPeerSpec::SocketLeavesEstablished>>& socketRules() {
  using S = ExternalPeerSpec::SocketLeavesEstablished;
  static const std::vector<Rule<S>> rules = {
      {"local_port", [](Reader& r, const Entry& e, S& s) { s.local_port = readPort(r, e); }},
      {"remote_port", [](Reader& r, const Entry& e, S& s) { s.remote_port = readPort(r, e); }},
      {"remote_address",
       [](Reader& r, const Entry& e, S& s) {
         if (auto v = r.text(e)) r.check(e, [&] { s.remote_address = IpAddress::parse(*v); });
       }},
  };
  return rules;
}

const std::vector<Rule<DetectDraft>>& detectRules() {
  static const std::vector<Rule<DetectDraft>> rules = {
      {"line",
       [](Reader& r, const Entry& e, DetectDraft& d) {
         if (auto v = r.text(e)) {
           d.detection = ExternalPeerSpec::LineRegex{*v};
           checkExternal(r, e, [&](ExternalPeerSpec& s) { s.detection = *d.detection; });
         }
       }},
      {"socket_leaves_established",
       [](Reader& r, const Entry& e, DetectDraft& d) {
         ExternalPeerSpec::SocketLeavesEstablished socket;
         const std::size_t before = r.count();
         readMap(r, e, socketRules(), socket);
         if (r.count() != before) return;
         d.detection = socket;
         checkExternal(r, e, [&](ExternalPeerSpec& s) { s.detection = socket; });
       }},
  };
  return rules;
}

// `ready: {port: N}`, `detect: {line: ...}`: a mapping with exactly one of
// its table's keys.
template <class T>
bool readOneOf(Reader& r, const Entry& e, const std::vector<Rule<T>>& rules, T& draft,
               const std::string& forms) {
  if (!e.value.IsMap()) {
    r.error(e, "must be " + forms + ", got " + described(e.value));
    return false;
  }
  const Seen seen = readMap(r, e, rules, draft);
  if (e.value.size() == 0) r.error(e, "must be " + forms + ", got an empty mapping");
  if (seen.size() > 1) r.error(e, "must be one of " + forms + ", not several");
  return seen.size() == 1;
}

const std::vector<Rule<PeerDraft>>& peerRules() {
  static const std::vector<Rule<PeerDraft>> rules = {
      {"name",
       [](Reader& r, const Entry& e, PeerDraft& p) {
         const auto name = r.text(e);
         if (!name) return;
         // Names go into file names and {port:PEER} placeholders.
         static const std::regex kName("[A-Za-z0-9_-]+");
         if (!std::regex_match(*name, kName))
           r.error(e, "must be letters, digits, - and _, got \"" + *name + "\"");
         else
           p.peer.name = *name;
       },
       kEvery, kEvery},
      {"kind", [](Reader&, const Entry&, PeerDraft&) {}, kEvery, kEvery},  // read first
      {"host",
       [](Reader& r, const Entry& e, PeerDraft& p) {
         if (auto v = r.text(e)) p.host = *v;
       },
       kEvery, kEvery},
      {"port",
       [](Reader& r, const Entry& e, PeerDraft& p) {
         if (auto v = readPort(r, e)) p.peer.port = *v;
       },
       kServers | kExternal, kServers},
      {"process",
       [](Reader& r, const Entry& e, PeerDraft& p) {
         static const std::vector<std::pair<std::string, bool>> modes = {{"in-process", false},
                                                                         {"separate", true}};
         if (auto v = r.choice(e, "process mode", modes)) p.peer.separate_process = *v;
       },
       kServers},
      {"connect",
       [](Reader& r, const Entry& e, PeerDraft& p) {
         if (auto v = r.text(e)) p.peer.connect = *v;
       },
       kClients, kClients},
      {"connections",
       [](Reader& r, const Entry& e, PeerDraft& p) {
         if (auto v = r.integer(e, 1, 1'000'000)) p.peer.connections = static_cast<int>(*v);
       },
       kClients | kServers},
      {"keepalive",
       [](Reader& r, const Entry& e, PeerDraft& p) {
         if (e.value.IsMap()) {
           p.peer.kernel.keepalive = true;
           readMap(r, e, keepaliveRules(), p.peer.kernel);
           return;
         }
         // `on`/`off` are booleans in YAML 1.1 only; editors read YAML 1.2.
         const std::string text = e.value.IsScalar() ? e.value.Scalar() : "";
         const Plain type = e.value.IsScalar() ? plainType(e.value) : Plain::kNull;
         if (type == Plain::kBool || (type == Plain::kString && (text == "on" || text == "off"))) {
           p.peer.kernel.keepalive = text == "on" || text[0] == 't' || text[0] == 'T';
           return;
         }
         r.error(e, "must be on, off, true, false or a mapping {idle, interval, count}, got " +
                        described(e.value));
       },
       kTcp},
      {"user_timeout",
       [](Reader& r, const Entry& e, PeerDraft& p) {
         if (auto v = r.duration(e)) {
           p.peer.kernel.user_timeout = *v;
           r.check(e, [&] { KernelDetectorSettings{.user_timeout = v}.validate(); });
         }
       },
       kTcp},
      {"recverr",
       [](Reader& r, const Entry& e, PeerDraft& p) {
         if (auto v = r.boolean(e)) p.peer.kernel.recverr = *v;
       },
       kTcp},
      {"traffic", readTraffic, kTcpClient},
      {"heartbeat",
       [](Reader& r, const Entry& e, PeerDraft& p) {
         HeartbeatDraft draft{p.peer.heartbeat};
         readMap(r, e, heartbeatRules(), draft);
         p.peer.heartbeat = draft.settings;
       },
       kHeartbeat},
      {"command",
       [](Reader& r, const Entry& e, PeerDraft& p) {
         std::vector<std::string> argv;
         bool ok = true;
         readList(r, e, [&](const Entry& item) {
           auto arg = r.scalar(item);
           if (arg && item.path.ends_with("[0]") && arg->empty()) {
             r.error(item, "the program must not be empty");
             arg.reset();
           }
           ok = ok && arg.has_value();
           if (arg) argv.push_back(*arg);
         });
         if (e.value.IsSequence() && e.value.size() == 0)
           r.error(e, "must name the program and its arguments, got an empty list");
         else if (ok)
           p.peer.command = std::move(argv);
       },
       kExternal, kExternal},
      {"ready",
       [](Reader& r, const Entry& e, PeerDraft& p) {
         ReadyDraft draft;
         if (readOneOf(r, e, readyRules(), draft, "{port: N}, {line: REGEX} or {fd: N}") &&
             draft.readiness)
           p.peer.readiness = *draft.readiness;
       },
       kExternal},
      {"detect",
       [](Reader& r, const Entry& e, PeerDraft& p) {
         if (e.value.IsScalar() && e.value.Scalar() == "exit") {
           p.peer.detection = ExternalPeerSpec::Exit{};
           return;
         }
         DetectDraft draft;
         if (readOneOf(r, e, detectRules(), draft,
                       "exit, {line: REGEX} or {socket_leaves_established: {...}}") &&
             draft.detection)
           p.peer.detection = *draft.detection;
       },
       kExternal},
      {"ready_deadline",
       [](Reader& r, const Entry& e, PeerDraft& p) {
         if (auto v = r.duration(e)) {
           p.peer.ready_deadline = *v;
           checkExternal(r, e, [&](ExternalPeerSpec& s) { s.ready_deadline = *v; });
         }
       },
       kExternal},
  };
  return rules;
}

void readPeer(Reader& r, const Entry& e, Draft& d) {
  PeerDraft p;
  p.path = e.path;
  p.peer.mark = e.mark;
  Kinds kinds{std::nullopt, peerKindNames, "peer"};
  if (auto kind = findKey(e, "kind")) {
    if (auto k = r.choice(*kind, "peer kind", peerKinds())) {
      p.peer.kind = *k;
      p.kind_known = true;
      kinds.bit = bitOf(*k);
    }
  }
  p.seen = readMap(r, e, peerRules(), p, kinds);
  if (p.kind_known && p.peer.kind == PeerKind::kExternal && !p.seen.contains("ready")) {
    if (p.peer.port != 0)
      p.peer.readiness = ExternalPeerSpec::Port{std::nullopt, p.peer.port};
    else if (e.value.IsMap())
      r.error(e.mark, join(e.path, "ready"),
              "is required without a port: say when the program is ready ({port: N}, "
              "{line: REGEX} or {fd: N})");
  }
  d.peers.push_back(std::move(p));
}

// ---- faults ---------------------------------------------------------------------------

constexpr std::uint32_t kProcessFaults = (1u << static_cast<unsigned>(FaultKind::kProcessKill)) |
                                         (1u << static_cast<unsigned>(FaultKind::kProcessFreeze));

std::string faultKindNamesOf(std::uint32_t bits) { return namesOf(bits, faultKindNames()); }

const std::vector<Rule<FaultDraft>>& faultRules() {
  // Rules that FaultSpec::validate() states (target only for route kinds, a
  // percentage only for loss, ...) are left to it; `applies` covers the keys
  // it cannot see.
  static const std::vector<Rule<FaultDraft>> rules = {
      {"kind", [](Reader&, const Entry&, FaultDraft&) {}, kEvery, kEvery},  // read first
      {"host",
       [](Reader& r, const Entry& e, FaultDraft& f) {
         if (auto v = r.text(e)) f.fault.spec.host = *v;
       },
       kEvery, ~kProcessFaults},
      {"at",
       [](Reader& r, const Entry& e, FaultDraft& f) {
         if (e.value.IsScalar() && e.value.Scalar() == "setup") {
           f.fault.at_setup = true;
           return;
         }
         if (e.value.IsScalar() && !parseDuration(e.value.Scalar()) &&
             plainType(e.value) == Plain::kString && e.value.Scalar()[0] != '-') {
           r.error(e,
                   "must be a duration (after the warm-up) or setup (before any peer starts), "
                   "got \"" +
                       e.value.Scalar() + "\"");
           return;
         }
         if (auto v = r.duration(e)) f.fault.at = *v;
       }},
      {"duration",
       [](Reader& r, const Entry& e, FaultDraft& f) { f.fault.spec.duration = r.duration(e); }},
      {"target",
       [](Reader& r, const Entry& e, FaultDraft& f) {
         if (auto v = r.text(e)) f.fault.spec.target = *v;
       }},
      {"link",
       [](Reader& r, const Entry& e, FaultDraft& f) {
         if (auto v = r.text(e)) f.fault.spec.link = *v;
       },
       bitOf(FaultKind::kLinkDown) | bitOf(FaultKind::kDrop) | bitOf(FaultKind::kLoss)},
      {"direction",
       [](Reader& r, const Entry& e, FaultDraft& f) {
         if (auto v = r.choice(e, "direction", directions())) f.fault.spec.direction = *v;
       }},
      {"backend",
       [](Reader& r, const Entry& e, FaultDraft& f) {
         if (auto v = r.choice(e, "backend", backends())) f.fault.spec.backend = *v;
       }},
      {"loss_percent",
       [](Reader& r, const Entry& e, FaultDraft& f) {
         if (auto v = r.number(e)) f.fault.spec.loss_percent = *v;
       }},
      {"process",
       [](Reader& r, const Entry& e, FaultDraft& f) {
         if (auto v = r.text(e)) f.fault.process_peer = *v;
       },
       kProcessFaults, kProcessFaults},
      {"conntrack_timeout",
       [](Reader& r, const Entry& e, FaultDraft& f) {
         if (auto v = r.duration(e)) f.fault.spec.conntrack_timeout = *v;
       },
       bitOf(FaultKind::kFirewallForget)},
      {"delay",
       [](Reader& r, const Entry& e, FaultDraft& f) {
         if (auto v = r.duration(e)) f.fault.spec.delay = *v;
       },
       bitOf(FaultKind::kDelay)},
      {"jitter",
       [](Reader& r, const Entry& e, FaultDraft& f) {
         if (auto v = r.duration(e)) f.fault.spec.jitter = *v;
       },
       bitOf(FaultKind::kDelay)},
  };
  return rules;
}

void readFault(Reader& r, const Entry& e, Draft& d) {
  FaultDraft f;
  f.path = e.path;
  f.fault.mark = e.mark;
  f.diagnostics_before = r.count();
  Kinds kinds{std::nullopt, faultKindNamesOf, "fault"};
  if (auto kind = findKey(e, "kind")) {
    // faultKindNamed() is the authority on kinds; the table only adds the
    // suggestion for a near miss.
    if (auto name = r.text(*kind)) {
      try {
        f.fault.spec.kind = faultKindNamed(*name);
        f.kind_known = true;
        kinds.bit = bitOf(f.fault.spec.kind);
      } catch (const Error& err) {
        std::vector<std::string_view> known;
        for (const auto& [n, k] : faultKindNames()) known.push_back(n);
        r.error(*kind, "unknown fault kind \"" + *name + "\"" + suggestion(*name, known));
      }
    }
  }
  f.seen = readMap(r, e, faultRules(), f, kinds);
  d.faults.push_back(std::move(f));
}

// ---- expect ------------------------------------------------------------------------------

const std::vector<Rule<Expectation>>& windowRules() {
  static const std::vector<Rule<Expectation>> rules = {
      {"earliest",
       [](Reader& r, const Entry& e, Expectation& x) {
         if (auto v = r.duration(e)) x.earliest = *v;
       },
       kEvery, kEvery},
      {"latest",
       [](Reader& r, const Entry& e, Expectation& x) {
         if (auto v = r.duration(e)) x.latest = *v;
       },
       kEvery, kEvery},
  };
  return rules;
}

const std::vector<Rule<Expectation>>& falsePositiveRules() {
  static const std::vector<Rule<Expectation>> rules = {
      {"max",
       [](Reader& r, const Entry& e, Expectation& x) {
         if (auto v = r.integer(e, 0, 1'000'000)) x.max_false_positives = static_cast<int>(*v);
       },
       kEvery, kEvery},
  };
  return rules;
}

const std::vector<Rule<ExpectDraft>>& expectRules() {
  static const std::vector<Rule<ExpectDraft>> rules = {
      {"peer",
       [](Reader& r, const Entry& e, ExpectDraft& x) {
         if (auto v = r.text(e)) x.expect.peer = *v;
       },
       kEvery, kEvery},
      {"detected",
       [](Reader& r, const Entry& e, ExpectDraft& x) {
         if (auto v = r.boolean(e)) x.expect.detected = *v;
       }},
      {"detector",
       [](Reader& r, const Entry& e, ExpectDraft& x) {
         x.expect.detector = r.choice(e, "detector", detectors());
       }},
      {"errno", [](Reader& r, const Entry& e,
                   ExpectDraft& x) { x.expect.error = r.choice(e, "errno", errnos()); }},
      {"window",
       [](Reader& r, const Entry& e, ExpectDraft& x) {
         static const std::vector<std::pair<std::string, Expectation::Window>> named = {
             {"oracle", Expectation::Window::kOracle}, {"none", Expectation::Window::kNone}};
         if (e.value.IsMap()) {
           x.window = readMap(r, e, windowRules(), x.expect);
           x.expect.window = Expectation::Window::kExplicit;
         } else if (e.value.IsScalar()) {
           if (auto v = r.choice(e, "window", named)) x.expect.window = *v;
         } else {
           r.error(e, "must be oracle, none or {earliest, latest}, got " + described(e.value));
         }
       }},
      {"probes",
       [](Reader& r, const Entry& e, ExpectDraft& x) {
         if (e.value.IsScalar() && e.value.Scalar() == "oracle") {
           x.expect.probes = Expectation::Probes::kOracle;
         } else if (e.value.IsScalar() && plainType(e.value) == Plain::kInt) {
           if (auto v = r.integer(e, 0, 1'000'000)) {
             x.expect.probes = Expectation::Probes::kExplicit;
             x.expect.probe_count = static_cast<int>(*v);
           }
         } else {
           r.error(e, "must be oracle or a number of probes, got " + described(e.value));
         }
       }},
      {"deadline",
       [](Reader& r, const Entry& e, ExpectDraft& x) {
         if (auto v = r.duration(e)) {
           if (v->count() == 0)
             r.error(e, "must be positive, got 0s");
           else
             x.expect.deadline = *v;
         }
       }},
      {"survives",
       [](Reader& r, const Entry& e, ExpectDraft& x) {
         if (auto v = r.boolean(e)) x.expect.survives = *v;
       }},
      {"rst_from",
       [](Reader& r, const Entry& e, ExpectDraft& x) {
         if (auto v = r.text(e)) x.expect.rst_from = *v;
       }},
      {"icmp",
       [](Reader& r, const Entry& e, ExpectDraft& x) {
         if (auto v = r.text(e)) x.expect.icmp = *v;
       }},
      {"false_positives", [](Reader& r, const Entry& e,
                             ExpectDraft& x) { readMap(r, e, falsePositiveRules(), x.expect); }},
      {"observe",
       [](Reader& r, const Entry& e, ExpectDraft& x) {
         if (auto v = r.duration(e)) x.expect.observe = *v;
       }},
  };
  return rules;
}

// ---- hosts -------------------------------------------------------------------------------

const std::vector<Rule<HostTcpSettings>>& hostTcpRules() {
  static const std::vector<Rule<HostTcpSettings>> rules = {
      {"keepalive_time",
       [](Reader& r, const Entry& e, HostTcpSettings& t) {
         if (auto v = r.wholeSeconds(e)) {
           t.keepalive_time = *v;
           r.check(e, [&] { HostTcpSettings{.keepalive_time = v}.validate(); });
         }
       }},
      {"keepalive_intvl",
       [](Reader& r, const Entry& e, HostTcpSettings& t) {
         if (auto v = r.wholeSeconds(e)) {
           t.keepalive_intvl = *v;
           r.check(e, [&] { HostTcpSettings{.keepalive_intvl = v}.validate(); });
         }
       }},
      {"keepalive_probes",
       [](Reader& r, const Entry& e, HostTcpSettings& t) {
         if (auto v = r.integer(e, INT32_MIN, INT32_MAX)) {
           t.keepalive_probes = static_cast<int>(*v);
           r.check(e, [&] { HostTcpSettings{.keepalive_probes = t.keepalive_probes}.validate(); });
         }
       }},
      {"retries2",
       [](Reader& r, const Entry& e, HostTcpSettings& t) {
         if (auto v = r.integer(e, INT32_MIN, INT32_MAX)) {
           t.retries2 = static_cast<int>(*v);
           r.check(e, [&] { HostTcpSettings{.retries2 = t.retries2}.validate(); });
         }
       }},
  };
  return rules;
}

const std::vector<Rule<HostDraft>>& hostRules() {
  static const std::vector<Rule<HostDraft>> rules = {
      {"tcp", [](Reader& r, const Entry& e,
                 HostDraft& h) { readMap(r, e, hostTcpRules(), h.settings.tcp); }},
      {"sysctls",
       [](Reader& r, const Entry& e, HostDraft& h) {
         if (!e.value.IsMap()) {
           r.error(e, "must be a mapping of net.* keys to values, got " + described(e.value));
           return;
         }
         for (const auto& pair : e.value) {
           const SourceMark key_mark = markOf(pair.first.Mark());
           const std::string key = pair.first.IsScalar() ? pair.first.Scalar() : "";
           const Entry value = entryOf(pair.second, join(e.path, key), key_mark);
           // Only the host's own network namespace is the harness's to change;
           // any other sysctl is the machine's.
           if (!key.starts_with("net.")) {
             r.error(key_mark, value.path,
                     "only net.* sysctls belong to a host's network namespace");
             continue;
           }
           if (h.settings.sysctls.contains(key)) {
             r.error(key_mark, value.path, "duplicate key");
             continue;
           }
           if (value.value.IsScalar() && plainType(value.value) == Plain::kBool) {
             r.error(value,
                     "sysctls take numbers or strings (write 1 or 0), got " + value.value.Scalar());
             continue;
           }
           if (auto v = r.scalar(value)) h.settings.sysctls.emplace(key, *v);
         }
       }},
  };
  return rules;
}

void readHosts(Reader& r, const Entry& e, Draft& d) {
  if (!e.value.IsMap()) {
    r.error(e, "must be a mapping of host names to settings, got " + described(e.value));
    return;
  }
  std::set<std::string> names;
  for (const auto& pair : e.value) {
    const SourceMark key_mark = markOf(pair.first.Mark());
    HostDraft h;
    h.name = pair.first.IsScalar() ? pair.first.Scalar() : "";
    h.path = join(e.path, h.name);
    h.mark = key_mark;
    if (!names.insert(h.name).second) {
      r.error(key_mark, h.path, "duplicate host");
      continue;
    }
    readMap(r, entryOf(pair.second, h.path, key_mark), hostRules(), h);
    d.hosts.push_back(std::move(h));
  }
}

// ---- the top level --------------------------------------------------------------------------

const std::vector<Rule<Draft>>& topRules() {
  static const std::vector<Rule<Draft>> rules = {
      {"description",
       [](Reader& r, const Entry& e, Draft& d) {
         if (auto v = r.text(e)) d.scenario.description = *v;
       }},
      {"topology",
       [](Reader& r, const Entry& e, Draft& d) {
         if (r.choice(e, "topology", topologies()))
           d.scenario.topology = e.value.Scalar();
         else
           d.topology_known = false;
       }},
      {"clients",
       [](Reader& r, const Entry& e, Draft& d) {
         if (auto v = r.integer(e, 1, 252)) d.scenario.clients = static_cast<int>(*v);
       }},
      {"families",
       [](Reader& r, const Entry& e, Draft& d) {
         std::vector<int> families;
         readList(r, e, [&](const Entry& item) {
           const auto family = r.choice(item, "family", familyNames());
           if (!family) return;
           if (std::find(families.begin(), families.end(), *family) != families.end())
             r.error(item, "listed twice");
           else
             families.push_back(*family);
         });
         if (e.value.IsSequence() && e.value.size() == 0)
           r.error(e, "must list at least one of ipv4 and ipv6");
         if (!families.empty()) d.scenario.families = families;
       }},
      {"repeat",
       [](Reader& r, const Entry& e, Draft& d) {
         if (auto v = r.integer(e, 1, 1000)) d.scenario.repeat = static_cast<int>(*v);
       }},
      {"bench",
       [](Reader& r, const Entry& e, Draft& d) {
         if (auto v = r.boolean(e)) d.scenario.bench = *v;
       }},
      {"hosts", readHosts},
      {"peers",
       [](Reader& r, const Entry& e, Draft& d) {
         readList(r, e, [&](const Entry& item) { readPeer(r, item, d); });
         if (e.value.IsSequence() && e.value.size() == 0) r.error(e, "must list at least one peer");
       },
       kEvery, kEvery},
      {"warmup",
       [](Reader& r, const Entry& e, Draft& d) {
         if (auto v = r.duration(e)) d.scenario.warmup = *v;
       }},
      {"faults",
       [](Reader& r, const Entry& e, Draft& d) {
         readList(r, e, [&](const Entry& item) { readFault(r, item, d); });
       }},
      {"expect",
       [](Reader& r, const Entry& e, Draft& d) {
         d.expect.expect.mark = e.mark;
         d.expect.seen = readMap(r, e, expectRules(), d.expect);
       },
       kEvery, kEvery},
  };
  return rules;
}

// ---- references between parts: hosts, peers, faults, expect -----------------------------------

// "h1, h2" for messages; long lists (many-clients) are cut.
std::string nodeList(const TopologySpec& spec) {
  std::vector<std::string_view> names;
  for (const auto& node : spec.nodes)
    if (node.kind != NodeKind::kSwitch) names.push_back(node.name);
  if (names.size() > 6) {
    const std::size_t all = names.size();
    names.resize(3);
    return listed(names, ", ") + ", ... (" + std::to_string(all) + " in all)";
  }
  return listed(names, " and ");
}

// Reports a name that is not a host or router of the topology.
bool checkHostName(Reader& r, const TopologySpec& spec, SourceMark mark, const std::string& path,
                   const std::string& name) {
  const NodeSpec* node = spec.find(name);
  if (node == nullptr) {
    std::vector<std::string_view> known;
    for (const auto& n : spec.nodes)
      if (n.kind != NodeKind::kSwitch) known.push_back(n.name);
    std::string hint = suggestion(name, known);
    if (hint.starts_with("; expected")) hint = "; it has " + nodeList(spec);
    r.error(mark, path, "unknown host \"" + name + "\" in topology " + spec.name + hint);
    return false;
  }
  if (node->kind == NodeKind::kSwitch) {
    r.error(mark, path, "\"" + name + "\" is a switch; only hosts and routers run things");
    return false;
  }
  return true;
}

std::optional<TopologySpec> topologyOf(Reader& r, Draft& d) {
  Scenario& s = d.scenario;
  const auto shape = std::find_if(topologies().begin(), topologies().end(),
                                  [&](const auto& row) { return row.first == s.topology; });
  if (!d.topology_known || shape == topologies().end()) return std::nullopt;
  const auto clients = d.seen.find("clients");
  const bool takes_clients = shape->second;
  if (takes_clients && clients == d.seen.end()) {
    const auto topology = d.seen.find("topology");
    r.error(topology != d.seen.end() ? topology->second : d.mark, "clients",
            "is required for many-clients: how many client hosts (1..252)");
    return std::nullopt;
  }
  if (!takes_clients && clients != d.seen.end()) {
    r.error(clients->second, "clients", "only topology many-clients takes clients");
    s.clients = 0;
  }
  if (takes_clients && s.clients == 0) return std::nullopt;  // reported
  try {
    return TopologySpec::named(s.topology, s.clients);
  } catch (const Error& e) {
    r.error(d.mark, "topology", e.reason());
    return std::nullopt;
  }
}

SourceMark seenOr(const Seen& seen, std::string_view key, SourceMark fallback) {
  const auto found = seen.find(key);
  return found != seen.end() ? found->second : fallback;
}

// Whether every peer has a name: otherwise "unknown peer" would only echo
// the problem already reported with the peers.
bool peerNamesKnown(const Draft& d) {
  return d.seen.contains("peers") && !d.peers.empty() &&
         std::all_of(d.peers.begin(), d.peers.end(),
                     [](const PeerDraft& p) { return !p.peer.name.empty(); });
}

void checkPeers(Reader& r, Draft& d, const std::optional<TopologySpec>& spec) {
  std::map<std::string, const PeerDraft*> by_name;
  for (auto& p : d.peers) {
    const SourceMark name_mark = seenOr(p.seen, "name", p.peer.mark);
    if (!p.peer.name.empty()) {
      const auto [first, inserted] = by_name.emplace(p.peer.name, &p);
      if (!inserted)
        r.error(name_mark, join(p.path, "name"),
                "duplicate peer \"" + p.peer.name + "\"; the first is " + first->second->path +
                    " on line " + std::to_string(first->second->peer.mark.line));
    }
    if (!spec || p.host.empty()) continue;
    const SourceMark host_mark = seenOr(p.seen, "host", p.peer.mark);
    const std::string host_path = join(p.path, "host");
    if (p.host == "clients") {
      if (d.scenario.topology != "many-clients") {
        r.error(host_mark, host_path,
                "`clients` (every client host) needs topology many-clients, not " +
                    d.scenario.topology);
      } else if (p.kind_known && !p.peer.isClient()) {
        r.error(host_mark, host_path,
                "only clients run on every client host; a " +
                    std::string(peerKindName(p.peer.kind)) + " needs one host");
      } else {
        for (int i = 1; i <= d.scenario.clients; ++i)
          p.peer.hosts.push_back("c" + std::to_string(i));
      }
    } else if (checkHostName(r, *spec, host_mark, host_path, p.host)) {
      p.peer.hosts = {p.host};
    }
  }

  // Who connects where, and how many connections each server must accept.
  std::map<const PeerDraft*, int> opened;
  for (auto& p : d.peers) {
    if (!p.kind_known || !p.peer.isClient() || p.peer.connect.empty() || !peerNamesKnown(d))
      continue;
    const SourceMark mark = seenOr(p.seen, "connect", p.peer.mark);
    const std::string path = join(p.path, "connect");
    const auto target = by_name.find(p.peer.connect);
    if (target == by_name.end()) {
      std::vector<std::string_view> known;
      for (const auto& [name, peer] : by_name)
        if (peer != &p) known.push_back(name);
      r.error(mark, path,
              "unknown peer \"" + p.peer.connect + "\"" + suggestion(p.peer.connect, known));
      continue;
    }
    const PeerDraft& server = *target->second;
    if (!server.kind_known) continue;
    const PeerKind wanted =
        p.peer.kind == PeerKind::kTcpClient ? PeerKind::kTcpServer : PeerKind::kHeartbeatServer;
    if (server.peer.kind == PeerKind::kExternal) {
      if (server.peer.port == 0)
        r.error(mark, path, "external peer \"" + server.peer.name + "\" has no port to connect to");
    } else if (server.peer.isClient()) {
      r.error(mark, path,
              "\"" + server.peer.name + "\" is a " + std::string(peerKindName(server.peer.kind)) +
                  ", not a server; connect names a server or an external peer with a port");
    } else if (server.peer.kind != wanted) {
      r.error(mark, path,
              "a " + std::string(peerKindName(p.peer.kind)) + " connects to a " +
                  std::string(peerKindName(wanted)) + " (or an external peer), not to " +
                  std::string(peerKindName(server.peer.kind)) + " \"" + server.peer.name + "\"");
    } else {
      opened[&server] +=
          p.peer.connections * static_cast<int>(std::max<std::size_t>(1, p.peer.hosts.size()));
    }
  }
  for (auto& p : d.peers) {
    if (!p.kind_known || !p.peer.isServer()) continue;
    const int total = opened[&p];
    if (!p.seen.contains("connections")) {
      p.peer.connections = std::max(1, total);
    } else if (p.peer.connections < total) {
      r.error(seenOr(p.seen, "connections", p.peer.mark), join(p.path, "connections"),
              "accepts " + std::to_string(p.peer.connections) + " but its clients open " +
                  std::to_string(total));
    }
  }

  // Two listeners on one port of one host: the second would fail to bind.
  std::map<std::pair<std::string, int>, const PeerDraft*> ports;
  for (const auto& p : d.peers) {
    if (p.peer.port == 0 || p.peer.hosts.size() != 1) continue;
    const auto [first, inserted] = ports.emplace(std::pair(p.peer.hosts[0], int(p.peer.port)), &p);
    if (!inserted)
      r.error(seenOr(p.seen, "port", p.peer.mark), join(p.path, "port"),
              "port " + std::to_string(p.peer.port) + " on " + p.peer.hosts[0] +
                  " is already taken by peer \"" + first->second->peer.name + "\"");
  }

  // More connections than one process may hold open fails mid-trial with
  // EMFILE; say so now, with the numbers (scenario/resources.hpp).
  std::vector<ScenarioPeer> peers;
  for (const auto& p : d.peers)
    if (p.kind_known) peers.push_back(p.peer);
  const OpenFileLimit limit = openFileLimit();
  for (const DescriptorNeed& need : descriptorsNeeded(peers)) {
    if (limit.hard == 0 || need.total <= limit.hard || peers.empty()) continue;
    const PeerDraft& p = *std::find_if(d.peers.begin(), d.peers.end(), [&](const PeerDraft& x) {
      return x.peer.name == peers[need.peer].name;
    });
    r.error(seenOr(p.seen, "connections", p.peer.mark), join(p.path, "connections"),
            need.process + " would hold " + std::to_string(need.total) + " open files (" +
                std::to_string(need.connections) + " connection ends and " +
                std::to_string(need.total - need.connections) +
                " of its own), above this machine's hard limit of " + std::to_string(limit.hard) +
                " (ulimit -Hn); " +
                (need.process == "the harness"
                     ? "run the server with `process: separate`, use fewer connections, or "
                       "raise the hard limit"
                     : "use fewer connections or raise the hard limit"));
  }
}

void checkFaults(Reader& r, Draft& d, const std::optional<TopologySpec>& spec) {
  for (auto& f : d.faults) {
    FaultSpec& fault = f.fault.spec;
    const bool process = f.kind_known && (bitOf(fault.kind) & kProcessFaults) != 0;
    if (process && !f.fault.process_peer.empty()) {
      const SourceMark mark = seenOr(f.seen, "process", f.fault.mark);
      const std::string path = join(f.path, "process");
      const auto peer = std::find_if(d.peers.begin(), d.peers.end(), [&](const PeerDraft& p) {
        return p.peer.name == f.fault.process_peer;
      });
      if (peer == d.peers.end()) {
        std::vector<std::string_view> known;
        for (const auto& p : d.peers) known.push_back(p.peer.name);
        if (peerNamesKnown(d))
          r.error(mark, path,
                  "unknown peer \"" + f.fault.process_peer + "\"" +
                      suggestion(f.fault.process_peer, known));
      } else if (peer->kind_known && peer->peer.kind != PeerKind::kExternal &&
                 !peer->peer.separate_process) {
        // An in-process peer shares the harness's process: killing or
        // freezing it would hit the harness itself.
        r.error(mark, path,
                "peer \"" + peer->peer.name +
                    "\" runs inside the harness; a process fault needs an external "
                    "peer or a server with `process: separate`");
      } else if (peer->peer.hosts.size() == 1) {
        if (fault.host.empty()) {
          fault.host = peer->peer.hosts[0];
        } else if (fault.host != peer->peer.hosts[0]) {
          r.error(seenOr(f.seen, "host", f.fault.mark), join(f.path, "host"),
                  "peer \"" + peer->peer.name + "\" runs on " + peer->peer.hosts[0] + ", not " +
                      fault.host);
        }
      }
    }
    if (spec) {
      if (f.seen.contains("host") && !fault.host.empty() && !process)
        checkHostName(r, *spec, seenOr(f.seen, "host", f.fault.mark), join(f.path, "host"),
                      fault.host);
      if (!fault.target.empty())
        checkHostName(r, *spec, seenOr(f.seen, "target", f.fault.mark), join(f.path, "target"),
                      fault.target);
      if (!fault.link.empty() && spec->find(fault.host) != nullptr) {
        std::vector<std::string_view> links;
        for (const auto& wire : spec->wires)
          for (const EndSpec* end : {&wire.a, &wire.b})
            if (end->node == fault.host) links.push_back(end->link);
        if (std::find(links.begin(), links.end(), fault.link) == links.end())
          r.error(seenOr(f.seen, "link", f.fault.mark), join(f.path, "link"),
                  "host " + fault.host + " has no link \"" + fault.link + "\"; it has " +
                      listed(links, " and "));
      }
    }
    // validate() reports one problem; on a fault that already has some, it
    // would only repeat them.
    if (!f.kind_known || r.count() != f.diagnostics_before) continue;
    FaultSpec copy = fault;
    if (process) copy.pid = 1;  // the process exists only at run time
    try {
      copy.validate();
    } catch (const Error& e) {
      // Error::object() is "fault KIND field NAME".
      const std::string& object = e.object();
      const auto at = object.rfind(" field ");
      const std::string field = at == std::string::npos ? "" : object.substr(at + 7);
      r.error(seenOr(f.seen, field, f.fault.mark), field.empty() ? f.path : join(f.path, field),
              e.reason());
    }
  }
}

void checkExpect(Reader& r, Draft& d, const std::optional<TopologySpec>& spec) {
  ExpectDraft& x = d.expect;
  Expectation& expect = x.expect;
  if (spec && !expect.rst_from.empty())
    checkHostName(r, *spec, seenOr(x.seen, "rst_from", expect.mark), "expect.rst_from",
                  expect.rst_from);
  if (!expect.peer.empty() && peerNamesKnown(d) &&
      std::none_of(d.peers.begin(), d.peers.end(),
                   [&](const PeerDraft& p) { return p.peer.name == expect.peer; })) {
    std::vector<std::string_view> known;
    for (const auto& p : d.peers) known.push_back(p.peer.name);
    r.error(seenOr(x.seen, "peer", expect.mark), "expect.peer",
            "unknown peer \"" + expect.peer + "\"" + suggestion(expect.peer, known));
  }
  if (x.seen.contains("detected") && !expect.detected && !x.seen.contains("deadline"))
    r.error(expect.mark, "expect.deadline",
            "is required with detected: false: how long to wait for the detection that must not "
            "come");
  if (expect.window == Expectation::Window::kExplicit && x.window.contains("earliest") &&
      x.window.contains("latest") && expect.earliest > expect.latest)
    r.error(seenOr(x.seen, "window", expect.mark), "expect.window",
            "earliest " + durationText(expect.earliest) + " is after latest " +
                durationText(expect.latest));
}

void checkHosts(Reader& r, Draft& d, const std::optional<TopologySpec>& spec) {
  for (auto& h : d.hosts) {
    if (spec) checkHostName(r, *spec, h.mark, h.path, h.name);
    d.scenario.hosts[h.name] = h.settings;
  }
}

// YAML forbids tabs in indentation, and yaml-cpp's complaint about them
// ("illegal map value") points elsewhere; this says what is wrong.
void checkTabs(Reader& r, std::string_view yaml) {
  int line = 1;
  for (std::size_t start = 0; start < yaml.size(); ++line) {
    std::size_t end = yaml.find('\n', start);
    if (end == std::string_view::npos) end = yaml.size();
    const std::string_view text = yaml.substr(start, end - start);
    const std::size_t indent = text.find_first_not_of(" \t");
    const std::size_t tab = text.substr(0, indent).find('\t');
    if (tab != std::string_view::npos && indent != std::string_view::npos)
      r.error({line, static_cast<int>(tab) + 1}, "",
              "tab in indentation: YAML indents with spaces only");
    start = end + 1;
  }
}

}  // namespace

// ---- public ----------------------------------------------------------------------------------

std::string Diagnostic::str() const {
  std::string text = file.string();
  if (mark.line > 0) text += ":" + std::to_string(mark.line) + ":" + std::to_string(mark.column);
  text += ": ";
  if (!field.empty()) text += field + ": ";
  return text + message;
}

namespace {
std::string describeAll(const std::vector<Diagnostic>& diagnostics) {
  std::string text;
  for (const auto& d : diagnostics) text += (text.empty() ? "" : "\n") + d.str();
  return text.empty() ? "invalid scenario" : text;
}
}  // namespace

ScenarioError::ScenarioError(std::vector<Diagnostic> diagnostics)
    : std::runtime_error(describeAll(diagnostics)), diagnostics_(std::move(diagnostics)) {}

std::string_view peerKindName(PeerKind kind) noexcept {
  for (const auto& [name, k] : peerKinds())
    if (k == kind) return name;
  return "?";
}

const ScenarioPeer* Scenario::peer(std::string_view name) const noexcept {
  for (const auto& p : peers)
    if (p.name == name) return &p;
  return nullptr;
}

std::string Scenario::detectorLabel() const {
  const auto label = [](Detector d) {
    for (const auto& [name, detector] : detectors())
      if (detector == d) return name;
    return std::string("none");
  };
  if (expect.detector) return label(*expect.detector);
  const ScenarioPeer* p = peer(expect.peer);
  if (p == nullptr) return "none";
  switch (p->kind) {
    case PeerKind::kHeartbeatClient:
    case PeerKind::kHeartbeatServer:
      return label(Detector::kHeartbeat);
    case PeerKind::kExternal:
      return label(Detector::kExternal);
    case PeerKind::kTcpClient:
    case PeerKind::kTcpServer:
      break;
  }
  // The kernel checks only TCP_USER_TIMEOUT once it is set; otherwise data
  // in flight meets the retransmission limit before keepalive can start.
  if (p->kernel.user_timeout && p->kernel.user_timeout->count() > 0)
    return label(Detector::kUserTimeout);
  if (p->traffic.kind != TrafficMode::Kind::kIdle) return label(Detector::kRetransmission);
  if (p->kernel.keepalive) return label(Detector::kKeepalive);
  return "none";
}

std::string Scenario::faultLabel() const {
  return faults.empty() ? "none" : std::string(faultKindInfo(faults.front().spec.kind).name);
}

Scenario parseScenario(std::string_view yaml, const std::filesystem::path& file) {
  Reader r(file);
  Draft d;
  d.scenario.file = file;
  d.scenario.folder = file.parent_path().filename().string();
  d.scenario.name = d.scenario.folder.empty() ? file.stem().string()
                                              : d.scenario.folder + "/" + file.stem().string();
  checkTabs(r, yaml);
  YAML::Node root;
  try {
    const std::vector<YAML::Node> documents = YAML::LoadAll(std::string(yaml));
    if (!documents.empty()) root = documents.front();
    // A second document would be silently ignored by a reader of the first.
    if (documents.size() > 1)
      r.error(markOf(documents[1].Mark()), "",
              "a scenario file holds one YAML document; this is document 2 of " +
                  std::to_string(documents.size()));
  } catch (const YAML::ParserException& e) {
    // With tabs in the indentation the parser's complaint follows from them.
    if (r.count() == 0) r.error(markOf(e.mark), "", "YAML syntax: " + e.msg);
    throw ScenarioError(std::move(r.diagnostics()));
  }
  d.mark = root.IsMap() ? markOf(root.Mark()) : SourceMark{1, 1};
  if (!root.IsMap()) {
    r.error(d.mark, "",
            root.IsNull() ? "the file is empty; a scenario needs at least peers and expect"
                          : "a scenario is a mapping of keys (topology, peers, expect, ...), got " +
                                described(root));
    throw ScenarioError(std::move(r.diagnostics()));
  }
  d.seen = readMap(r, Entry{root, "", d.mark}, topRules(), d);
  const auto spec = topologyOf(r, d);
  checkHosts(r, d, spec);
  checkPeers(r, d, spec);
  checkFaults(r, d, spec);
  checkExpect(r, d, spec);

  auto& diagnostics = r.diagnostics();
  if (!diagnostics.empty()) {
    std::stable_sort(diagnostics.begin(), diagnostics.end(), [](const auto& a, const auto& b) {
      return std::pair(a.mark.line, a.mark.column) < std::pair(b.mark.line, b.mark.column);
    });
    throw ScenarioError(std::move(diagnostics));
  }
  Scenario scenario = std::move(d.scenario);
  for (auto& p : d.peers) scenario.peers.push_back(std::move(p.peer));
  for (auto& f : d.faults) scenario.faults.push_back(std::move(f.fault));
  scenario.expect = std::move(d.expect.expect);
  return scenario;
}

Scenario parseScenarioFile(const std::filesystem::path& file) {
  if (std::filesystem::is_directory(file))
    throw Error("read", quoted("scenario", file.string()), "", EISDIR, "is a directory");
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error::fromErrno("open", quoted("scenario", file.string()), "", errno);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw Error::fromErrno("read", quoted("scenario", file.string()), "", errno);
  return parseScenario(text.str(), file);
}

std::vector<std::filesystem::path> findScenarioFiles(
    const std::vector<std::filesystem::path>& paths) {
  namespace fs = std::filesystem;
  std::vector<fs::path> files;
  for (const auto& path : paths) {
    std::error_code ec;
    const auto status = fs::status(path, ec);
    if (ec || !fs::exists(status))
      throw Error("find scenarios", quoted("path", path.string()), "", ENOENT, "does not exist");
    if (!fs::is_directory(status)) {
      files.push_back(path);  // named on purpose, whatever its extension
      continue;
    }
    for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec))
      if (it->is_regular_file() && it->path().extension() == ".yaml") files.push_back(it->path());
    if (ec) throw Error::fromErrno("list", quoted("directory", path.string()), "", ec.value());
  }
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  return files;
}

std::optional<std::chrono::milliseconds> parseDuration(std::string_view text) {
  // The unit in milliseconds; "ms" must be tried before "m" and "s".
  static const std::vector<std::pair<std::string_view, long long>> kUnits = {
      {"ms", 1}, {"s", 1000}, {"m", 60'000}};
  for (const auto& [suffix, unit] : kUnits) {
    if (!text.ends_with(suffix)) continue;
    const std::string_view number = text.substr(0, text.size() - suffix.size());
    const std::size_t dot = number.find('.');
    const std::string_view whole = number.substr(0, dot);
    const std::string_view fraction =
        dot == std::string_view::npos ? std::string_view() : number.substr(dot + 1);
    const auto digits = [](std::string_view s) {
      return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    if (whole.empty() || !digits(whole) || !digits(fraction) || whole.size() > 9 ||
        fraction.size() > 6 || (dot != std::string_view::npos && fraction.empty()))
      return std::nullopt;
    // Exact arithmetic: 1.5s is 1500 ms, 1.0005s is not a whole millisecond.
    long long scaled = 0;
    for (char c : whole) scaled = scaled * 10 + (c - '0');
    long long denominator = 1;
    for (char c : fraction) scaled = scaled * 10 + (c - '0'), denominator *= 10;
    if ((scaled * unit) % denominator != 0) return std::nullopt;
    return std::chrono::milliseconds(scaled * unit / denominator);
  }
  return std::nullopt;
}

const std::map<std::string, std::vector<std::string>>& scenarioKeys() {
  static const std::map<std::string, std::vector<std::string>> keys = [] {
    std::map<std::string, std::vector<std::string>> out;
    const auto add = [&](const std::string& section, const auto& rules) {
      for (const auto& rule : rules) out[section].emplace_back(rule.key);
    };
    add("", topRules());
    add("hosts.*", hostRules());
    add("hosts.*.tcp", hostTcpRules());
    add("peers[]", peerRules());
    add("peers[].keepalive", keepaliveRules());
    add("peers[].heartbeat", heartbeatRules());
    add("peers[].traffic", trafficRules());
    add("peers[].ready", readyRules());
    add("peers[].detect", detectRules());
    add("peers[].detect.socket_leaves_established", socketRules());
    add("faults[]", faultRules());
    add("expect", expectRules());
    add("expect.window", windowRules());
    add("expect.false_positives", falsePositiveRules());
    return out;
  }();
  return keys;
}

std::vector<std::string> scenarioTopLevelKeys() { return scenarioKeys().at(""); }

}  // namespace deadpeer

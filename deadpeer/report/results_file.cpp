// Reading back what json.cpp writes. Each reader mirrors one writer there;
// the round trip (write, read, write gives the same JSON) is tested in
// report_test.
#include "deadpeer/report/results_file.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <ctime>
#include <fstream>
#include <sstream>

#include "deadpeer/error.hpp"
#include "deadpeer/report/text.hpp"

namespace deadpeer {
namespace {

using nlohmann::json;
using Clock = Event::Clock;

// Any origin does: reports draw every time relative to the trial's fault.
const Clock::time_point kOrigin = Clock::time_point{} + std::chrono::hours(1);

// A value at a JSON pointer, with errors that name the pointer.
class Field {
 public:
  Field(const json& value, std::string pointer, const std::string& source)
      : value_(value), pointer_(std::move(pointer)), source_(source) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw Error("read results", quoted("file", source_), "", EINVAL,
                (pointer_.empty() ? "/" : pointer_) + ": " + what);
  }

  const json& raw() const { return value_; }
  bool isNull() const { return value_.is_null(); }

  Field at(const std::string& key) const {
    if (!value_.is_object()) fail("expected an object");
    const auto it = value_.find(key);
    if (it == value_.end()) fail("missing key \"" + key + "\"");
    return Field(*it, pointer_ + "/" + key, source_);
  }
  // Absent or null: nullopt.
  std::optional<Field> optional(const std::string& key) const {
    if (!value_.is_object()) fail("expected an object");
    const auto it = value_.find(key);
    if (it == value_.end() || it->is_null()) return std::nullopt;
    return Field(*it, pointer_ + "/" + key, source_);
  }
  std::vector<Field> items() const {
    if (!value_.is_array()) fail("expected an array");
    std::vector<Field> out;
    for (std::size_t i = 0; i < value_.size(); ++i)
      out.emplace_back(value_[i], pointer_ + "/" + std::to_string(i), source_);
    return out;
  }

  std::string string() const {
    if (!value_.is_string()) fail("expected a string");
    return value_.get<std::string>();
  }
  double number() const {
    if (!value_.is_number()) fail("expected a number");
    return value_.get<double>();
  }
  int integer() const {
    if (!value_.is_number_integer()) fail("expected an integer");
    const auto v = value_.get<long long>();
    if (v < INT32_MIN || v > INT32_MAX) fail("integer out of range");
    return static_cast<int>(v);
  }
  bool boolean() const {
    if (!value_.is_boolean()) fail("expected true or false");
    return value_.get<bool>();
  }
  Seconds seconds() const { return Seconds(number()); }
  std::vector<std::string> strings() const {
    std::vector<std::string> out;
    for (const Field& f : items()) out.push_back(f.string());
    return out;
  }

 private:
  const json& value_;
  std::string pointer_;
  const std::string& source_;
};

template <typename D>
D rounded(Seconds s) {
  return std::chrono::round<D>(s);
}

int family(const Field& f) {
  if (f.isNull()) return 0;
  const std::string name = f.string();
  if (name == "ipv4") return AF_INET;
  if (name == "ipv6") return AF_INET6;
  f.fail("expected \"ipv4\", \"ipv6\" or null, not \"" + name + "\"");
}

// The enum value whose name is `f`; names come from the writers' own
// functions, so a new value needs no edit here.
template <typename Enum, typename NameOf>
Enum byName(const Field& f, NameOf nameOf, const char* what) {
  const std::string name = f.string();
  for (int i = 0; i < 64; ++i) {
    const auto value = static_cast<Enum>(i);
    if (nameOf(value) == name) return value;
  }
  f.fail(std::string("unknown ") + what + " \"" + name + "\"");
}

ScenarioResult::Verdict verdict(const Field& f) {
  const std::string key = f.string();
  for (auto v : {ScenarioResult::Verdict::kPass, ScenarioResult::Verdict::kFail,
                 ScenarioResult::Verdict::kSkip, ScenarioResult::Verdict::kError})
    if (report::verdictKey(v) == key) return v;
  f.fail("unknown verdict \"" + key + "\"");
}

std::optional<Seconds> optionalSeconds(const Field& parent, const std::string& key) {
  if (auto f = parent.optional(key)) return f->seconds();
  return std::nullopt;
}

std::optional<QualityMetrics> quality(const Field& parent) {
  const auto f = parent.optional("quality");
  if (!f) return std::nullopt;
  QualityMetrics q;
  q.mistakes = f->at("mistakes").integer();
  q.observed = f->at("observed").seconds();
  q.suspected = f->at("suspected").seconds();
  q.t_mr = optionalSeconds(*f, "t_mr");
  q.t_m = optionalSeconds(*f, "t_m");
  if (auto p = f->optional("p_a")) q.p_a = p->number();
  return q;
}

std::optional<Percentiles> percentilesOf(const Field& parent) {
  const auto f = parent.optional("detection");
  if (!f) return std::nullopt;
  Percentiles p;
  p.p50 = f->at("p50").seconds();
  p.p99 = f->at("p99").seconds();
  p.max = f->at("max").seconds();
  p.samples = f->at("samples").integer();
  return p;
}

void window(const Field& f, TrialResult& trial, Clock::time_point zero) {
  DetectionWindow& w = trial.window;
  w.never = f.at("never").boolean();
  w.reason = f.at("reason").string();
  trial.window_checked = f.at("checked").boolean();
  if (!w.never) {
    trial.window_earliest = f.at("earliest").seconds();
    trial.window_latest = f.at("latest").seconds();
    w.earliest = zero + rounded<Clock::duration>(trial.window_earliest);
    w.latest = zero + rounded<Clock::duration>(trial.window_latest);
  }
  w.anchor_name = f.at("anchor").string();
  w.anchor = zero + rounded<Clock::duration>(trial.anchor);
  w.nominal = rounded<Clock::duration>(f.at("nominal").seconds());
  w.error = f.at("errno").integer();
  w.detector = byName<Detector>(f.at("detector"), detectorName, "detector");
  if (auto p = f.optional("probes")) w.probes = p->integer();
  w.probe_spacing = rounded<std::chrono::milliseconds>(f.at("probe_spacing").seconds());
  w.reasoning = f.at("reasoning").strings();
}

TrialResult trial(const Field& f) {
  TrialResult t;
  t.trial = f.at("trial").integer();
  t.family = family(f.at("family"));
  t.passed = f.at("passed").boolean();
  t.failures = f.at("failures").strings();
  for (const Field& d : f.at("detections").items()) {
    Detection x;
    x.at = d.at("at").seconds();
    x.detector = byName<Detector>(d.at("detector"), detectorName, "detector");
    x.error = d.at("errno").integer();
    x.tcp_state = d.at("tcp_state").integer();
    x.peer = d.at("peer").string();
    x.connection = d.at("connection").integer();
    t.detections.push_back(std::move(x));
  }
  t.last_activity = f.at("last_activity").seconds();
  const Field anchor = f.at("anchor");
  t.anchor = anchor.at("at").seconds();
  t.anchor_name = anchor.at("name").string();
  t.detection_expected = f.at("detection_expected").boolean();
  t.observed = f.at("observed").seconds();
  if (auto b = f.optional("idle_bytes_per_hour")) t.idle_bytes_per_hour = b->number();
  if (auto p = f.optional("idle_packets_per_hour")) t.idle_packets_per_hour = p->number();
  // Events are written relative to the fault, or with a null time when the
  // trial never knew its fault; keep it unknown then.
  const std::vector<Field> events = f.at("events").items();
  bool zero_known = true;
  for (const Field& e : events)
    if (e.at("t").isNull()) zero_known = false;
  const Clock::time_point zero = zero_known ? kOrigin : Clock::time_point{};
  t.fault_at = zero;
  window(f.at("window"), t, zero);
  if (!zero_known) {
    t.window.earliest = t.window.latest = t.window.anchor = Clock::time_point{};
  }
  t.probes_seen = f.at("probes_seen").integer();
  for (const Field& s : f.at("probe_spacing").items()) t.probe_spacing.push_back(s.seconds());
  if (auto r = f.optional("rst_from")) t.rst_from = r->string();
  t.icmp_seen = f.at("icmp_seen").strings();
  t.false_positives = f.at("false_positives").integer();
  t.quality = quality(f);
  for (const Field& m : f.at("timeline").items())
    t.timeline.push_back({m.at("at").seconds(), m.at("kind").string(), m.at("text").string()});
  t.overhead = f.at("overhead").seconds();
  t.protocol = f.at("protocol").seconds();
  for (const Field& e : events) {
    Event x;
    const Field at = e.at("t");
    x.at = zero + (at.isNull() ? Clock::duration{} : rounded<Clock::duration>(at.seconds()));
    x.kind = byName<EventKind>(e.at("kind"), eventKindName, "event kind");
    x.peer = e.at("peer").string();
    x.connection = e.at("connection").integer();
    if (auto d = e.optional("detector"))
      x.detector = byName<Detector>(*d, detectorName, "detector");
    x.error = e.at("errno").integer();
    x.text = e.at("text").string();
    t.events.push_back(std::move(x));
  }
  return t;
}

ScenarioResult result(const Field& f) {
  ScenarioResult r;
  r.name = f.at("name").string();
  r.file = f.at("file").string();
  r.folder = f.at("folder").string();
  r.detector = f.at("detector").string();
  r.fault = f.at("fault").string();
  r.family = family(f.at("family"));
  r.verdict = verdict(f.at("verdict"));
  r.reason = f.at("reason").string();
  r.detection = percentilesOf(f);
  r.quality = quality(f);
  r.pcap_files = f.at("pcap_files").strings();
  r.wall = f.at("wall").seconds();
  for (const Field& t : f.at("trials").items()) r.trials.push_back(trial(t));
  return r;
}

}  // namespace

std::vector<ScenarioResult> resultsFromJson(const nlohmann::json& document,
                                            const std::string& source) {
  const Field root(document, "", source);
  // The header says what wrote it: a file of another kind or version is
  // refused at once, rather than at its first missing key.
  const Field header = root.at("format");
  if (!header.raw().is_object() || header.raw().value("name", "") != "deadpeer-results")
    header.fail("not a deadpeer results file (expected {\"name\": \"deadpeer-results\"})");
  if (header.at("version").integer() != kResultsFormatVersion)
    header.fail("format version " + std::to_string(header.at("version").integer()) +
                "; this deadpeer reads version " + std::to_string(kResultsFormatVersion));
  std::vector<ScenarioResult> out;
  for (const Field& r : root.at("results").items()) out.push_back(result(r));
  return out;
}

RunInfo runInfoFromJson(const nlohmann::json& document, const std::string& source) {
  const Field root(document, "", source);
  RunInfo run;
  const auto f = root.optional("run");
  if (!f) return run;
  run.version = f->at("version").string();
  run.kernel = f->at("kernel").string();
  if (auto hz = f->optional("hz")) run.hz = hz->integer();
  run.host = f->at("host").string();
  if (auto started = f->optional("started")) {
    std::tm utc{};
    const std::string text = started->string();
    if (!strptime(text.c_str(), "%Y-%m-%dT%H:%M:%SZ", &utc))
      started->fail("expected a UTC time as 2026-11-29T13:07:06Z");
    run.started = std::chrono::system_clock::from_time_t(timegm(&utc));
  }
  run.command = f->at("command").strings();
  return run;
}

ResultsFile readResultsFile(const std::filesystem::path& file) {
  const std::string name = file.string();
  std::error_code ec;
  const auto size = std::filesystem::file_size(file, ec);
  if (ec) throw Error::fromErrno("read results", quoted("file", name), "", ec.value());
  if (size > kMaxResultsFileBytes)
    throw Error("read results", quoted("file", name), "", EFBIG,
                std::to_string(size) + " bytes, more than the limit of " +
                    std::to_string(kMaxResultsFileBytes));
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error::fromErrno("read results", quoted("file", name), "", errno);
  std::string text(size, '\0');
  in.read(text.data(), static_cast<std::streamsize>(size));
  if (static_cast<std::uintmax_t>(in.gcount()) != size)
    throw Error("read results", quoted("file", name), "", EIO, "short read");
  json document;
  try {
    document = json::parse(text);
  } catch (const json::exception& e) {
    // parse_error, and out_of_range for a number no double holds.
    throw Error("read results", quoted("file", name), "", EINVAL,
                std::string("not JSON: ") + e.what());
  }
  return {runInfoFromJson(document, name), resultsFromJson(document, name)};
}

std::vector<ScenarioResult> readResultsJson(const std::filesystem::path& file) {
  return readResultsFile(file).results;
}

}  // namespace deadpeer

// JSON results: everything a run measured, for tools (docs/results.schema.json
// describes it). Key names are snake_case and stable; every time is a double
// in seconds. A trial's own facts (window, detections, timeline, events) are
// after its fault (T = 0), as recorded; what the reports compare (the
// "row" of a result, its percentiles, "since_anchor" of a detection) is
// after the trial's anchor, the frame the table and the page use. Absent
// values are null. Format 2.
#include <sys/socket.h>

#include "deadpeer/report/report.hpp"
#include "deadpeer/report/text.hpp"
#include "deadpeer/version.hpp"

namespace deadpeer {
namespace {

using nlohmann::json;

json seconds(Seconds s) { return s.count(); }

json optionalSeconds(const std::optional<Seconds>& s) {
  return s ? json(s->count()) : json(nullptr);
}

json familyJson(int family) {
  if (family == AF_INET) return "ipv4";
  if (family == AF_INET6) return "ipv6";
  return nullptr;
}

json errnoJson(int error) { return error == 0 ? json(nullptr) : json(report::errnoName(error)); }

json qualityJson(const std::optional<QualityMetrics>& quality) {
  if (!quality) return nullptr;
  return {
      {"mistakes", quality->mistakes},
      {"observed", seconds(quality->observed)},
      {"suspected", seconds(quality->suspected)},
      {"t_mr", optionalSeconds(quality->t_mr)},
      {"t_m", optionalSeconds(quality->t_m)},
      {"p_a", quality->p_a ? json(*quality->p_a) : json(nullptr)},
  };
}

json percentilesJson(const std::optional<Percentiles>& p) {
  if (!p) return nullptr;
  return {{"p50", seconds(p->p50)},
          {"p99", seconds(p->p99)},
          {"max", seconds(p->max)},
          {"samples", p->samples}};
}

json windowJson(const TrialResult& trial) {
  const DetectionWindow& w = trial.window;
  const bool has = !w.never || trial.window_checked;
  return {
      {"never", !has},
      {"checked", trial.window_checked},
      {"reason", w.reason},
      {"earliest", has ? seconds(trial.window_earliest) : json(nullptr)},
      {"latest", has ? seconds(trial.window_latest) : json(nullptr)},
      {"anchor", w.anchor_name},
      {"nominal", seconds(w.nominal)},
      {"errno", w.error},
      {"errno_name", errnoJson(w.error)},
      {"detector", std::string(detectorName(w.detector))},
      {"probes", w.probes ? json(*w.probes) : json(nullptr)},
      {"probe_spacing", seconds(w.probe_spacing)},
      {"reasoning", w.reasoning},
  };
}

json trialJson(const TrialResult& trial) {
  json detections = json::array();
  for (const Detection& d : trial.detections) {
    detections.push_back({
        {"at", seconds(d.at)},
        {"since_anchor", seconds(d.at - trial.anchor)},
        {"in_window",
         trial.window_checked && d.at >= trial.window_earliest && d.at <= trial.window_latest},
        {"detector", std::string(detectorName(d.detector))},
        {"errno", d.error},
        {"errno_name", errnoJson(d.error)},
        {"tcp_state", d.tcp_state},
        {"peer", report::validUtf8(d.peer)},
        {"connection", d.connection},
    });
  }
  json spacing = json::array();
  for (Seconds s : trial.probe_spacing) spacing.push_back(seconds(s));
  json timeline = json::array();
  for (const TimelineMark& mark : trial.timeline) {
    timeline.push_back(
        {{"at", seconds(mark.at)}, {"kind", mark.kind}, {"text", report::validUtf8(mark.text)}});
  }
  const std::optional<Event::Clock::time_point> zero = report::faultTime(trial);
  json events = json::array();
  for (const Event& e : trial.events) {
    events.push_back({
        {"t", zero ? seconds(e.at - *zero) : json(nullptr)},
        {"kind", std::string(eventKindName(e.kind))},
        {"peer", report::validUtf8(e.peer)},
        {"connection", e.connection},
        {"detector", e.kind == EventKind::kDetected ? json(std::string(detectorName(e.detector)))
                                                    : json(nullptr)},
        {"errno", e.error},
        {"text", report::validUtf8(e.text)},
    });
  }
  return {
      {"trial", trial.trial},
      {"family", familyJson(trial.family)},
      {"passed", trial.passed},
      {"failures", trial.failures},
      {"anchor", {{"at", seconds(trial.anchor)}, {"name", trial.anchor_name}}},
      {"detection_expected", trial.detection_expected},
      {"observed", seconds(trial.observed)},
      {"detections", std::move(detections)},
      {"window", windowJson(trial)},
      {"last_activity", seconds(trial.last_activity)},
      {"probes_seen", trial.probes_seen},
      {"probe_spacing", std::move(spacing)},
      {"rst_from", trial.rst_from ? json(*trial.rst_from) : json(nullptr)},
      {"icmp_seen", trial.icmp_seen},
      {"false_positives", trial.false_positives},
      {"quality", qualityJson(trial.quality)},
      {"idle_bytes_per_hour",
       trial.idle_bytes_per_hour ? json(*trial.idle_bytes_per_hour) : json(nullptr)},
      {"idle_packets_per_hour",
       trial.idle_packets_per_hour ? json(*trial.idle_packets_per_hour) : json(nullptr)},
      {"timeline", std::move(timeline)},
      {"overhead", seconds(trial.overhead)},
      {"protocol", seconds(trial.protocol)},
      {"events", std::move(events)},
  };
}

// What the table's row shows, as numbers.
json rowJson(const ScenarioResult& result) {
  const report::RowTimes row = report::rowTimes(result);
  return {
      {"after", row.earliest ? json(row.from) : json(nullptr)},
      {"window_earliest", row.earliest ? seconds(*row.earliest) : json(nullptr)},
      {"window_latest", row.latest ? seconds(*row.latest) : json(nullptr)},
      {"never_expected", row.never_expected},
      {"live", row.live},
      {"detections", row.detections},
      {"in_window", row.in_window},
      {"observed", seconds(row.observed)},
      {"window_text", report::windowText(row)},
      {"detections_text", report::detectionsText(row)},
  };
}

json resultJson(const ScenarioResult& result) {
  json trials = json::array();
  for (const TrialResult& trial : result.trials) trials.push_back(trialJson(trial));
  json pcaps = json::array();
  for (const std::string& file : result.pcap_files) pcaps.push_back(report::relativePath(file));
  return {
      {"name", result.name},
      {"file", report::relativePath(result.file)},
      {"folder", result.folder},
      {"detector", result.detector},
      {"fault", result.fault},
      {"family", familyJson(result.family)},
      {"verdict", report::verdictKey(result.verdict)},
      {"reason", result.reason},
      {"row", rowJson(result)},
      {"detection", percentilesJson(result.detection)},
      {"quality", qualityJson(result.quality)},
      {"pcap_files", std::move(pcaps)},
      {"wall", seconds(result.wall)},
      {"trials", std::move(trials)},
  };
}

}  // namespace

nlohmann::json resultsJson(const std::vector<ScenarioResult>& results, const RunInfo& run) {
  json list = json::array();
  for (const ScenarioResult& result : results) list.push_back(resultJson(result));
  const report::Counts counts = report::count(results);
  const std::string started = utcTimestamp(run.started);
  return {
      {"format",
       {{"name", "deadpeer-results"},
        {"version", kResultsFormatVersion},
        {"time_unit", "s"},
        {"program_version", std::string(kVersion)},
        {"git_revision", std::string(gitRevision())}}},
      {"run",
       {{"version", run.version},
        {"kernel", run.kernel},
        {"hz", run.hz == 0 ? json(nullptr) : json(run.hz)},
        {"host", run.host},
        {"started", started.empty() ? json(nullptr) : json(started + "Z")},
        {"command", run.command}}},
      {"results", std::move(list)},
      {"summary",
       {{"total", counts.total},
        {"passed", counts.passed},
        {"failed", counts.failed},
        {"skipped", counts.skipped},
        {"errors", counts.errors},
        {"wall", seconds(counts.wall)}}},
  };
}

void writeJson(const std::vector<ScenarioResult>& results, const std::filesystem::path& file,
               const RunInfo& run) {
  // Event text comes from external programs and need not be UTF-8: replace
  // what is not rather than throw.
  report::writeFile(
      file,
      resultsJson(results, run).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) +
          "\n");
}

}  // namespace deadpeer

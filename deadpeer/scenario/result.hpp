// scenario/result: what a run of a scenario measured and judged; the input
// of every report (report/).
//
// Times are kept as durations after the trial's first fault (T = 0);
// negative values are before the fault. Reports show them after the trial's
// anchor instead (TrialResult::anchor: what the window counts from, the
// connection's last activity for most rules), the one frame in which the
// windows of different trials agree (docs/reading-results.md).
//
// Threading: plain data.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "deadpeer/capture/capture.hpp"
#include "deadpeer/oracle/oracle.hpp"
#include "deadpeer/peer/event.hpp"

namespace deadpeer {

using Seconds = std::chrono::duration<double>;

// One detection (one connection of the expected peer).
struct Detection {
  Seconds at{};  // after the fault
  Detector detector = Detector::kNone;
  int error = 0;
  int tcp_state = 0;
  std::string peer;
  int connection = -1;
};

// Chen, Toueg and Aguilera's quality of service of a detector watching a
// live peer (REFERENCE.md section 7).
// With k wrong suspicions in an observation of T seconds, S of them spent
// suspecting: E(T_MR) = T / k, E(T_M) = S / k, and P_A = 1 - S / T, the
// share of the time a query would have found the live peer trusted.
struct QualityMetrics {
  int mistakes = 0;                  // wrong suspicions (trust -> suspect)
  Seconds observed{};                // how long the live peer was watched
  Seconds suspected{};               // of which spent suspecting it
  std::optional<Seconds> t_mr;       // mean time between wrong suspicions
  std::optional<Seconds> t_m;        // mean duration of a wrong suspicion
  std::optional<double> p_a;         // 1 - E(T_M) / E(T_MR)

  // Fills t_mr, t_m and p_a from the three counts.
  void derive();
};

// A mark on the timeline, relative to the fault.
struct TimelineMark {
  Seconds at{};
  std::string kind;  // "fault", "revert", "last-activity", "probe", "ping", "pong", "data", "rst", "fin", "icmp", "detected", "warmup"
  std::string text;
};

struct TrialResult {
  int trial = 0;  // 1-based
  int family = 0;
  bool passed = false;
  // It met an error (building, starting, injecting) and was not judged: the
  // scenario's verdict is ERROR, not FAIL. failures says what.
  bool errored = false;
  std::vector<std::string> failures;  // why it failed, one sentence each
  std::vector<Detection> detections;  // of the expected peer, in time order
  // The oracle's window relative to the fault (window.never: none).
  DetectionWindow window;
  Seconds window_earliest{};
  Seconds window_latest{};
  Seconds last_activity{};  // last received segment / sign of life before the fault
  // What the window counts from, after the fault: the oracle's anchor (the
  // last received segment, the last sign of life, the send, the kill) or
  // the fault itself for a file's explicit window and for a trial without
  // a window. Every report shows times after it (`at - anchor`).
  Seconds anchor{};
  std::string anchor_name = "the fault";
  // Whether the judge held the detections to the window: false for live
  // peers, `window: none` and `never` windows, so that no report prints a
  // window nothing was measured against.
  bool window_checked = false;
  // Whether the scenario expects the peer to be declared dead (false for a
  // detector that must stay blind, and for live peers).
  bool detection_expected = true;
  // How long after the fault the trial watched (the end of its wait), the
  // span a "never detected" covers.
  Seconds observed{};
  int probes_seen = 0;      // keepalive or window probes (or PINGs) on the wire
  std::vector<Seconds> probe_spacing;
  std::optional<std::string> rst_from;  // address of the RST's sender
  std::vector<std::string> icmp_seen;   // "ICMP host unreachable from 198.18.1.254"
  int false_positives = 0;
  std::optional<QualityMetrics> quality;
  // The detector's idle overhead, measured on the wire: TCP bytes and
  // packets per connection per hour between the warm-up's start and the
  // fault (both directions, frame lengths). Set when that span is >= 1 s.
  std::optional<double> idle_bytes_per_hour;
  std::optional<double> idle_packets_per_hour;
  std::vector<TimelineMark> timeline;
  // Harness time outside the protocol waits (build, start, teardown), and
  // the protocol waits themselves (warm-up, fault schedule, detection wait).
  Seconds overhead{};
  Seconds protocol{};
  std::vector<Event> events;  // every event of the trial
  // T = 0 on CLOCK_MONOTONIC: events carry absolute times, reports show them
  // relative to the fault. Unset (epoch): reports fall back on the window.
  Event::Clock::time_point fault_at{};
};

struct Percentiles {
  Seconds p50{};
  Seconds p99{};
  Seconds max{};
  int samples = 0;
};

struct ScenarioResult {
  enum class Verdict { kPass, kFail, kSkip, kError };

  std::string name;    // "crash/keepalive-idle [ipv6]" for the IPv6 variant
  std::string file;
  std::string folder;  // fault kind folder
  std::string detector;  // Scenario::detectorLabel()
  std::string fault;     // Scenario::faultLabel()
  int family = 0;
  Verdict verdict = Verdict::kError;
  std::string reason;  // skip/error reason, or the first failure
  std::vector<TrialResult> trials;
  // Over every detection of every trial, each after its own trial's anchor
  // (Detection::at - TrialResult::anchor).
  std::optional<Percentiles> detection;
  std::optional<QualityMetrics> quality; // over every trial (live peers)
  std::vector<std::string> pcap_files;
  Seconds wall{};  // the whole run of this variant, every trial
};

std::string_view verdictName(ScenarioResult::Verdict v) noexcept;  // "pass", "FAIL", "skip", "ERROR"

// Nearest-rank percentiles of `samples` (empty: nullopt).
std::optional<Percentiles> percentiles(std::vector<Seconds> samples);

}  // namespace deadpeer

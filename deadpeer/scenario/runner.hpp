// scenario/runner: runs a Scenario against the real kernel and judges it.
//
// For each address family and each repetition, one trial:
//   1. build the topology, write the hosts' sysctls, open the capture on the
//      expected peer's host (before anything connects);
//   2. start the servers, wait until they accept; start the clients, wait
//      until every connection is established;
//   3. warm up: wait `warmup` while watching for a premature detection;
//   4. apply the fault schedule, each fault `at` after the warm-up;
//   5. wait for the expectation (every connection of the expected peer
//      detects, or the deadline passes), never longer than its deadline
//      (judge/deadline.hpp);
//   6. hand what it recorded (a TrialRecord) to the judge (judge/judge.hpp),
//      which holds the detections against the oracle's window (or an
//      explicit one), the errno, the detector and the probes on the wire;
//   7. tear everything down (RAII, in reverse order).
// Every wait is on an event (EventLog::waitFor, readiness, netlink acks)
// with a deadline; the warm-up and the fault offsets are protocol time, also
// spent waiting on the EventLog so that an early detection ends them.
//
// Threading: run() blocks the calling thread; the progress callback is
// called from it. One Runner may run many scenarios, one at a time.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <stop_token>
#include <string>

#include "deadpeer/oracle/oracle.hpp"
#include "deadpeer/scenario/result.hpp"
#include "deadpeer/scenario/scenario.hpp"

namespace deadpeer {

struct RunOptions {
  std::optional<int> repeat;  // overrides the file's `repeat`
  // Write one pcap file per trial here ("<name>-<family>-<trial>.pcap").
  std::optional<std::filesystem::path> pcap_dir;
  // The deadpeer binary, for peers run as separate processes ({self}).
  std::filesystem::path self = "/proc/self/exe";
  // Called with a one-line status when a trial enters a phase: what is
  // happening and, while waiting for detection, the time expected. The
  // caller adds the elapsed time (the CLI redraws it live).
  std::function<void(const std::string& line)> progress;
  // Keep every event and packet in the results (reports draw them).
  bool keep_detail = true;
  // Warm up at least this long (benchmarks measure the idle overhead then).
  std::chrono::milliseconds min_warmup{0};
  // A stop request (Ctrl-C in the CLI) ends the trial under way at its next
  // wait: the trial is torn down as usual, nothing is judged, and run()
  // throws Error with errno EINTR. Waits for peers to start are not cut
  // short; they are bounded by their own deadlines.
  std::stop_token stop;
};

class Runner {
 public:
  explicit Runner(RunOptions options = {});
  // Runs every family variant of `scenario`; one result per variant.
  // Failures to build or start are an ERROR verdict with the reason, a
  // missing kernel feature a skip; it never throws for those.
  std::vector<ScenarioResult> run(const Scenario& scenario);

  // The oracle's prediction for one variant without running it: what
  // `deadpeer explain` prints. Anchors are placed at t = 0.
  DetectionWindow explain(const Scenario& scenario, int family) const;

  // How long one trial of `scenario` waits on the protocol: its warm-up,
  // fault schedule and the wait after the fault (judge/deadline.hpp) for
  // the oracle's prediction of its first family. ctest's labels and
  // timeouts come from it.
  std::chrono::nanoseconds protocolTime(const Scenario& scenario) const;
  // For an external peer, whose detector the file does not state: builds
  // the topology, starts the peers, warms up, reads the expected program's
  // sockets (pidfd_getfd) and predicts as if the first fault struck then,
  // without applying it; everything is torn down before it returns. Throws
  // Error when the programs cannot start or hold no connection.
  DetectionWindow explainByReading(const Scenario& scenario, int family) const;

 private:
  RunOptions options_;
  Oracle oracle_;
};

}  // namespace deadpeer

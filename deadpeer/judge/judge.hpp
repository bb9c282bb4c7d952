// judge: a trial's record in, a verdict out.
//
// The runner (scenario/runner.hpp) builds, starts, injects and waits; what
// it saw is a TrialRecord of plain data: the peers' events, the packets the
// capture classified, the instants of the fault and the addresses that
// matter. The judge holds that record against the scenario's expectation and
// the oracle's window and says what failed, one sentence each. It touches no
// kernel object, so a recorded trial can be judged again in a unit test
// (fixtures/judge_test.cpp).
//
// Times: CLOCK_MONOTONIC time points, as the events and packets carry them;
// the result is relative to the fault (scenario/result.hpp).
//
// Threading: pure functions; the Oracle is only read.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "deadpeer/capture/capture.hpp"
#include "deadpeer/net/address.hpp"
#include "deadpeer/oracle/oracle.hpp"
#include "deadpeer/peer/event.hpp"
#include "deadpeer/peer/program_sockets.hpp"
#include "deadpeer/scenario/result.hpp"
#include "deadpeer/scenario/scenario.hpp"

namespace deadpeer {

// One applied fault as the timeline draws it.
struct FaultRecord {
  std::string text;  // FaultSpec::str()
  Event::Clock::time_point applied_at{};
  Event::Clock::time_point reverted_at{};  // unset: still applied
};

// What one trial observed. Unset time points are the clock's epoch.
struct TrialRecord {
  using Clock = Event::Clock;

  int family = 0;
  std::vector<Event> events;    // every peer's, in time order
  std::vector<Packet> packets;  // on the watched peer's host link
  bool captured = false;        // a capture ran (else packets is empty by design)
  std::uint64_t capture_dropped = 0;

  Clock::time_point protocol_start{};  // the warm-up began
  Clock::time_point fault_start{};     // the first fault's apply() began
  Clock::time_point fault_at{};        // ... and was acknowledged: T = 0
  Clock::duration fault_apply_latency{};
  // Data in flight: when the watched peer's pending write left (unset: the
  // judge looks for it in the record).
  Clock::time_point data_sent_at{};
  Clock::time_point ended{};  // the capture stopped
  std::vector<FaultRecord> faults;

  // The watched peer's host address and, with expect.rst_from, that host's.
  std::optional<IpAddress> watched_address;
  std::optional<IpAddress> rst_expected_from;
  // An external peer's connections, read at the fault (unset: not read).
  std::optional<std::vector<ProgramSocket>> sockets;
};

// How many connections of `peer` detect a dead peer: a client's on every
// host, a server's accepted ones, one for a program.
std::size_t expectedConnections(const ScenarioPeer& peer);

// The earliest and latest last sign of life of the watched connections
// before the fault: the oracle's anchors.
struct Anchors {
  TrialRecord::Clock::time_point earliest{};
  TrialRecord::Clock::time_point latest{};
};

// The oracle's window for the watched peer of this record, with `anchors`
// filled. Throws Error when a program's socket could not be read and the
// file gives nothing else to judge by.
DetectionWindow predictWindow(const Scenario& sc, const TrialRecord& record, const Oracle& oracle,
                              Anchors& anchors);

// The verdict: every judged field of a TrialResult (failures, detections,
// window, probes, RST and ICMP seen, quality, idle overhead, timeline,
// passed), and fault_at. trial, events, overhead and protocol are the
// runner's. Throws Error as predictWindow does.
TrialResult judgeTrial(const Scenario& sc, const TrialRecord& record, const Oracle& oracle);

}  // namespace deadpeer

// testing/detection: GoogleTest assertions on whether, when and how a
// detector noticed a dead peer, judged against the oracle.
//
// A detection is the first kDetected event of a peer in an EventLog: the
// built-in peers record theirs, an ExternalPeer records one when its
// detection condition is met (for Detection::Exit, `error` is the exit
// status, so a program that exits with the errno it saw can be asserted
// with detectedWithErrno), and in-process code records its own with
// recordDetection().
//
// Every wait has a deadline, returns a [[nodiscard]] AssertionResult, and
// says on failure what it expected, what it saw (the event, or the log) and
// how long it waited. Times in messages are in seconds, relative to the
// window's anchor (the event the kernel rule counts from) or to the start
// of the wait.
//
// The windows come from the oracle (deadpeer/oracle/oracle.hpp): the
// kernel's rule for a detector's settings, the fault and the connection's
// state, with the timer wheel's slack and a scheduling allowance. A
// keepalive rule counts from the last segment the detector's host received,
// which a Capture on that host shows (lastReceived()): open the capture
// before the connection is made.
//
// Threading: the waits block the calling thread; the EventLog may be
// written from any thread meanwhile.
#pragma once

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <string>
#include <string_view>

#include "deadpeer/capture/capture.hpp"
#include "deadpeer/fault/fault.hpp"
#include "deadpeer/net/address.hpp"
#include "deadpeer/oracle/oracle.hpp"
#include "deadpeer/peer/event.hpp"
#include "deadpeer/peer/heartbeat.hpp"

namespace deadpeer::testing {

using Clock = std::chrono::steady_clock;

// How long past a window's end detectedInWindow() keeps waiting, so that a
// late detection is reported with its time rather than as none at all.
inline constexpr std::chrono::seconds kLateDetectionWait{1};

// --- The oracle's windows ---------------------------------------------------

// Kernel keepalive settings as socket options (TCP_KEEPIDLE, TCP_KEEPINTVL,
// TCP_KEEPCNT; whole seconds, as the kernel takes them) and, if not zero,
// TCP_USER_TIMEOUT.
KernelDetector keepaliveDetector(std::chrono::seconds idle, std::chrono::seconds interval,
                                 int count,
                                 std::chrono::milliseconds user_timeout = std::chrono::milliseconds(0));

// The window of a TCP socket with `detector` settings, on a connection of
// `family` whose host last received a segment from the peer at
// `last_received`, after `fault` (applied). `state` is the connection's
// state at the fault; for kDataInFlight, `data_sent_at` is when the data
// was first sent. Throws Error (EINVAL) for settings the kernel refuses.
DetectionWindow kernelWindow(const KernelDetector& detector, const Fault& fault,
                             Clock::time_point last_received, int family,
                             ConnectionState state = ConnectionState::kIdle,
                             Clock::time_point data_sent_at = {});

// The window of an application heartbeat that follows deadpeer's rule
// (deadpeer/peer/heartbeat.hpp): after `idle` of silence a PING, then one
// every `interval`; dead at the last sign of life + idle + count x
// interval. `last_sign_of_life` is the last byte received (the last PONG
// when settings.pong_only).
DetectionWindow heartbeatWindow(const HeartbeatSettings& settings, const Fault& fault,
                                Clock::time_point last_sign_of_life, int family);

// Any other case: the oracle itself, with the running kernel's timer wheel.
DetectionWindow oracleWindow(const OracleInput& input);

// When the last TCP segment that `capture` saw arrive at `detector` was, at
// or before `before` (usually the fault's appliedAt()): the anchor of
// keepalive. With `with_payload`, only segments that carry data, and the
// SYN-ACK that opened the connection, count: the last sign of life of a
// heartbeat that counts any byte and starts at the connection, which a bare
// ACK from the peer's kernel is not. Throws Error (ENOENT) when the capture saw
// none: it was opened after the connection's last exchange.
Clock::time_point lastReceived(const Capture& capture, const IpAddress& detector,
                               Clock::time_point before, bool with_payload = false);

// --- Waits -------------------------------------------------------------------

// `peer` detects inside `window`: waits for its first kDetected event until
// kLateDetectionWait past the window's end (plus `allowance`), and succeeds
// when the event falls in [earliest, latest + allowance]. `allowance` is for
// the detector's own reporting path, which the oracle does not model (an
// external program's exit and its reaping); the message names it.
[[nodiscard]] ::testing::AssertionResult detectedInWindow(
    const EventLog& log, std::string_view peer, const DetectionWindow& window,
    std::chrono::milliseconds allowance = std::chrono::milliseconds(0));

// `peer` detects within `deadline` of the call, and its detection carries
// `error`, an errno such as ETIMEDOUT (a socket's or an in-process
// detector's; an external program's exit is never an errno: see below).
[[nodiscard]] ::testing::AssertionResult detectedWithErrno(const EventLog& log,
                                                           std::string_view peer, int error,
                                                           std::chrono::milliseconds deadline);

// `peer`, an external program, detects within `deadline` of the call by
// exiting with `status` (0-255, from exit(2)).
[[nodiscard]] ::testing::AssertionResult detectedWithExitStatus(
    const EventLog& log, std::string_view peer, int status, std::chrono::milliseconds deadline);

// `peer` has not detected anything `duration` after the call: waits the
// whole duration (on the log's condition variable, so a detection ends the
// wait at once and fails it).
[[nodiscard]] ::testing::AssertionResult notDetectedWithin(const EventLog& log,
                                                           std::string_view peer,
                                                           std::chrono::milliseconds duration);

// For in-process detectors: records that `peer` declared its peer dead now,
// with `error` (an errno), as seen by `detector`.
void recordDetection(EventLog& log, std::string peer, int error,
                     Detector detector = Detector::kExternal, std::string text = {});

// --- IPv4 and IPv6 as test parameters ----------------------------------------

// INSTANTIATE_TEST_SUITE_P(Families, MyTest, deadpeer::testing::families(),
//                          deadpeer::testing::familyTestName);
inline auto families() { return ::testing::Values(AF_INET, AF_INET6); }
// "ipv4", "ipv6": test names from the parameter.
std::string familyTestName(const ::testing::TestParamInfo<int>& info);

// A topology fixture run once per address family:
//   class Detects : public deadpeer::testing::ByFamily<deadpeer::testing::TwoHosts> {};
//   TEST_P(Detects, ...) { ... address("h2") ... }
template <class Fixture>
class ByFamily : public Fixture, public ::testing::WithParamInterface<int> {
 protected:
  int family() const { return this->GetParam(); }
  // The host's address of this family on its first wire.
  IpAddress address(std::string_view host) { return this->topology().address(host, family()); }
};

}  // namespace deadpeer::testing

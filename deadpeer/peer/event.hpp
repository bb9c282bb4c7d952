// peer/event: what the systems under test report, and when.
//
// Every peer, built-in or external, reports Events stamped on CLOCK_MONOTONIC
// (std::chrono::steady_clock), the clock the fault module stamps its faults
// with, so a detection time is simply `detected.at - fault.appliedAt()`.
// A detected event says which detector saw the peer die, with the errno and
// the TCP state of the socket at that moment.
//
// EventLog collects the events of a run. Tests and the runner wait on it for
// an event with a deadline (a condition variable, never a sleep).
//
// Threading: EventLog is safe from any thread; Event is a value.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace deadpeer {

enum class EventKind {
  kListening,     // a server socket accepts
  kConnected,     // a connection is established
  kPingSent,
  kPingReceived,
  kPongSent,
  kPongReceived,
  kData,          // application data sent or received (text says which)
  kClosed,        // closed in an orderly way by this side
  kDetected,      // the peer is declared dead
  kOutput,        // a line an external program printed (text)
  kReady,         // an external program is ready
  kExited,        // an external program exited (exit_status or signal)
  kSuspected,     // suspect-only heartbeat: the deadline passed, the connection is kept
  kRestored,      // suspect-only heartbeat: a sign of life ended the suspicion
};

// What detected a dead peer.
enum class Detector {
  kNone,
  kKeepalive,       // TCP keepalive probes went unanswered: ETIMEDOUT
  kUserTimeout,     // TCP_USER_TIMEOUT expired
  kRetransmission,  // the retransmission limit (tcp_retries2) was reached
  kHeartbeat,       // the application's PING went unanswered
  kFin,             // the peer closed: read returned 0
  kRst,             // the peer reset: ECONNRESET
  kIcmp,            // an ICMP error was reported (EHOSTUNREACH, ...)
  kExternal,        // an external program said so (exit, output, socket state)
};

std::string_view eventKindName(EventKind kind) noexcept;
std::string_view detectorName(Detector detector) noexcept;
// "SIGKILL" for 9; the number for a signal without a name.
std::string signalName(int signal);

struct Event {
  using Clock = std::chrono::steady_clock;  // CLOCK_MONOTONIC

  Clock::time_point at{};
  EventKind kind = EventKind::kConnected;
  std::string peer;     // the peer's name, e.g. "client"
  int connection = -1;  // the connection within the peer, -1 for none
  Detector detector = Detector::kNone;  // kDetected only
  int error = 0;        // errno (kDetected by a socket); never an exit status
  // How an external program ended (kExited, and kDetected by its exit):
  // exactly one is set. An exit status is not an errno: socat's 1 is not
  // EPERM, ssh's 255 is no errno at all.
  std::optional<int> exit_status;  // 0-255, from exit(2)
  std::optional<int> signal;       // the signal that killed it: 9 = SIGKILL
  int tcp_state = 0;    // TCP_INFO tcpi_state when detected (TCP_ESTABLISHED = 1, ...)
  std::string text;     // output line, data description, or detail

  std::string str() const;  // "12.345678 client#0 detected keepalive ETIMEDOUT"
};

class EventLog {
 public:
  void add(Event event);
  std::vector<Event> events() const;
  // The first event, from `from` on, that satisfies `match`, waiting up to
  // `deadline` for it to arrive.
  std::optional<Event> waitFor(const std::function<bool(const Event&)>& match,
                               std::chrono::milliseconds deadline, std::size_t from = 0) const;
  std::size_t size() const;

 private:
  mutable std::mutex mutex_;
  mutable std::condition_variable added_;
  std::vector<Event> events_;
};

}  // namespace deadpeer

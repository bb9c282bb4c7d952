// peer/heartbeat: the application PING/PONG heartbeat, for many connections
// in one thread.
//
// HeartbeatEngine owns one epoll descriptor, one eventfd that wakes it, one
// thread, and every TCP socket handed to add(). It runs the heartbeat on each
// socket, answers the peer's pings, and reports to an EventLog when a peer
// is declared dead: by the heartbeat, or by the socket (FIN, RST, or an
// error the kernel reports on it such as EHOSTUNREACH or ETIMEDOUT). A dead
// connection is closed and forgotten at once. In suspect-only mode the
// heartbeat only suspects, and reports when the suspicion ends (below).
//
// Wire format (one byte stream per connection, both directions):
//   'P'                      PING
//   'O'                      PONG
//   'D' len_hi len_lo bytes  DATA: `len` (big-endian u16) bytes of payload,
//                            so other traffic can share the connection.
// Any other type byte is a protocol error: the connection is declared dead
// with EPROTO (detector kExternal), since its peer cannot be understood.
//
// The deadline rule, the same as TCP keepalive's with milliseconds:
//   let `alive` be the last sign of life (add() counts as one; then any byte
//   received, or only a PONG when pong_only). PING k (k = 1..count) is sent
//   at alive + idle + (k-1) x interval, unless a sign of life came first,
//   which restarts the sequence. The peer is declared dead at
//     alive + idle + count x interval,
//   that is one interval after the count-th unanswered PING. Times are
//   computed from `alive`, not from when a timer happened to run, so a late
//   wake-up never accumulates.
//
// Suspect-only mode (HeartbeatSettings::suspect_only), for the quality
// metrics of a detector on a live peer (REFERENCE.md section 7: mistake
// recurrence T_MR, mistake duration T_M, P_A): a verdict would close the
// connection and end the experiment at its first mistake, so instead, at
// the deadline above, the engine records one kSuspected (detector
// kHeartbeat, error ETIMEDOUT), keeps the connection and keeps sending a
// PING every `interval`. The next sign of life records kRestored (its text
// says how long the suspicion lasted) and the rule starts over from that
// sign of life. A suspicion is recorded once, however long it lasts. Socket
// errors, FIN and RST still declare the peer dead (kDetected) and close, as
// in the normal mode: those are not guesses. kSuspected and kRestored are
// recorded whatever record_pings says, like kDetected.
//
// Timers: a binary min-heap (TimerHeap) with one entry per connection whose
// time is never later than the connection's true due time. A sign of life
// only moves that due time later, so it costs nothing but a store; when the
// entry comes due, the engine recomputes the true due time and either acts
// or pushes it back. A tick therefore touches only due entries: O(log n) per
// due timer and nothing per idle connection. Delayed PONGs (slow-responder
// mode) live in a second heap, one entry per pending PONG. Entries of a
// closed connection are not searched for: its slot's generation changes,
// and they are dropped when they surface.
//
// Sends never block: a frame that does not fit in the socket buffer waits
// in a per-connection queue, flushed on EPOLLOUT. A peer that stops reading
// is caught by the missing PONGs, not by the queue.
//
// Threading: the engine's thread does all socket I/O and timer work. add(),
// remove(), sendData(), stats(), size() and threadCpuTime() may be called
// from any thread; they take the engine's mutex, which the loop holds only
// while it handles a batch of events, never while it waits. The loop adds
// events to the EventLog under that mutex, so an EventLog::waitFor
// predicate must not call into the engine. stop() and the destructor join
// the thread; the destructor closes every socket still owned. Events are
// stamped with the wake-up's CLOCK_MONOTONIC time, read once per batch,
// except a heartbeat verdict, stamped when it is made: a wake-up late past
// the deadline sends every PING still owed, in order, in the same batch,
// and then declares the peer dead, after those PINGs left. Load therefore
// never changes the number of PINGs the rule prescribes, only their
// spacing.
#pragma once

#include <pthread.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "deadpeer/fd.hpp"
#include "deadpeer/peer/event.hpp"

namespace deadpeer {

struct HeartbeatSettings {
  // Silence before the first PING.
  std::chrono::milliseconds idle{10'000};
  // Between unanswered PINGs, and from the last one to the verdict.
  std::chrono::milliseconds interval{3'000};
  // Unanswered PINGs that declare the peer dead.
  int count = 3;
  // Only a PONG is a sign of life; otherwise any byte received is.
  bool pong_only = false;
  // Slow-responder mode: each PONG is sent this long after its PING arrived.
  std::chrono::milliseconds pong_delay{0};
  // This side sends PINGs and may declare the peer dead. A side that only
  // answers never declares a heartbeat death (socket errors still count).
  bool send_pings = true;
  // This side answers the peer's PINGs.
  bool answer_pings = true;
  // At the deadline, suspect instead of declaring dead: kSuspected, the
  // connection kept, PINGs go on every `interval`; kRestored at the next
  // sign of life (see the header comment). Needs send_pings.
  bool suspect_only = false;

  // Throws Error (EINVAL) naming the first bad field.
  void validate() const;
};

struct HeartbeatEngineOptions {
  // Record kPingSent/kPingReceived/kPongSent/kPongReceived/kData events.
  // Off at scale: 100,000 connections at 1 Hz would add 200,000 events a
  // second. kDetected, kSuspected and kRestored are always recorded.
  bool record_pings = true;
};

// A min-heap of (time, connection, generation). The generation lets a
// removed connection's entries die lazily when they surface, instead of
// being searched for.
class TimerHeap {
 public:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    Clock::time_point due;
    std::uint32_t slot;
    std::uint32_t generation;
  };

  void push(Entry entry);
  bool empty() const noexcept { return heap_.empty(); }
  std::size_t size() const noexcept { return heap_.size(); }
  // Precondition: !empty().
  const Entry& top() const noexcept { return heap_.front(); }
  Entry pop();
  void reserve(std::size_t n) { heap_.reserve(n); }

 private:
  std::vector<Entry> heap_;
};

class HeartbeatEngine {
 public:
  using Clock = std::chrono::steady_clock;  // CLOCK_MONOTONIC
  using ConnectionId = int;

  struct Stats {
    std::uint64_t pings_sent = 0;
    std::uint64_t pings_received = 0;
    std::uint64_t pongs_sent = 0;
    std::uint64_t pongs_received = 0;
    std::uint64_t detected = 0;
    std::uint64_t suspected = 0;  // suspect-only: suspicions begun
    std::uint64_t restored = 0;   // suspect-only: suspicions ended by a sign of life
    std::uint64_t wakeups = 0;  // epoll_wait returns
  };

  // Starts the engine's thread. Throws Error when epoll, the eventfd or the
  // thread cannot be made. `log` must outlive the engine.
  explicit HeartbeatEngine(EventLog& log, HeartbeatEngineOptions options = {});
  ~HeartbeatEngine();
  HeartbeatEngine(const HeartbeatEngine&) = delete;
  HeartbeatEngine& operator=(const HeartbeatEngine&) = delete;

  // Takes ownership of the connected TCP socket `fd` (made non-blocking
  // here) and starts its heartbeat now: now is its first sign of life.
  // `name` is the peer name in its events; the returned id is the events'
  // `connection`. If it throws (bad settings, epoll refused the fd), the
  // caller still owns `fd`, which may have been made non-blocking.
  ConnectionId add(int fd, std::string name, const HeartbeatSettings& settings);
  // Closes a connection without declaring it dead (kClosed); false if it is
  // already gone.
  bool remove(ConnectionId id);
  // Sends one DATA frame (at most 65535 bytes); false if the connection is
  // gone. Throws Error (EMSGSIZE) when `payload` is too long.
  bool sendData(ConnectionId id, std::string_view payload);

  // Stops the thread (idempotent); connections stay open until destruction
  // but are no longer served.
  void stop() noexcept;

  std::size_t size() const;  // connections open
  Stats stats() const;
  // CPU time the engine's thread has used (CLOCK_THREAD_CPUTIME_ID), which
  // includes the kernel's loopback delivery done on its behalf.
  std::chrono::nanoseconds threadCpuTime() const;
  // Reserves room for `n` connections, so that the tables grow once.
  void reserve(std::size_t n);

 private:
  struct Connection;

  void loop() noexcept;
  void runOnce(Clock::time_point now);
  void handleIo(std::uint32_t slot, std::uint32_t events, Clock::time_point now);
  void readFrames(Connection& c, std::uint32_t slot, Clock::time_point now);
  void fireHeartbeat(std::uint32_t slot, Clock::time_point now);
  void firePong(std::uint32_t slot, Clock::time_point now);
  // Suspect-only mode: the deadline passed / a sign of life came back.
  void suspect(Connection& c, std::uint32_t slot, Clock::time_point now);
  void restore(Connection& c, std::uint32_t slot, Clock::time_point now);
  // Queues `bytes` and sends what fits; false when the socket failed (the
  // connection is then closed and reported).
  bool write(Connection& c, std::uint32_t slot, std::string_view bytes, Clock::time_point now);
  void flush(Connection& c, std::uint32_t slot, Clock::time_point now);
  void declareDead(std::uint32_t slot, Detector detector, int error, std::string text,
                   Clock::time_point now);
  void close(std::uint32_t slot) noexcept;
  void record(const Connection& c, std::uint32_t slot, EventKind kind, Clock::time_point at);
  // An event of connection `slot` of `kind`, stamped `at`; the rest is the caller's.
  static Event eventOf(const Connection& c, std::uint32_t slot, EventKind kind,
                       Clock::time_point at);
  Connection* live(std::uint32_t slot, std::uint32_t generation);

  EventLog& log_;
  HeartbeatEngineOptions options_;
  UniqueFd epoll_;
  UniqueFd wake_;
  mutable std::mutex mutex_;
  std::vector<Connection> connections_;  // indexed by slot = ConnectionId
  std::vector<std::uint32_t> free_slots_;
  std::size_t open_ = 0;
  TimerHeap heartbeats_;  // one entry per pinging connection
  TimerHeap pongs_;       // one entry per delayed PONG
  Stats stats_;
  bool stopping_ = false;
  bool thread_stopped_ = false;
  std::chrono::nanoseconds final_cpu_{0};  // the thread's CPU time once it ended
  pthread_t thread_handle_{};
  std::thread thread_;
};

}  // namespace deadpeer

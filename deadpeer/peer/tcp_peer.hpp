// peer/tcp_peer: built-in TCP peers whose only detectors are the kernel's:
// keepalive, TCP_USER_TIMEOUT, the retransmission limit, FIN/RST and ICMP.
//
// A TcpPeer owns its sockets (a listener and the connections it accepts, or
// the client's `connections` connections), one epoll loop and the one thread
// that runs it. Sockets are opened in the host's namespace (or the namespace
// given, such as Netns::current() in a `deadpeer serve` process) on the
// constructing thread and stay bound to it, so the loop thread never changes
// namespace. A client starts every connect at once, non-blocking, and the
// loop completes them all; each connection is numbered in events
// (Event::connection) 0..connections-1 in the order its connect was started.
// Each connection is one descriptor: thousands need RLIMIT_NOFILE raised by
// the caller, or socket() fails with EMFILE. The loop
// waits only on epoll: socket readiness, an eventfd that carries commands
// (send a pending write, stop) and a timerfd for request/response traffic.
// It never sleeps and never polls a socket on a timer.
//
// Detection: a connection is declared dead on the first EPOLLERR, EPOLLHUP,
// EPOLLRDHUP or failed read/write; the peer emits one kDetected event with
// the errno, the detector and TCP_INFO's tcpi_state, then closes it. The
// detector follows from the errno and TCP_INFO (see classifyDetection()):
//   ETIMEDOUT with TCP_USER_TIMEOUT set          -> kUserTimeout (the kernel
//       checks only the UTO once it is set: keepalive CNT and tcp_retries2
//       are ignored, whether data was in flight or not);
//   ETIMEDOUT, data unacknowledged (our bytes written > tcpi_bytes_acked, or
//       tcpi_retransmits > 0)                     -> kRetransmission;
//   ETIMEDOUT, nothing unacknowledged, keepalive probes sent (tcpi_probes>0)
//                                                 -> kKeepalive;
//   EHOSTUNREACH, ENETUNREACH, EHOSTDOWN, ENETDOWN, EACCES -> kIcmp;
//   ECONNRESET, EPIPE, ECONNREFUSED               -> kRst;
//   read() returned 0 (or EPOLLRDHUP/EPOLLHUP without an error) -> kFin.
// Why not tcpi_unacked: an aborting kernel purges the write queue
// (tcp_done_with_error) and zeroes the unacked count with it, so the peer
// counts its own written bytes against tcpi_bytes_acked instead.
// With IP_RECVERR an ICMP error is reported while the kernel still holds the
// connection ESTABLISHED (tcp_state says so); the peer declares it dead all
// the same, since that early report is what the option is for.
//
// Threading: the constructor, stop() and the destructor belong to the owning
// thread; sendPending() and the accessors are safe from any thread. Events go
// to the EventLog, which must outlive the peer. stop() returns once the loop
// thread has joined; the loop blocks only in epoll_wait, which the stop
// command wakes, so stop() is bounded.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "deadpeer/fd.hpp"
#include "deadpeer/net/address.hpp"
#include "deadpeer/peer/event.hpp"
#include "deadpeer/topology/host.hpp"

namespace deadpeer {

// Per-socket kernel detector options. Unset options leave the kernel's
// (per-namespace) defaults in force.
struct KernelDetectorSettings {
  bool keepalive = false;                                 // SO_KEEPALIVE
  std::optional<std::chrono::seconds> keepidle;           // TCP_KEEPIDLE, 1..32767 s
  std::optional<std::chrono::seconds> keepintvl;          // TCP_KEEPINTVL, 1..32767 s
  std::optional<int> keepcnt;                             // TCP_KEEPCNT, 1..127
  std::optional<std::chrono::milliseconds> user_timeout;  // TCP_USER_TIMEOUT, >= 0 (0 = off)
  bool recverr = false;  // IP_RECVERR / IPV6_RECVERR: ICMP errors reported at once

  // Throws Error (EINVAL) naming the first bad field and the kernel's range.
  void validate() const;
};

// Per-namespace TCP defaults of a host (net.ipv4.* sysctls, which cover IPv6
// too). Unset fields are left as they are.
struct HostTcpSettings {
  std::optional<std::chrono::seconds> keepalive_time;   // 1..32767 s
  std::optional<std::chrono::seconds> keepalive_intvl;  // 1..32767 s
  std::optional<int> keepalive_probes;                  // 1..127
  std::optional<int> retries2;                          // 0..255
  void validate() const;
};

// Validates, then writes the sysctls in the host's own namespace.
void applyHostTcpSettings(const Host& host, const HostTcpSettings& settings);

struct TrafficMode {
  enum class Kind {
    kIdle,             // nothing after the handshake
    kRequestResponse,  // the client sends a request every `interval`; the server echoes
    kDataInFlight,     // idle until sendPending() writes `bytes` at once
    kStopReading,      // the server never reads; the client writes until the window fills
  };
  Kind kind = Kind::kIdle;
  std::chrono::milliseconds interval{100};
  std::size_t bytes = 1000;

  static TrafficMode idle() { return {}; }
  static TrafficMode requestResponse(std::chrono::milliseconds interval) {
    return {Kind::kRequestResponse, interval, 64};
  }
  static TrafficMode dataInFlight(std::size_t bytes) { return {Kind::kDataInFlight, {}, bytes}; }
  static TrafficMode stopReading() { return {Kind::kStopReading, {}, 64 * 1024}; }
  void validate() const;
};

struct TcpPeerConfig {
  enum class Role { kServer, kClient };
  std::string name;  // names the peer in events, e.g. "client"
  Role role = Role::kClient;
  IpAddress address;  // server: where it listens; client: where it connects
  std::uint16_t port = 0;
  KernelDetectorSettings detector;
  TrafficMode traffic;
  int max_connections = 1;  // server: accepts up to this many (>= 1)
  int connections = 1;      // client: opens this many, 1..10000

  void validate() const;
};

// The TCP_INFO fields the classification reads, taken at detection.
struct TcpSnapshot {
  int state = 0;
  int retransmits = 0;
  int probes = 0;
  int backoff = 0;
  std::uint64_t bytes_acked = 0;
};
// Which detector an errno means, per the rule in the header comment.
// `read_eof`: read() returned 0; `bytes_written`: what the peer wrote.
Detector classifyDetection(int error, bool read_eof, const KernelDetectorSettings& settings,
                           std::uint64_t bytes_written, const TcpSnapshot& info);

class TcpPeer {
 public:
  // Validates everything, opens the sockets in `host`'s namespace (a server
  // listens and emits kListening before returning; a client starts its
  // non-blocking connects), then starts the loop thread.
  TcpPeer(const Host& host, TcpPeerConfig config, EventLog& log);
  // The same in any namespace, e.g. Netns::current() for a peer that runs in
  // whatever namespace its process was started in. `netns` need only live
  // through the constructor: sockets stay bound to it on their own.
  TcpPeer(const Netns& netns, TcpPeerConfig config, EventLog& log);
  ~TcpPeer();
  TcpPeer(const TcpPeer&) = delete;
  TcpPeer& operator=(const TcpPeer&) = delete;

  // Data in flight: asks the loop to write `traffic.bytes` on every live,
  // established connection (others are skipped). The kData "sent ..." event
  // carries the instant just before the write.
  void sendPending();
  // Closes every connection (kClosed for each still live) and joins the loop.
  void stop() noexcept;

  const TcpPeerConfig& config() const noexcept { return config_; }
  // What the loop thread failed with, "" when nothing.
  std::string loopError() const;

 private:
  struct Connection;
  enum class Command { kSendPending, kStop };

  void run() noexcept;
  void loop();
  void post(Command command);
  void emit(EventKind kind, int connection, std::string text = {},
            Detector detector = Detector::kNone, int error = 0, int tcp_state = 0,
            Event::Clock::time_point at = Event::Clock::now());
  void applyOptions(int fd) const;
  void accepted();
  void onConnection(Connection& connection, std::uint32_t events);
  void writeSome(Connection& connection);
  void readSome(Connection& connection);
  void detect(Connection& connection, int error, bool read_eof);
  void watch(Connection& connection);
  void sendRequest();
  void closeAll();

  TcpPeerConfig config_;
  EventLog& log_;
  std::string where_;
  UniqueFd epoll_;
  UniqueFd wake_;   // eventfd: commands are queued below
  UniqueFd timer_;  // timerfd: request/response period
  UniqueFd listener_;
  std::vector<std::unique_ptr<Connection>> connections_;
  mutable std::mutex mutex_;
  std::vector<Command> commands_;
  std::string loop_error_;
  std::atomic<bool> stopped_{false};
  std::thread thread_;
};

}  // namespace deadpeer

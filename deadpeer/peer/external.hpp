// peer/external: any command as a system under test, run inside a host.
//
// An ExternalPeer owns one child process, launched with Boost.Process inside
// a host's network namespace (setns in the child before exec) and inside a
// PID namespace of its own (ns/pidns.hpp), the peer's *tree*: whatever the
// program forks or daemonises is born there and dies with it, when the peer
// is destroyed, when its host is taken down (the Host owns the tree), and
// when the harness dies however it dies. It also owns the child's stdin, stdout and stderr pipes, a
// pidfd, the readiness pipe (InheritedFd), two sock_diag sockets opened in
// the host's namespace (SocketLeavesEstablished, Port), and one reader
// thread. Everything the program does becomes an Event in the caller's
// EventLog, stamped on CLOCK_MONOTONIC:
//   kOutput    each line of stdout or stderr, stamped when read (lines of
//              the two streams interleave in the order they were read);
//   kReady     once, when the readiness condition is met;
//   kDetected  once, Detector::kExternal, when the detection condition is
//              met: the program exited (error = its status), a line matched
//              (text = the line), or its socket left ESTABLISHED (tcp_state
//              = the state it moved to, 7 = CLOSE when the socket is gone);
//   kExited    when the process ended (exit_status, or signal, set).
// A kill by the destructor, or by the host's take-down (its text then says
// so), is recorded as kExited, never as kDetected.
//
// Readiness and socket state. "A port accepts" is read as a LISTEN socket on
// that port in sock_diag, not by connecting: a test connection would use up
// the accept of a one-shot server such as `socat TCP-LISTEN` without fork.
// The kernel offers no notification of TCP state changes; sock_diag only
// broadcasts the *destruction* of a socket (SKNLGRP_INET{,6}_TCP_DESTROY).
// So the reader re-reads the socket table when something happens: a line of
// output, the exit of the program, or a destroy broadcast in the host (joined
// when the kernel and CAP_NET_ADMIN over the host allow; otherwise the
// cadence alone); and, while a socket condition is still open (readiness:
// until ready_deadline), every `socket_poll_interval` (default 10 ms, 1 % of
// the one-second unit of keepalive settings). The cadence is there because a
// socket that a keepalive timeout moved to CLOSE is destroyed only when the
// program closes it, and a program that ignores the error would otherwise
// never be seen; it bounds how late a silent change is seen. A connection
// counts only once a re-read has seen it ESTABLISHED, so one that opens and
// fails between two re-reads goes unnoticed; but the table is re-read before
// the output that woke the reader is published, so a connection the program
// had when it printed a line (a readiness line, say) is always tracked.
//
// Bad input (a command not found or not executable, a regex that does not
// compile, an fd that clashes with stdio, a port of 0) is refused by
// ExternalPeerSpec::validate(), called by the constructor before anything is
// started, with an Error naming the field.
//
// Output is untrusted: a line is at most kMaxLineBytes (the rest up to its
// newline is counted and dropped), the EventLog keeps at most
// kMaxLoggedOutputBytes of a peer's lines (later ones are still matched,
// then counted and dropped), and patterns run on RE2 (peer/line_pattern),
// in time linear in the line.
//
// The reader thread ends once it has reaped the process; the destructor
// SIGKILLs it through its pidfd and waits at most 5 s for that, then kills
// the rest of its tree (bounded the same way). Each turn of the reader reads
// at most 64 KiB per stream and matches each line once in linear time, so
// it sees the destructor's stop within one such turn: the destructor returns
// within 5 s plus one turn (milliseconds), plus the tree's kill.
//
// Threading: construct, write input and destroy on one thread at a time
// (any thread: the program's life is tied to its PID namespace, not to the
// thread that forked). The reader thread only adds to the EventLog, which is safe from any
// thread and must outlive the peer. waitReady() may be called from any
// thread. The constructor forks: other threads must not hold locks the child
// would need, which Boost.Process's fork+exec path does not take.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <variant>
#include <vector>

#include "deadpeer/fd.hpp"
#include "deadpeer/net/address.hpp"
#include "deadpeer/ns/netns.hpp"
#include "deadpeer/ns/pidns.hpp"
#include "deadpeer/peer/event.hpp"

namespace deadpeer {

class Host;

struct ExternalPeerSpec {
  // A listening socket on this port (and address, if given).
  struct Port {
    std::optional<IpAddress> address;
    std::uint16_t port = 0;
  };
  // A line of stdout or stderr in which the pattern matches somewhere
  // (RE2 syntax; see peer/line_pattern.hpp).
  struct LineRegex {
    std::string pattern;
  };
  // The program writes anything to this descriptor of its own (>= 3).
  struct InheritedFd {
    int child_fd = 3;
  };
  // The process exits, whatever its status.
  struct Exit {};
  // A TCP socket in the host that matches every set field was ESTABLISHED
  // and no longer is (another state, or gone).
  struct SocketLeavesEstablished {
    std::optional<std::uint16_t> local_port;
    std::optional<std::uint16_t> remote_port;
    std::optional<IpAddress> remote_address;
  };
  using Readiness = std::variant<Port, LineRegex, InheritedFd>;
  using Detection = std::variant<Exit, LineRegex, SocketLeavesEstablished>;

  std::string name;               // the peer's name in events: "client"
  std::vector<std::string> argv;  // argv[0] is searched in PATH like a shell
  // The host it runs in, as scenario files name it; the constructor is given
  // that host's namespace.
  std::string host;
  Readiness readiness = LineRegex{};
  Detection detection = Exit{};
  std::chrono::milliseconds ready_deadline{5000};
  // How often an open socket condition re-reads the socket table; see above.
  std::chrono::milliseconds socket_poll_interval{10};

  // Throws Error (EINVAL, or ENOENT/EACCES for argv[0]) naming the field.
  void validate() const;
};

// Where a shell would find `program`: itself when it holds a '/', else the
// first executable regular file in $PATH. nullopt when there is none.
std::optional<std::string> findInPath(std::string_view program);

class ExternalPeer {
 public:
  static constexpr std::size_t kMaxLineBytes = 64 * 1024;
  static constexpr std::size_t kMaxLoggedOutputBytes = 16 * 1024 * 1024;

  // Validates `spec`, then launches it inside `netns` and starts watching.
  // Returns at once; use waitReady() for readiness.
  ExternalPeer(ExternalPeerSpec spec, const Netns& netns, EventLog& log);
  // The same inside `host`, which owns the program's tree from then on:
  // taking the host down kills it.
  ExternalPeer(ExternalPeerSpec spec, Host& host, EventLog& log);
  // SIGKILL, reap (bounded: 5 s), kill the tree, stop the reader. Never
  // throws.
  ~ExternalPeer();
  ExternalPeer(const ExternalPeer&) = delete;
  ExternalPeer& operator=(const ExternalPeer&) = delete;

  const ExternalPeerSpec& spec() const noexcept { return spec_; }
  // The program deadpeer started, and the PID namespace it and every
  // process it forks live in.
  pid_t pid() const noexcept { return pid_; }
  const PidNamespace& tree() const noexcept { return *tree_; }
  // Whether sock_diag's destroy broadcasts wake the socket watch (needs a
  // kernel with them and CAP_NET_ADMIN over the host's namespace).
  bool hearsSocketDestruction() const noexcept;

  // Returns the kReady event, waiting up to `deadline` (spec.ready_deadline
  // by default). Throws Error ETIMEDOUT, or ECHILD if the program exited
  // first, saying what it printed last.
  Event waitReady() const { return waitReady(spec_.ready_deadline); }
  Event waitReady(std::chrono::milliseconds deadline) const;

  // Bytes of output dropped so far: the tails of lines longer than
  // kMaxLineBytes, and lines past kMaxLoggedOutputBytes (with their newline).
  std::uint64_t droppedOutputBytes() const noexcept { return dropped_output_; }

  // Writes `text` to the program's stdin; closeInput() sends it EOF.
  void writeInput(std::string_view text);
  void closeInput() noexcept { stdin_.reset(); }

 private:
  struct Watch;  // the reader thread's state

  void run() noexcept;
  std::string lastLines(std::size_t count) const;

  ExternalPeer(ExternalPeerSpec spec, const Netns& netns, EventLog& log, Host* host);

  ExternalPeerSpec spec_;
  std::string where_;
  std::shared_ptr<PidNamespace> tree_;  // "host h1" in messages
  EventLog& log_;
  pid_t pid_ = -1;
  UniqueFd pidfd_;
  UniqueFd stdin_;
  UniqueFd stop_;  // eventfd: the destructor wakes the reader
  std::unique_ptr<Watch> watch_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> dropped_output_{0};
  std::thread reader_;
};

}  // namespace deadpeer

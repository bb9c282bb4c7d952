// peer/program_sockets: the TCP connections a running program holds, and the
// kernel detector each one really carries, read from the program's own
// socket.
//
// A program under test sets its own keepalive and user timeout (redis-cli
// turns keepalive on with 15 s / 5 s / 3, libpq from its connection string,
// curl from --keepalive-time, gRPC sets TCP_USER_TIMEOUT to its keepalive
// timeout); what the file says about it may be wrong, so the oracle asks the
// kernel. readProgramSockets() finds them in three steps:
//   1. the process and every descendant (/proc/<pid>/stat, field 4, the
//      parent), so the per-connection children of sshd or PostgreSQL count;
//   2. each one's socket descriptors (/proc/<pid>/fd/N -> "socket:[inode]"),
//      matched by inode against sock_diag's dump of the ESTABLISHED TCP
//      sockets in the host's namespace (which gives the addresses);
//   3. each match duplicated into this process with pidfd_getfd(2) (Linux
//      5.6; needs PTRACE_MODE_ATTACH_REALCREDS over the program) and read
//      with getsockopt: SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL,
//      TCP_KEEPCNT, TCP_USER_TIMEOUT, IP_RECVERR / IPV6_RECVERR and
//      TCP_INFO. The duplicate is closed at once; the program's socket is
//      untouched.
// getsockopt answers TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT with the
// namespace sysctl when the socket set nothing (tcp.h keepalive_time_when
// and friends), so each value is compared with the host's sysctls, read
// from the same namespace, to say where it comes from; tcp_retries2 has no
// socket option and is always the host's.
//
// A socket that cannot be duplicated (no permission, closed in between) is
// still listed, with `unreadable` saying why; the caller decides what to
// fall back on.
//
// Threading: readProgramSockets() enters the host's namespace on the calling
// thread for the sock_diag socket only (NetnsGuard), and returns plain data.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "deadpeer/net/address.hpp"
#include "deadpeer/ns/netns.hpp"
#include "deadpeer/oracle/oracle.hpp"

namespace deadpeer {

// The per-namespace sysctls a TCP socket inherits where it sets nothing.
struct InheritedTcpSysctls {
  std::chrono::seconds keepalive_time{7200};   // net.ipv4.tcp_keepalive_time
  std::chrono::seconds keepalive_intvl{75};    // net.ipv4.tcp_keepalive_intvl
  int keepalive_probes = 9;                    // net.ipv4.tcp_keepalive_probes
  int retries2 = 15;                           // net.ipv4.tcp_retries2
};

struct ProgramSocket {
  using Clock = std::chrono::steady_clock;

  pid_t pid = -1;       // the process holding it (the program or a descendant)
  int fd = -1;          // its descriptor number in that process
  std::string program;  // /proc/<pid>/comm: "redis-server"
  std::uint64_t inode = 0;
  int family = 0;  // AF_INET, AF_INET6
  IpAddress local, remote;
  std::uint16_t local_port = 0, remote_port = 0;

  // Whether the options below were read from the socket; if not, why not
  // ("pidfd_getfd: Operation not permitted").
  bool read = false;
  std::string unreadable;
  Clock::time_point read_at{};

  bool keepalive = false;                  // SO_KEEPALIVE
  std::chrono::seconds keepidle{0};        // TCP_KEEPIDLE, effective
  std::chrono::seconds keepintvl{0};       // TCP_KEEPINTVL, effective
  int keepcnt = 0;                         // TCP_KEEPCNT, effective
  std::chrono::milliseconds user_timeout{0};  // TCP_USER_TIMEOUT, 0 = off
  bool recverr = false;                    // IP_RECVERR or IPV6_RECVERR
  // TCP_INFO when read: segments sent and not yet acknowledged, and how
  // long ago the socket last sent data.
  std::uint32_t unacked = 0;
  std::chrono::milliseconds since_data_sent{0};
  InheritedTcpSysctls host;  // the host's sysctls, read with the socket

  // "198.18.1.2:6379 to 198.18.1.1:37610"
  std::string endpoints() const;
  // "redis-server, socket 198.18.1.2:6379 to 198.18.1.1:37610: SO_KEEPALIVE
  // on; TCP_KEEPIDLE 3 s, socket option; TCP_KEEPINTVL 1 s, socket option;
  // TCP_KEEPCNT 3, socket option; TCP_USER_TIMEOUT off; IP_RECVERR off;
  // tcp_retries2 15, host sysctl", or why it could not be read.
  std::string describe() const;
  // The oracle's view of it; only meaningful when `read`.
  KernelDetector detector() const;
};

// Every ESTABLISHED TCP connection held by process `root` or a descendant
// of it, in the network namespace `netns` (the program's host), with its
// options read as above. `where` labels errors ("host h1"). Throws Error when
// the namespace's socket table cannot be dumped or /proc cannot be read; a
// socket that cannot be duplicated is returned unread, never thrown.
std::vector<ProgramSocket> readProgramSockets(pid_t root, const Netns& netns,
                                              const std::string& where);

// The processes of the tree rooted at `root` (root first), from /proc.
std::vector<pid_t> processTree(pid_t root);

}  // namespace deadpeer

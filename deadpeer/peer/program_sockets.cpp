#include "deadpeer/peer/program_sockets.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string_view>

#include "deadpeer/error.hpp"
#include "deadpeer/fd.hpp"
#include "deadpeer/ns/sysctl.hpp"

namespace deadpeer {

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Bounds on what /proc and the kernel may hand us.
constexpr std::size_t kMaxProcesses = 100'000;
constexpr std::size_t kMaxTree = 4096;
constexpr std::size_t kMaxFds = 65'536;
constexpr std::size_t kNetlinkBuffer = 32 * 1024;

struct MnlDeleter {
  void operator()(mnl_socket* s) const noexcept { mnl_socket_close(s); }
};
using MnlSocket = std::unique_ptr<mnl_socket, MnlDeleter>;

struct DiagSocket {
  int family = 0;
  IpAddress local, remote;
  std::uint16_t local_port = 0, remote_port = 0;
};

// An IPv4 peer of a dual-stack IPv6 socket (python's grpc, for one) shows
// as ::ffff:a.b.c.d; the wire, and so the capture, carries plain IPv4.
IpAddress fromDiag(int family, const __be32* words) {
  IpAddress a;
  a.family = family;
  std::memcpy(a.bytes.data(), words, family == AF_INET ? 4 : 16);
  static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (family == AF_INET6 && std::memcmp(a.bytes.data(), kMapped, sizeof kMapped) == 0) {
    IpAddress v4;
    v4.family = AF_INET;
    std::memcpy(v4.bytes.data(), a.bytes.data() + 12, 4);
    return v4;
  }
  return a;
}

int collect(const nlmsghdr* nlh, void* data) {
  if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY) return MNL_CB_OK;
  if (mnl_nlmsg_get_payload_len(nlh) < sizeof(inet_diag_msg)) return MNL_CB_OK;
  const auto* msg = static_cast<const inet_diag_msg*>(mnl_nlmsg_get_payload(nlh));
  DiagSocket s;
  s.family = msg->idiag_family;
  s.local = fromDiag(s.family, msg->id.idiag_src);
  s.remote = fromDiag(s.family, msg->id.idiag_dst);
  s.local_port = ntohs(msg->id.idiag_sport);
  s.remote_port = ntohs(msg->id.idiag_dport);
  (*static_cast<std::map<std::uint64_t, DiagSocket>*>(data))[msg->idiag_inode] = s;
  return MNL_CB_OK;
}

// The ESTABLISHED TCP sockets of the namespace, by inode.
std::map<std::uint64_t, DiagSocket> establishedSockets(const Netns& netns,
                                                       const std::string& where) {
  MnlSocket nl;
  {
    NetnsGuard inside(netns);
    nl.reset(mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC));
  }
  if (!nl) throw Error::fromErrno("open NETLINK_SOCK_DIAG", "TCP sockets", where, errno);
  if (mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0)
    throw Error::fromErrno("bind NETLINK_SOCK_DIAG", "TCP sockets", where, errno);
  // sock_diag answers a dump synchronously; this bounds a lost answer.
  const timeval limit{2, 0};
  ::setsockopt(mnl_socket_get_fd(nl.get()), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  const unsigned portid = mnl_socket_get_portid(nl.get());
  std::map<std::uint64_t, DiagSocket> out;
  unsigned seq = 0;
  for (int family : {AF_INET, AF_INET6}) {
    char buf[kNetlinkBuffer];
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nlh->nlmsg_seq = ++seq;
    auto* req =
        static_cast<inet_diag_req_v2*>(mnl_nlmsg_put_extra_header(nlh, sizeof(inet_diag_req_v2)));
    req->sdiag_family = static_cast<std::uint8_t>(family);
    req->sdiag_protocol = IPPROTO_TCP;
    req->idiag_states = 1u << TCP_ESTABLISHED;
    if (mnl_socket_sendto(nl.get(), nlh, nlh->nlmsg_len) < 0)
      throw Error::fromErrno("SOCK_DIAG_BY_FAMILY dump", "TCP sockets", where, errno);
    int ret = MNL_CB_OK;
    for (int parts = 0; parts < 100'000 && ret > MNL_CB_STOP; ++parts) {
      const ssize_t n = mnl_socket_recvfrom(nl.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw Error::fromErrno("SOCK_DIAG_BY_FAMILY dump", "TCP sockets", where, errno);
      ret = mnl_cb_run(buf, static_cast<std::size_t>(n), seq, portid, collect, &out);
    }
    if (ret < 0) throw Error::fromErrno("SOCK_DIAG_BY_FAMILY dump", "TCP sockets", where, errno);
  }
  return out;
}

// The parent of `pid` from /proc/<pid>/stat; -1 when it is gone. The comm
// field may hold spaces and parentheses, so the parse starts after the last ')'.
pid_t parentOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat) || stat.size() > 4096) return -1;
  const auto close = stat.rfind(')');
  if (close == std::string::npos || close + 4 >= stat.size()) return -1;
  // ") S 1234 ..."
  const auto start = stat.find(' ', close + 2);
  if (start == std::string::npos) return -1;
  return static_cast<pid_t>(std::strtol(stat.c_str() + start + 1, nullptr, 10));
}

std::string commOf(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string comm;
  std::getline(in, comm);
  return comm.substr(0, 64);
}

template <class T>
bool getOption(int fd, int level, int name, T& value) {
  socklen_t len = sizeof value;
  return ::getsockopt(fd, level, name, &value, &len) == 0;
}

void readOptions(ProgramSocket& s) {
  const UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, s.pid, 0)));
  if (!pidfd) {
    s.unreadable = std::string("pidfd_open: ") + std::strerror(errno);
    return;
  }
  const UniqueFd dup(static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd.get(), s.fd, 0)));
  if (!dup) {
    s.unreadable = std::string("pidfd_getfd: ") + std::strerror(errno);
    return;
  }
  s.read_at = ProgramSocket::Clock::now();
  int on = 0, idle = 0, intvl = 0, cnt = 0, recverr = 0;
  unsigned uto = 0;
  tcp_info info{};
  const bool v6 = s.family == AF_INET6;
  if (!getOption(dup.get(), SOL_SOCKET, SO_KEEPALIVE, on) ||
      !getOption(dup.get(), IPPROTO_TCP, TCP_KEEPIDLE, idle) ||
      !getOption(dup.get(), IPPROTO_TCP, TCP_KEEPINTVL, intvl) ||
      !getOption(dup.get(), IPPROTO_TCP, TCP_KEEPCNT, cnt) ||
      !getOption(dup.get(), IPPROTO_TCP, TCP_USER_TIMEOUT, uto) ||
      !getOption(dup.get(), v6 ? SOL_IPV6 : SOL_IP, v6 ? IPV6_RECVERR : IP_RECVERR, recverr) ||
      !getOption(dup.get(), IPPROTO_TCP, TCP_INFO, info)) {
    s.unreadable = std::string("getsockopt: ") + std::strerror(errno);
    return;
  }
  s.keepalive = on != 0;
  s.keepidle = seconds(idle);
  s.keepintvl = seconds(intvl);
  s.keepcnt = cnt;
  s.user_timeout = milliseconds(uto);
  s.recverr = recverr != 0;
  s.unacked = info.tcpi_unacked;
  s.since_data_sent = milliseconds(info.tcpi_last_data_sent);
  s.read = true;
}

InheritedTcpSysctls readInherited(const Netns& netns) {
  InheritedTcpSysctls h;
  const auto number = [&](std::string_view key) {
    return std::stoi(readSysctl(netns, key));
  };
  h.keepalive_time = seconds(number("net.ipv4.tcp_keepalive_time"));
  h.keepalive_intvl = seconds(number("net.ipv4.tcp_keepalive_intvl"));
  h.keepalive_probes = number("net.ipv4.tcp_keepalive_probes");
  h.retries2 = number("net.ipv4.tcp_retries2");
  return h;
}

std::string endpoint(const IpAddress& a, std::uint16_t port) {
  return (a.family == AF_INET6 ? "[" + a.str() + "]" : a.str()) + ":" + std::to_string(port);
}

}  // namespace

std::vector<pid_t> processTree(pid_t root) {
  std::multimap<pid_t, pid_t> children;
  DIR* dir = ::opendir("/proc");
  if (!dir) throw Error::fromErrno("opendir", "/proc", "", errno);
  std::size_t seen = 0;
  for (dirent* e = ::readdir(dir); e && seen < kMaxProcesses; e = ::readdir(dir), ++seen) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    const pid_t parent = parentOf(static_cast<pid_t>(pid));
    if (parent > 0) children.emplace(parent, static_cast<pid_t>(pid));
  }
  ::closedir(dir);
  std::vector<pid_t> tree{root};
  for (std::size_t i = 0; i < tree.size() && tree.size() < kMaxTree; ++i) {
    const auto [first, last] = children.equal_range(tree[i]);
    for (auto it = first; it != last; ++it) tree.push_back(it->second);
  }
  return tree;
}

std::vector<ProgramSocket> readProgramSockets(pid_t root, const Netns& netns,
                                              const std::string& where) {
  const auto established = establishedSockets(netns, where);
  const InheritedTcpSysctls host = readInherited(netns);
  std::vector<ProgramSocket> out;
  std::set<std::uint64_t> taken;  // a socket shared by parent and child counts once
  for (pid_t pid : processTree(root)) {
    const std::string fds = "/proc/" + std::to_string(pid) + "/fd";
    DIR* dir = ::opendir(fds.c_str());
    if (!dir) continue;  // gone since the scan
    std::size_t count = 0;
    for (dirent* e = ::readdir(dir); e && count < kMaxFds; e = ::readdir(dir), ++count) {
      char* end = nullptr;
      const long fd = std::strtol(e->d_name, &end, 10);
      if (fd < 0 || *end != '\0' || e->d_name[0] == '\0') continue;
      char target[64] = {};
      const ssize_t n = ::readlinkat(::dirfd(dir), e->d_name, target, sizeof target - 1);
      if (n <= 0) continue;
      const std::string_view link(target, static_cast<std::size_t>(n));
      if (link.rfind("socket:[", 0) != 0 || link.back() != ']') continue;
      const std::uint64_t inode = std::strtoull(target + 8, nullptr, 10);
      const auto it = established.find(inode);
      if (it == established.end() || !taken.insert(inode).second) continue;
      ProgramSocket s;
      s.pid = pid;
      s.fd = static_cast<int>(fd);
      s.program = commOf(pid);
      s.inode = inode;
      s.family = it->second.family;
      s.local = it->second.local;
      s.remote = it->second.remote;
      s.local_port = it->second.local_port;
      s.remote_port = it->second.remote_port;
      s.host = host;
      readOptions(s);
      out.push_back(std::move(s));
    }
    ::closedir(dir);
  }
  return out;
}

std::string ProgramSocket::endpoints() const {
  return endpoint(local, local_port) + " to " + endpoint(remote, remote_port);
}

std::string ProgramSocket::describe() const {
  std::string out = program + " (pid " + std::to_string(pid) + "), socket " + endpoints() + ": ";
  if (!read) return out + "not read (" + unreadable + ")";
  const auto origin = [](bool inherited, const char* sysctl) {
    return inherited ? std::string(", host sysctl ") + sysctl : std::string(", socket option");
  };
  out += std::string("SO_KEEPALIVE ") + (keepalive ? "on" : "off");
  out += "; TCP_KEEPIDLE " + std::to_string(keepidle.count()) + " s" +
         origin(keepidle == host.keepalive_time, "net.ipv4.tcp_keepalive_time");
  out += "; TCP_KEEPINTVL " + std::to_string(keepintvl.count()) + " s" +
         origin(keepintvl == host.keepalive_intvl, "net.ipv4.tcp_keepalive_intvl");
  out += "; TCP_KEEPCNT " + std::to_string(keepcnt) +
         origin(keepcnt == host.keepalive_probes, "net.ipv4.tcp_keepalive_probes");
  out += "; TCP_USER_TIMEOUT " +
         (user_timeout.count() ? std::to_string(user_timeout.count()) + " ms, socket option"
                               : std::string("off"));
  out += std::string("; ") + (family == AF_INET6 ? "IPV6_RECVERR " : "IP_RECVERR ") +
         (recverr ? "on" : "off");
  out += "; tcp_retries2 " + std::to_string(host.retries2) + ", host sysctl";
  if (unacked) out += "; " + std::to_string(unacked) + " segments unacknowledged";
  return out;
}

KernelDetector ProgramSocket::detector() const {
  KernelDetector k;
  k.keepalive = keepalive;
  k.idle = keepidle;
  k.interval = keepintvl;
  k.count = keepcnt;
  k.user_timeout = user_timeout;
  k.retries2 = host.retries2;
  k.recverr = recverr;
  k.source = "the program's socket (pidfd_getfd)";
  return k;
}

}  // namespace deadpeer

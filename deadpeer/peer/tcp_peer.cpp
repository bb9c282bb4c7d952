#include "deadpeer/peer/tcp_peer.hpp"

#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "deadpeer/error.hpp"
#include "deadpeer/ns/netns.hpp"
#include "deadpeer/ns/sysctl.hpp"

namespace deadpeer {
namespace {

using namespace std::chrono_literals;

// The kernel's own limits (include/net/tcp.h: MAX_TCP_KEEPIDLE,
// MAX_TCP_KEEPINTVL, MAX_TCP_KEEPCNT).
constexpr long kMaxKeepSeconds = 32767;
constexpr int kMaxKeepCount = 127;

// epoll tags: connections are tagged kFirstConnection + index.
constexpr std::uint64_t kWakeTag = 0;
constexpr std::uint64_t kTimerTag = 1;
constexpr std::uint64_t kListenerTag = 2;
constexpr std::uint64_t kFirstConnection = 16;

// The most connections one client opens: well past what a scenario needs,
// and low enough that a typo (100000) fails before exhausting descriptors.
constexpr int kMaxClientConnections = 10'000;
// epoll events taken per wait: enough that many connections finishing at
// once (a crash seen by all) are handled in few passes.
constexpr int kMaxEvents = 64;

// Bounds on the work one readiness event may do, so that one busy socket
// cannot starve the loop (and every loop ends).
constexpr int kMaxReadsPerEvent = 64;
constexpr int kMaxWritesPerEvent = 4096;
constexpr std::size_t kChunk = 64 * 1024;

Error badSetting(const std::string& object, const std::string& reason) {
  return Error("validate", object, "", EINVAL, reason);
}

void checkSeconds(const std::string& object, const char* field,
                  const std::optional<std::chrono::seconds>& value) {
  if (value && (value->count() < 1 || value->count() > kMaxKeepSeconds))
    throw badSetting(object, std::string(field) + " " + std::to_string(value->count()) +
                                 " s is out of range: the kernel accepts 1..32767 s");
}

void checkCount(const std::string& object, const char* field, const std::optional<int>& value,
                int low, int high) {
  if (value && (*value < low || *value > high))
    throw badSetting(object, std::string(field) + " " + std::to_string(*value) +
                                 " is out of range: the kernel accepts " + std::to_string(low) +
                                 ".." + std::to_string(high));
}

void setInt(int fd, int level, int option, int value, const char* name, const std::string& object,
            const std::string& where) {
  if (::setsockopt(fd, level, option, &value, sizeof value) != 0)
    throw Error::fromErrno(std::string("setsockopt ") + name, object, where, errno);
}

// glibc's struct tcp_info stops at tcpi_total_retrans; the kernel's goes on
// (include/uapi/linux/tcp.h), and tcpi_bytes_acked is needed to know whether
// data was outstanding after the abort purged the write queue.
struct TcpInfoWithBytesAcked {
  tcp_info base;
  std::uint64_t pacing_rate;
  std::uint64_t max_pacing_rate;
  std::uint64_t bytes_acked;
};
static_assert(offsetof(TcpInfoWithBytesAcked, pacing_rate) == 104, "kernel tcp_info layout");

TcpSnapshot snapshot(int fd) {
  TcpInfoWithBytesAcked full{};
  socklen_t length = sizeof full;
  TcpSnapshot out;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &full, &length) != 0) return out;
  const tcp_info& info = full.base;
  out.state = info.tcpi_state;
  out.retransmits = info.tcpi_retransmits;
  out.probes = info.tcpi_probes;
  out.backoff = info.tcpi_backoff;
  if (length >= sizeof full) out.bytes_acked = full.bytes_acked;
  return out;
}

int socketError(int fd) {
  int error = 0;
  socklen_t length = sizeof error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return errno;
  return error;
}

// With IP_RECVERR an error may sit on the error queue rather than in
// SO_ERROR; reading it also stops EPOLLERR from firing again.
int errorQueueErrno(int fd) {
  int found = 0;
  for (int i = 0; i < kMaxReadsPerEvent; ++i) {
    char control[512];
    char data[64];
    iovec iov{data, sizeof data};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    if (::recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) break;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
          (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR)) {
        sock_extended_err ee{};
        std::memcpy(&ee, CMSG_DATA(c), sizeof ee);
        if (found == 0) found = static_cast<int>(ee.ee_errno);
      }
    }
  }
  return found;
}

std::string errnoName(int error) {
  const char* name = strerrorname_np(error);
  return name != nullptr ? name : std::to_string(error);
}

}  // namespace

void KernelDetectorSettings::validate() const {
  const std::string object = "kernel detector settings";
  checkSeconds(object, "keepidle", keepidle);
  checkSeconds(object, "keepintvl", keepintvl);
  checkCount(object, "keepcnt", keepcnt, 1, kMaxKeepCount);
  if (user_timeout && user_timeout->count() < 0)
    throw badSetting(object, "user_timeout " + std::to_string(user_timeout->count()) +
                                 " ms is negative: the kernel accepts >= 0 ms (0 = off)");
  if (user_timeout && user_timeout->count() > INT32_MAX)
    throw badSetting(object, "user_timeout " + std::to_string(user_timeout->count()) +
                                 " ms does not fit TCP_USER_TIMEOUT (an int of ms)");
}

void HostTcpSettings::validate() const {
  const std::string object = "host TCP settings";
  checkSeconds(object, "keepalive_time", keepalive_time);
  checkSeconds(object, "keepalive_intvl", keepalive_intvl);
  checkCount(object, "keepalive_probes", keepalive_probes, 1, kMaxKeepCount);
  checkCount(object, "retries2", retries2, 0, 255);
}

void applyHostTcpSettings(const Host& host, const HostTcpSettings& settings) {
  settings.validate();
  // net.ipv4.tcp_keepalive_* and tcp_retries2 govern IPv6 TCP as well.
  if (settings.keepalive_time)
    writeSysctl(host.netns(), "net.ipv4.tcp_keepalive_time",
                std::to_string(settings.keepalive_time->count()));
  if (settings.keepalive_intvl)
    writeSysctl(host.netns(), "net.ipv4.tcp_keepalive_intvl",
                std::to_string(settings.keepalive_intvl->count()));
  if (settings.keepalive_probes)
    writeSysctl(host.netns(), "net.ipv4.tcp_keepalive_probes",
                std::to_string(*settings.keepalive_probes));
  if (settings.retries2)
    writeSysctl(host.netns(), "net.ipv4.tcp_retries2", std::to_string(*settings.retries2));
}

void TrafficMode::validate() const {
  if (kind == Kind::kRequestResponse && interval.count() <= 0)
    throw badSetting("traffic mode", "interval " + std::to_string(interval.count()) +
                                         " ms must be > 0 ms for request/response");
  if ((kind == Kind::kDataInFlight || kind == Kind::kRequestResponse) && bytes == 0)
    throw badSetting("traffic mode", "bytes must be > 0");
}

void TcpPeerConfig::validate() const {
  detector.validate();
  traffic.validate();
  if (port == 0) throw badSetting("peer " + quoted("tcp", name), "port must be 1..65535");
  if (role == Role::kServer && max_connections < 1)
    throw badSetting("peer " + quoted("tcp", name),
                     "max_connections " + std::to_string(max_connections) + " must be >= 1");
  if (connections < 1 || connections > kMaxClientConnections)
    throw badSetting("peer " + quoted("tcp", name),
                     "connections " + std::to_string(connections) + " must be 1.." +
                         std::to_string(kMaxClientConnections));
}

Detector classifyDetection(int error, bool read_eof, const KernelDetectorSettings& settings,
                           std::uint64_t bytes_written, const TcpSnapshot& info) {
  if (read_eof && error == 0) return Detector::kFin;
  switch (error) {
    case ETIMEDOUT: {
      if (settings.user_timeout && settings.user_timeout->count() > 0)
        return Detector::kUserTimeout;
      const bool unacked = bytes_written > info.bytes_acked || info.retransmits > 0;
      if (unacked) return Detector::kRetransmission;
      if (info.probes > 0) return Detector::kKeepalive;
      return Detector::kRetransmission;
    }
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EHOSTDOWN:
    case ENETDOWN:
    case EACCES:
      // Reported while the kernel still holds the connection: IP_RECVERR
      // passed the ICMP error on at once. Otherwise the error was stored as
      // a soft error and reported when a timeout closed the connection.
      if (info.state == TCP_ESTABLISHED || info.state == 0) return Detector::kIcmp;
      if (settings.user_timeout && settings.user_timeout->count() > 0)
        return Detector::kUserTimeout;
      return Detector::kRetransmission;
    case ECONNRESET:
    case EPIPE:
    case ECONNREFUSED:
      return Detector::kRst;
    case 0:
      return Detector::kFin;
    default:
      return Detector::kNone;
  }
}

struct TcpPeer::Connection {
  int index = 0;
  UniqueFd fd;
  bool connected = false;
  std::string pending;  // bytes still to write
  std::uint64_t written = 0;
};

TcpPeer::TcpPeer(const Host& host, TcpPeerConfig config, EventLog& log)
    : TcpPeer(host.netns(), std::move(config), log) {}

TcpPeer::TcpPeer(const Netns& netns, TcpPeerConfig config, EventLog& log)
    : config_(std::move(config)), log_(log), where_(netns.label()) {
  config_.validate();
  const std::string object = "peer " + quoted("tcp", config_.name);
  epoll_ = UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_) throw Error::fromErrno("epoll_create1", object, where_, errno);
  wake_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_) throw Error::fromErrno("eventfd", object, where_, errno);
  auto add = [&](int fd, std::uint32_t events, std::uint64_t tag) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = tag;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
      throw Error::fromErrno("epoll_ctl add", object, where_, errno);
  };
  add(wake_.get(), EPOLLIN, kWakeTag);

  sockaddr_storage address{};
  const socklen_t length = toSockaddr(config_.address, config_.port, address);
  const std::string endpoint = config_.address.str() + " port " + std::to_string(config_.port);
  // All sockets in one visit to the namespace: a client's thousands would
  // otherwise cost two setns each.
  const int sockets = config_.role == TcpPeerConfig::Role::kServer ? 1 : config_.connections;
  std::vector<UniqueFd> fds;
  fds.reserve(static_cast<std::size_t>(sockets));
  int socket_errno = 0;
  runIn(netns, [&] {
    for (int i = 0; i < sockets; ++i) {
      UniqueFd fd(::socket(config_.address.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                           IPPROTO_TCP));
      if (!fd) {
        socket_errno = errno;
        return;
      }
      fds.push_back(std::move(fd));
    }
  });
  if (socket_errno != 0)
    throw Error::fromErrno("socket " + std::to_string(fds.size() + 1) + " of " +
                               std::to_string(sockets),
                           object, where_, socket_errno);

  if (config_.role == TcpPeerConfig::Role::kServer) {
    UniqueFd& fd = fds.front();
    setInt(fd.get(), SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR", object, where_);
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), length) != 0)
      throw Error::fromErrno("bind " + endpoint, object, where_, errno);
    if (::listen(fd.get(), config_.max_connections) != 0)
      throw Error::fromErrno("listen " + endpoint, object, where_, errno);
    listener_ = std::move(fd);
    add(listener_.get(), EPOLLIN, kListenerTag);
    emit(EventKind::kListening, -1, endpoint);
  } else {
    connections_.reserve(fds.size());
    for (UniqueFd& fd : fds) {
      applyOptions(fd.get());
      if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), length) != 0 &&
          errno != EINPROGRESS)
        throw Error::fromErrno("connect " + endpoint, object, where_, errno);
      auto connection = std::make_unique<Connection>();
      connection->index = static_cast<int>(connections_.size());
      connection->fd = std::move(fd);
      add(connection->fd.get(), EPOLLOUT | EPOLLRDHUP,
          kFirstConnection + static_cast<std::uint64_t>(connection->index));
      connections_.push_back(std::move(connection));
    }
    if (config_.traffic.kind == TrafficMode::Kind::kRequestResponse) {
      timer_ = UniqueFd(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
      if (!timer_) throw Error::fromErrno("timerfd_create", object, where_, errno);
      const auto interval =
          std::chrono::duration_cast<std::chrono::nanoseconds>(config_.traffic.interval);
      itimerspec spec{};
      spec.it_interval.tv_sec = static_cast<time_t>(interval.count() / 1'000'000'000);
      spec.it_interval.tv_nsec = static_cast<long>(interval.count() % 1'000'000'000);
      spec.it_value = spec.it_interval;
      if (::timerfd_settime(timer_.get(), 0, &spec, nullptr) != 0)
        throw Error::fromErrno("timerfd_settime", object, where_, errno);
      add(timer_.get(), EPOLLIN, kTimerTag);
    }
  }
  thread_ = std::thread([this] { run(); });
}

TcpPeer::~TcpPeer() { stop(); }

void TcpPeer::post(Command command) {
  {
    std::lock_guard lock(mutex_);
    commands_.push_back(command);
  }
  const std::uint64_t one = 1;
  if (::write(wake_.get(), &one, sizeof one) != sizeof one)
    throw Error::fromErrno("eventfd write", "peer " + quoted("tcp", config_.name), where_, errno);
}

void TcpPeer::sendPending() { post(Command::kSendPending); }

void TcpPeer::stop() noexcept {
  if (!thread_.joinable()) return;
  try {
    post(Command::kStop);
  } catch (...) {
    // The eventfd cannot refuse one increment; should it, the flag ends the
    // loop at its next wakeup instead.
    stopped_ = true;
  }
  thread_.join();
}

std::string TcpPeer::loopError() const {
  std::lock_guard lock(mutex_);
  return loop_error_;
}

void TcpPeer::emit(EventKind kind, int connection, std::string text, Detector detector, int error,
                   int tcp_state, Event::Clock::time_point at) {
  Event event;
  event.at = at;
  event.kind = kind;
  event.peer = config_.name;
  event.connection = connection;
  event.detector = detector;
  event.error = error;
  event.tcp_state = tcp_state;
  event.text = std::move(text);
  log_.add(std::move(event));
}

void TcpPeer::applyOptions(int fd) const {
  const KernelDetectorSettings& s = config_.detector;
  const std::string object = "peer " + quoted("tcp", config_.name);
  if (s.keepalive) setInt(fd, SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE", object, where_);
  if (s.keepidle)
    setInt(fd, IPPROTO_TCP, TCP_KEEPIDLE, static_cast<int>(s.keepidle->count()), "TCP_KEEPIDLE",
           object, where_);
  if (s.keepintvl)
    setInt(fd, IPPROTO_TCP, TCP_KEEPINTVL, static_cast<int>(s.keepintvl->count()), "TCP_KEEPINTVL",
           object, where_);
  if (s.keepcnt) setInt(fd, IPPROTO_TCP, TCP_KEEPCNT, *s.keepcnt, "TCP_KEEPCNT", object, where_);
  if (s.user_timeout)
    setInt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, static_cast<int>(s.user_timeout->count()),
           "TCP_USER_TIMEOUT", object, where_);
  if (s.recverr) {
    if (config_.address.family == AF_INET)
      setInt(fd, IPPROTO_IP, IP_RECVERR, 1, "IP_RECVERR", object, where_);
    else
      setInt(fd, IPPROTO_IPV6, IPV6_RECVERR, 1, "IPV6_RECVERR", object, where_);
  }
}

void TcpPeer::run() noexcept {
  try {
    loop();
  } catch (const std::exception& e) {
    std::lock_guard lock(mutex_);
    loop_error_ = e.what();
  }
}

void TcpPeer::loop() {
  epoll_event events[kMaxEvents];
  // Ends on the stop command; every wakeup is an event or a command, so
  // there is no timeout to poll with.
  while (true) {
    if (stopped_.load()) return closeAll();
    const int n = ::epoll_wait(epoll_.get(), events, kMaxEvents, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error::fromErrno("epoll_wait", "peer " + quoted("tcp", config_.name), where_, errno);
    }
    for (int i = 0; i < n; ++i) {
      const std::uint64_t tag = events[i].data.u64;
      if (tag == kWakeTag) {
        std::uint64_t count = 0;
        (void)::read(wake_.get(), &count, sizeof count);
        std::vector<Command> commands;
        {
          std::lock_guard lock(mutex_);
          commands.swap(commands_);
        }
        for (Command command : commands) {
          if (command == Command::kStop) return closeAll();
          for (auto& c : connections_) {
            if (!c || !c->fd || !c->connected) continue;
            c->pending.append(config_.traffic.bytes, 'd');
            writeSome(*c);
          }
        }
      } else if (tag == kTimerTag) {
        std::uint64_t expirations = 0;
        (void)::read(timer_.get(), &expirations, sizeof expirations);
        sendRequest();
      } else if (tag == kListenerTag) {
        accepted();
      } else {
        const std::size_t index = tag - kFirstConnection;
        if (index < connections_.size() && connections_[index] && connections_[index]->fd)
          onConnection(*connections_[index], events[i].events);
      }
    }
  }
}

void TcpPeer::closeAll() {
  for (auto& c : connections_)
    if (c && c->fd && c->connected) emit(EventKind::kClosed, c->index);
  connections_.clear();
}

void TcpPeer::sendRequest() {
  for (auto& c : connections_) {
    if (!c || !c->fd || !c->connected) continue;
    c->pending.append(config_.traffic.bytes, 'q');
    writeSome(*c);
  }
}

void TcpPeer::accepted() {
  for (int i = 0; i < kMaxReadsPerEvent; ++i) {
    if (static_cast<int>(connections_.size()) >= config_.max_connections) {
      // Enough: stop accepting, but keep the listener open so that further
      // SYNs queue instead of being refused.
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, listener_.get(), nullptr);
      return;
    }
    sockaddr_storage from{};
    socklen_t length = sizeof from;
    UniqueFd fd(::accept4(listener_.get(), reinterpret_cast<sockaddr*>(&from), &length,
                          SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) {
      if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) return;
      throw Error::fromErrno("accept", "peer " + quoted("tcp", config_.name), where_, errno);
    }
    applyOptions(fd.get());
    auto connection = std::make_unique<Connection>();
    connection->index = static_cast<int>(connections_.size());
    connection->fd = std::move(fd);
    connection->connected = true;
    Connection& c = *connection;
    connections_.push_back(std::move(connection));
    epoll_event ev{};
    ev.events = EPOLLRDHUP;
    ev.data.u64 = kFirstConnection + static_cast<std::uint64_t>(c.index);
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, c.fd.get(), &ev) != 0)
      throw Error::fromErrno("epoll_ctl add", "peer " + quoted("tcp", config_.name), where_, errno);
    emit(EventKind::kConnected, c.index, "accepted");
    watch(c);
  }
}

// Interest follows the traffic mode: a server that stops reading never asks
// for EPOLLIN (its window must fill); a writer asks for EPOLLOUT only while
// it has bytes to write, or, filling the window, until the window is full.
void TcpPeer::watch(Connection& c) {
  const bool server = config_.role == TcpPeerConfig::Role::kServer;
  const bool stop_reading = config_.traffic.kind == TrafficMode::Kind::kStopReading;
  std::uint32_t events = EPOLLRDHUP;
  if (!(server && stop_reading)) events |= EPOLLIN;
  if (!c.pending.empty() || (!server && stop_reading)) events |= EPOLLOUT;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = kFirstConnection + static_cast<std::uint64_t>(c.index);
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd.get(), &ev) != 0)
    throw Error::fromErrno("epoll_ctl mod", "peer " + quoted("tcp", config_.name), where_, errno);
}

void TcpPeer::onConnection(Connection& c, std::uint32_t events) {
  if (!c.connected) {
    // The non-blocking connect finished, one way or the other.
    const int error = socketError(c.fd.get());
    if (error != 0) return detect(c, error, false);
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return;
    c.connected = true;
    emit(EventKind::kConnected, c.index, "connected to " + config_.address.str());
    watch(c);
    if (config_.traffic.kind == TrafficMode::Kind::kStopReading) writeSome(c);
    return;
  }
  if (events & EPOLLERR) {
    int error = socketError(c.fd.get());
    if (error == 0) error = errorQueueErrno(c.fd.get());
    if (error != 0) return detect(c, error, false);
  }
  const bool server = config_.role == TcpPeerConfig::Role::kServer;
  const bool reading = !(server && config_.traffic.kind == TrafficMode::Kind::kStopReading);
  if (reading && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))) {
    readSome(c);
    if (!c.fd) return;
  }
  if (events & EPOLLOUT) {
    writeSome(c);
    if (!c.fd) return;
  }
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    // Not reading, or the read found data before the end: the peer is gone
    // all the same.
    const int error = socketError(c.fd.get());
    return detect(c, error, error == 0);
  }
}

void TcpPeer::readSome(Connection& c) {
  const bool echo = config_.role == TcpPeerConfig::Role::kServer &&
                    config_.traffic.kind == TrafficMode::Kind::kRequestResponse;
  char buffer[16 * 1024];
  std::size_t total = 0;
  for (int i = 0; i < kMaxReadsPerEvent; ++i) {
    const ssize_t n = ::recv(c.fd.get(), buffer, sizeof buffer, 0);
    if (n > 0) {
      total += static_cast<std::size_t>(n);
      if (echo) c.pending.append(buffer, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) {
      if (total > 0)
        emit(EventKind::kData, c.index, "received " + std::to_string(total) + " bytes");
      return detect(c, 0, true);
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    return detect(c, errno, false);
  }
  if (total > 0) emit(EventKind::kData, c.index, "received " + std::to_string(total) + " bytes");
  if (echo && !c.pending.empty()) writeSome(c);
}

void TcpPeer::writeSome(Connection& c) {
  const bool fill = config_.role == TcpPeerConfig::Role::kClient &&
                    config_.traffic.kind == TrafficMode::Kind::kStopReading;
  const auto at = Event::Clock::now();
  std::size_t total = 0;
  bool full = false;
  for (int i = 0; i < kMaxWritesPerEvent; ++i) {
    if (c.pending.empty()) {
      if (!fill) break;
      c.pending.assign(kChunk, 'f');
    }
    const ssize_t n = ::send(c.fd.get(), c.pending.data(), c.pending.size(), MSG_NOSIGNAL);
    if (n > 0) {
      c.pending.erase(0, static_cast<std::size_t>(n));
      c.written += static_cast<std::uint64_t>(n);
      total += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      full = true;
      break;
    }
    return detect(c, n < 0 ? errno : EPIPE, false);
  }
  if (total > 0)
    emit(EventKind::kData, c.index,
         "sent " + std::to_string(total) + " bytes" + (full ? ", send buffer full" : ""),
         Detector::kNone, 0, 0, at);
  if (fill) c.pending.clear();  // filler is not owed to anyone
  watch(c);
}

void TcpPeer::detect(Connection& c, int error, bool read_eof) {
  const TcpSnapshot info = snapshot(c.fd.get());
  const Detector detector = classifyDetection(error, read_eof, config_.detector, c.written, info);
  std::string text =
      "errno=" + (error != 0 ? errnoName(error) : std::string("0")) +
      " state=" + std::to_string(info.state) + " probes=" + std::to_string(info.probes) +
      " retransmits=" + std::to_string(info.retransmits) +
      " backoff=" + std::to_string(info.backoff) + " written=" + std::to_string(c.written) +
      " acked=" + std::to_string(info.bytes_acked);
  emit(EventKind::kDetected, c.index, std::move(text), detector, error, info.state);
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, c.fd.get(), nullptr);
  c.fd.reset();
  c.pending.clear();
}

}  // namespace deadpeer

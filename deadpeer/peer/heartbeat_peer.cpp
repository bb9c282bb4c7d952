#include "deadpeer/peer/heartbeat_peer.hpp"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "deadpeer/error.hpp"
#include "deadpeer/ns/netns.hpp"

namespace deadpeer {
namespace {

using Clock = std::chrono::steady_clock;

Error badConfig(const HeartbeatPeerConfig& c, std::string_view field, std::string why) {
  return Error("validate", "heartbeat peer \"" + c.name + "\" field " + std::string(field), "",
               EINVAL, std::move(why));
}

Event eventOf(const HeartbeatPeerConfig& c, EventKind kind, int connection, std::string text) {
  Event e;
  e.at = Clock::now();
  e.kind = kind;
  e.peer = c.name;
  e.connection = connection;
  e.text = std::move(text);
  return e;
}

}  // namespace

void HeartbeatPeerConfig::validate() const {
  if (name.empty()) throw badConfig(*this, "name", "is required");
  if (port == 0) throw badConfig(*this, "port", "must be 1..65535");
  if (server && max_connections < 1)
    throw badConfig(*this, "max_connections",
                    "must be at least 1, got " + std::to_string(max_connections));
  if (server && accept_deadline.count() <= 0)
    throw badConfig(*this, "accept_deadline", "must be positive");
  if (!server && connect_deadline.count() <= 0)
    throw badConfig(*this, "connect_deadline", "must be positive");
  settings.validate();
}

HeartbeatPeer::HeartbeatPeer(const Host& host, HeartbeatPeerConfig config, EventLog& log)
    : HeartbeatPeer(host.netns(), std::move(config), log) {}

HeartbeatPeer::HeartbeatPeer(const Netns& netns, HeartbeatPeerConfig config, EventLog& log)
    : config_((config.validate(), std::move(config))),
      where_(netns.label()),
      log_(log),
      engine_(log, config_.engine) {
  const std::string object = config_.address.str() + " port " + std::to_string(config_.port);
  sockaddr_storage ss;
  const socklen_t len = toSockaddr(config_.address, config_.port, ss);
  UniqueFd fd = runIn(netns, [&] {
    return UniqueFd(
        ::socket(config_.address.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  });
  if (!fd) throw Error::fromErrno("socket", object, where_, errno);

  if (config_.server) {
    const int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
      throw Error::fromErrno("bind", object, where_, errno);
    if (::listen(fd.get(), config_.max_connections) != 0)
      throw Error::fromErrno("listen", object, where_, errno);
    stop_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!stop_) throw Error::fromErrno("eventfd", "heartbeat server", where_, errno);
    listener_ = std::move(fd);
    log_.add(eventOf(config_, EventKind::kListening, -1, object));
    acceptor_ = std::thread([this] { acceptLoop(); });
    return;
  }

  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS)
    throw Error::fromErrno("connect", object, where_, errno);
  pollfd pfd{fd.get(), POLLOUT, 0};
  const int n = ::poll(&pfd, 1, static_cast<int>(config_.connect_deadline.count()));
  int err = 0;
  socklen_t err_len = sizeof err;
  if (n == 1) ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &err_len);
  if (n != 1 || err != 0)
    throw Error(
        "connect", object, where_, n == 1 ? err : ETIMEDOUT,
        n == 1 ? std::strerror(err)
               : "no handshake within " + std::to_string(config_.connect_deadline.count()) + " ms");
  const int id = engine_.add(fd.get(), config_.name, config_.settings);
  fd.release();  // the engine owns it now
  log_.add(eventOf(config_, EventKind::kConnected, id, "to " + object));
}

HeartbeatPeer::~HeartbeatPeer() {
  if (acceptor_.joinable()) {
    const std::uint64_t one = 1;
    (void)::write(stop_.get(), &one, sizeof one);
    acceptor_.join();
  }
  engine_.stop();
}

std::string HeartbeatPeer::acceptError() const {
  std::lock_guard lock(error_mutex_);
  return accept_error_;
}

void HeartbeatPeer::acceptLoop() noexcept {
  auto fail = [this](std::string why) {
    std::lock_guard lock(error_mutex_);
    accept_error_ = std::move(why);
  };
  UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
  if (!ep) return fail(std::string("epoll_create1: ") + std::strerror(errno));
  for (int fd : {listener_.get(), stop_.get()}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
      return fail(std::string("epoll_ctl: ") + std::strerror(errno));
  }
  int accepted = 0;
  const auto end = Clock::now() + config_.accept_deadline;
  // Each pass is woken by a connection, by stop, or by the deadline.
  for (int pass = 0; pass < 1'000'000 && accepted < config_.max_connections; ++pass) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(end - Clock::now());
    epoll_event ev{};
    const int n =
        left.count() > 0 ? ::epoll_wait(ep.get(), &ev, 1, static_cast<int>(left.count())) : 0;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(std::string("epoll_wait: ") + std::strerror(errno));
    if (n == 0)
      return fail(std::to_string(accepted) + " of " + std::to_string(config_.max_connections) +
                  " connections within " + std::to_string(config_.accept_deadline.count()) + " ms");
    if (ev.data.fd == stop_.get()) return;
    UniqueFd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!conn) {
      if (errno == EAGAIN || errno == ECONNABORTED) continue;
      return fail(std::string("accept: ") + std::strerror(errno));
    }
    try {
      const int id = engine_.add(conn.get(), config_.name, config_.settings);
      conn.release();
      log_.add(eventOf(config_, EventKind::kConnected, id, "accepted"));
      ++accepted;
    } catch (const std::exception& e) {
      return fail(e.what());
    }
  }
}

}  // namespace deadpeer

#include "topology/reach.hpp"

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "error.hpp"
#include "fd.hpp"

namespace deadpeer {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

std::chrono::microseconds tcpConnect(const Host& from, const Host& to, const IpAddress& address,
                                     std::uint16_t port, std::chrono::milliseconds deadline) {
  const std::string object = "TCP " + address.str() + " port " + std::to_string(port);
  sockaddr_storage ss;
  const socklen_t len = toSockaddr(address, port, ss);

  UniqueFd listener = runIn(to.netns(), [&] {
    return UniqueFd(::socket(address.family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  });
  if (!listener) throw Error::fromErrno("socket", object, to.netns().label(), errno);
  const int one = 1;
  ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
    throw Error::fromErrno("bind", object, to.netns().label(), errno);
  if (::listen(listener.get(), 4) != 0)
    throw Error::fromErrno("listen", object, to.netns().label(), errno);

  UniqueFd client = runIn(from.netns(), [&] {
    return UniqueFd(::socket(address.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  });
  if (!client) throw Error::fromErrno("socket", object, from.netns().label(), errno);

  const auto start = Clock::now();
  if (::connect(client.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS)
    throw Error::fromErrno("connect", object, from.netns().label(), errno);

  UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
  if (!ep) throw Error::fromErrno("epoll_create1", object, from.netns().label(), errno);
  epoll_event ev{};
  ev.events = EPOLLOUT;
  ev.data.fd = client.get();
  ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, client.get(), &ev);

  const auto end = start + deadline;
  for (int waits = 0; waits < 64; ++waits) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(end - Clock::now());
    if (left.count() <= 0) break;
    epoll_event out{};
    const int n = ::epoll_wait(ep.get(), &out, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    const auto took = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
    int err = 0;
    socklen_t errlen = sizeof err;
    ::getsockopt(client.get(), SOL_SOCKET, SO_ERROR, &err, &errlen);
    if (err != 0) throw Error::fromErrno("connect", object, from.netns().label(), err);
    return took;
  }
  throw Error("connect", object, from.netns().label(), ETIMEDOUT,
              "no handshake within " + std::to_string(deadline.count()) + " ms");
}

}  // namespace deadpeer

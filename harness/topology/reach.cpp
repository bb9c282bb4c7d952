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

socklen_t toSockaddr(const IpAddress& ip, std::uint16_t port, sockaddr_storage& ss) {
  std::memset(&ss, 0, sizeof ss);
  if (ip.family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, ip.bytes.data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  std::memcpy(&sin6->sin6_addr, ip.bytes.data(), 16);
  return sizeof(sockaddr_in6);
}

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

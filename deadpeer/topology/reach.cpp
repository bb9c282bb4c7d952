#include "deadpeer/topology/reach.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "deadpeer/error.hpp"
#include "deadpeer/fd.hpp"

namespace deadpeer {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

std::string objectOf(const IpAddress& address, std::uint16_t port) {
  return "TCP " + address.str() + " port " + std::to_string(port);
}

UniqueFd tcpListen(const Host& host, const IpAddress& address, std::uint16_t port) {
  const std::string object = objectOf(address, port);
  sockaddr_storage ss;
  const socklen_t len = toSockaddr(address, port, ss);
  UniqueFd listener = runIn(host.netns(), [&] {
    return UniqueFd(::socket(address.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  });
  if (!listener) throw Error::fromErrno("socket", object, host.netns().label(), errno);
  const int one = 1;
  ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
    throw Error::fromErrno("bind", object, host.netns().label(), errno);
  if (::listen(listener.get(), 8) != 0)
    throw Error::fromErrno("listen", object, host.netns().label(), errno);
  return listener;
}

UniqueFd tcpConnectFrom(const Host& from, const IpAddress& address, std::uint16_t port,
                        std::chrono::milliseconds deadline) {
  const std::string object = objectOf(address, port);
  const std::string& where = from.netns().label();
  sockaddr_storage ss;
  const socklen_t len = toSockaddr(address, port, ss);
  UniqueFd client = runIn(from.netns(), [&] {
    return UniqueFd(::socket(address.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  });
  if (!client) throw Error::fromErrno("socket", object, where, errno);
  const auto end = Clock::now() + deadline;
  if (::connect(client.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS)
    throw Error::fromErrno("connect", object, where, errno);
  for (int waits = 0; waits < 64; ++waits) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(end - Clock::now());
    if (left.count() <= 0) break;
    pollfd pfd{client.get(), POLLOUT, 0};
    const int n = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    int err = 0;
    socklen_t errlen = sizeof err;
    ::getsockopt(client.get(), SOL_SOCKET, SO_ERROR, &err, &errlen);
    if (err != 0) throw Error::fromErrno("connect", object, where, err);
    return client;
  }
  throw Error("connect", object, where, ETIMEDOUT,
              "no handshake within " + std::to_string(deadline.count()) + " ms");
}

std::chrono::microseconds tcpConnect(const Host& from, const Host& to, const IpAddress& address,
                                     std::uint16_t port, std::chrono::milliseconds deadline) {
  UniqueFd listener = tcpListen(to, address, port);
  const auto start = Clock::now();
  UniqueFd client = tcpConnectFrom(from, address, port, deadline);
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
}

}  // namespace deadpeer

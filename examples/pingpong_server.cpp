// pingpong_server PORT: answers every "PING\n" line with "PONG\n", on any
// number of connections, over IPv4 and IPv6 (one dual-stack socket).
// Prints "listening" once it accepts connections.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: pingpong_server PORT\n");
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const int listener = ::socket(AF_INET6, SOCK_STREAM, 0);
  const int off = 0, on = 1;
  ::setsockopt(listener, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_addr = in6addr_any;
  address.sin6_port = htons(static_cast<std::uint16_t>(port));
  if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listener, 16) != 0) {
    std::fprintf(stderr, "pingpong_server: port %d: %s\n", port, std::strerror(errno));
    return 1;
  }
  std::printf("listening\n");
  std::fflush(stdout);

  std::vector<pollfd> fds{{listener, POLLIN, 0}};
  std::vector<std::string> pending{""};  // partial lines, per descriptor
  for (;;) {
    if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) return 1;
    for (std::size_t i = fds.size(); i-- > 0;) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == listener) {
        if (const int c = ::accept(listener, nullptr, nullptr); c >= 0) {
          fds.push_back({c, POLLIN, 0});
          pending.emplace_back();
        }
        continue;
      }
      char buffer[512];
      const ssize_t got = ::read(fds[i].fd, buffer, sizeof buffer);
      if (got <= 0) {
        ::close(fds[i].fd);
        fds.erase(fds.begin() + static_cast<long>(i));
        pending.erase(pending.begin() + static_cast<long>(i));
        continue;
      }
      pending[i].append(buffer, static_cast<std::size_t>(got));
      for (std::size_t end; (end = pending[i].find('\n')) != std::string::npos;) {
        if (pending[i].compare(0, end, "PING") == 0) (void)!::write(fds[i].fd, "PONG\n", 5);
        pending[i].erase(0, end + 1);
      }
    }
  }
}

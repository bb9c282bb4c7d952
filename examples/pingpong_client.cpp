// pingpong_client ADDRESS PORT [--keepalive IDLE,INTERVAL,COUNT]
//                 [--heartbeat IDLE_MS,INTERVAL_MS,COUNT]
//
// Connects, prints "connected", and waits for its server to die. Two
// detectors, either or both:
//   --keepalive  the kernel's TCP keepalive (seconds, as socket options);
//   --heartbeat  its own: after IDLE_MS without a byte from the server it
//                sends "PING\n", then one every INTERVAL_MS; COUNT PINGs
//                unanswered by any byte and one INTERVAL_MS more, and the
//                server is dead.
// On death it prints "dead: ERRNO-NAME (how)" and exits with that errno as
// its status: ETIMEDOUT (110) for keepalive or its heartbeat, ECONNRESET...
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

[[noreturn]] void dead(int error, const char* how) {
  std::printf("dead: %s (%s)\n", strerrorname_np(error), how);
  std::fflush(stdout);
  std::exit(error);
}

bool three(const char* text, int& a, int& b, int& c) {
  return std::sscanf(text, "%d,%d,%d", &a, &b, &c) == 3 && a > 0 && b > 0 && c > 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: pingpong_client ADDRESS PORT [--keepalive I,N,C] [--heartbeat I,N,C]\n");
    return 2;
  }
  int ka[3] = {0, 0, 0}, hb[3] = {0, 0, 0};
  for (int i = 3; i < argc; i += 2) {
    const std::string option = argv[i];
    int* values = option == "--keepalive" ? ka : option == "--heartbeat" ? hb : nullptr;
    if (values == nullptr || i + 1 == argc || !three(argv[i + 1], values[0], values[1], values[2])) {
      std::fprintf(stderr, "pingpong_client: bad option %s %s\n", argv[i],
                   i + 1 < argc ? argv[i + 1] : "(no value)");
      return 2;
    }
  }

  sockaddr_storage address{};
  socklen_t length = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address);
  const auto port = htons(static_cast<std::uint16_t>(std::atoi(argv[2])));
  if (::inet_pton(AF_INET, argv[1], &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = port;
    length = sizeof *v4;
  } else if (::inet_pton(AF_INET6, argv[1], &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = port;
    length = sizeof *v6;
  } else {
    std::fprintf(stderr, "pingpong_client: bad address %s\n", argv[1]);
    return 2;
  }
  const int fd = ::socket(address.ss_family, SOCK_STREAM, 0);
  if (ka[0] > 0) {
    const int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &ka[0], sizeof ka[0]);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &ka[1], sizeof ka[1]);
    ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &ka[2], sizeof ka[2]);
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), length) != 0) {
    std::fprintf(stderr, "pingpong_client: connect: %s\n", std::strerror(errno));
    return 1;
  }
  std::printf("connected\n");
  std::fflush(stdout);

  // The heartbeat's times count from the last byte received, never from
  // when a timer happened to run, so a late wake-up does not accumulate.
  const bool heartbeat = hb[0] > 0;
  const milliseconds idle(hb[0]), interval(hb[1]);
  Clock::time_point alive = Clock::now();
  int pings = 0;  // sent since the last sign of life
  for (;;) {
    int timeout = -1;
    Clock::time_point due{};
    if (heartbeat) {
      due = alive + idle + pings * interval;
      const auto left = std::chrono::ceil<milliseconds>(due - Clock::now()).count();
      timeout = static_cast<int>(left < 0 ? 0 : left);
    }
    pollfd p{fd, POLLIN, 0};
    const int n = ::poll(&p, 1, timeout);
    if (n < 0 && errno != EINTR) dead(errno, "poll");
    if (n > 0) {
      char buffer[512];
      const ssize_t got = ::read(fd, buffer, sizeof buffer);
      if (got == 0) dead(ECONNRESET, "the server closed");
      if (got < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        dead(errno, ka[0] > 0 ? "the kernel, keepalive on" : "the kernel");
      }
      alive = Clock::now();
      pings = 0;
      continue;
    }
    if (!heartbeat || Clock::now() < due) continue;
    if (pings == hb[2]) dead(ETIMEDOUT, "heartbeat");
    (void)!::write(fd, "PING\n", 5);
    ++pings;
  }
}

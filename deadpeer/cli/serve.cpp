// `deadpeer serve`: see cli/serve.hpp.
#include "deadpeer/cli/serve.hpp"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "deadpeer/error.hpp"
#include "deadpeer/fd.hpp"
#include "deadpeer/net/address.hpp"
#include "deadpeer/ns/netns.hpp"
#include "deadpeer/peer/event.hpp"
#include "deadpeer/peer/heartbeat_peer.hpp"
#include "deadpeer/peer/tcp_peer.hpp"
#include "deadpeer/scenario/scenario.hpp"

namespace deadpeer {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kMaxConnections = 10'000;
// The peer name of serve's own last event; the printer stops after it.
constexpr std::string_view kSelf = "serve";

constexpr const char* kUsage =
    "usage: deadpeer serve tcp --port P [--address A] [--connections N] [--stop-reading]\n"
    "                          [--until-eof] [--max-time D]\n"
    "       deadpeer serve heartbeat --port P [--address A] [--connections N]\n"
    "                          [--idle D] [--interval D] [--count N] [--pong-delay D]\n"
    "                          [--no-pings] [--pong-only] [--suspect-only] [--quiet-pings]\n"
    "                          [--until-eof] [--max-time D]\n"
    "  Serves in the current network namespace: tcp echoes (or, with --stop-reading,\n"
    "  never reads); heartbeat answers PINGs (and pings, unless --no-pings).\n"
    "  --address defaults to 0.0.0.0, --connections (how many to accept) to 1.\n"
    "  Prints \"listening <address> <port>\" once listening, then one line per event,\n"
    "  until SIGTERM or SIGINT, EOF on stdin with --until-eof, or --max-time\n"
    "  (default 24h). D is a duration: 250ms, 2s, 1.5s, 1m.\n";

// Bad usage: the message names the argument.
struct UsageError {
  std::string message;
};

struct Options {
  std::string kind;  // "tcp" or "heartbeat"
  std::optional<std::uint16_t> port;
  IpAddress address = IpAddress::v4(0, 0, 0, 0);
  int connections = 1;
  bool stop_reading = false;
  HeartbeatSettings heartbeat;
  bool quiet_pings = false;
  bool until_eof = false;
  std::chrono::milliseconds max_time{24h};
};

long long parseInteger(std::string_view option, std::string_view text, long long low,
                       long long high) {
  const std::string copy(text);
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(copy.c_str(), &end, 10);
  if (copy.empty() || *end != '\0' || errno != 0 || value < low || value > high)
    throw UsageError{std::string(option) + " '" + copy + "': expected an integer " +
                     std::to_string(low) + ".." + std::to_string(high)};
  return value;
}

std::chrono::milliseconds parseDurationOption(std::string_view option, std::string_view text) {
  if (const auto value = parseDuration(text)) return *value;
  throw UsageError{std::string(option) + " '" + std::string(text) +
                   "': expected a duration such as 250ms, 2s, 1.5s or 1m"};
}

Options parse(int argc, char** argv) {
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty()) throw UsageError{"missing the server kind: tcp or heartbeat"};
  Options o;
  o.kind = std::string(args[0]);
  if (o.kind != "tcp" && o.kind != "heartbeat")
    throw UsageError{"unknown server kind '" + o.kind + "': expected tcp or heartbeat"};
  const bool heartbeat = o.kind == "heartbeat";
  // A heartbeat server answers by default and pings like any side would.
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string_view option = args[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= args.size()) throw UsageError{std::string(option) + " needs a value"};
      return args[++i];
    };
    auto heartbeatOnly = [&] {
      if (!heartbeat)
        throw UsageError{std::string(option) + " applies to 'serve heartbeat' only"};
    };
    if (option == "--port") {
      o.port = static_cast<std::uint16_t>(parseInteger(option, value(), 1, 65535));
    } else if (option == "--address") {
      const std::string_view text = value();
      try {
        o.address = IpAddress::parse(text);
      } catch (const Error&) {
        throw UsageError{"--address '" + std::string(text) + "': not an IPv4 or IPv6 address"};
      }
    } else if (option == "--connections") {
      o.connections = static_cast<int>(parseInteger(option, value(), 1, kMaxConnections));
    } else if (option == "--until-eof") {
      o.until_eof = true;
    } else if (option == "--max-time") {
      o.max_time = parseDurationOption(option, value());
      if (o.max_time.count() <= 0) throw UsageError{"--max-time must be positive"};
    } else if (option == "--stop-reading") {
      if (heartbeat) throw UsageError{"--stop-reading applies to 'serve tcp' only"};
      o.stop_reading = true;
    } else if (option == "--idle") {
      heartbeatOnly();
      o.heartbeat.idle = parseDurationOption(option, value());
    } else if (option == "--interval") {
      heartbeatOnly();
      o.heartbeat.interval = parseDurationOption(option, value());
    } else if (option == "--count") {
      heartbeatOnly();
      o.heartbeat.count = static_cast<int>(parseInteger(option, value(), 1, 1'000'000));
    } else if (option == "--pong-delay") {
      heartbeatOnly();
      o.heartbeat.pong_delay = parseDurationOption(option, value());
    } else if (option == "--no-pings") {
      heartbeatOnly();
      o.heartbeat.send_pings = false;
    } else if (option == "--pong-only") {
      heartbeatOnly();
      o.heartbeat.pong_only = true;
    } else if (option == "--suspect-only") {
      heartbeatOnly();
      o.heartbeat.suspect_only = true;
    } else if (option == "--quiet-pings") {
      heartbeatOnly();
      o.quiet_pings = true;
    } else {
      throw UsageError{"unknown argument '" + std::string(option) + "'"};
    }
  }
  if (!o.port) throw UsageError{"--port is required"};
  if (heartbeat) {
    try {
      o.heartbeat.validate();
    } catch (const Error& e) {
      throw UsageError{e.what()};
    }
  }
  return o;
}

// One running server of either kind.
class Server {
 public:
  Server(const Options& o, const Netns& here, EventLog& log) {
    if (o.kind == "tcp") {
      TcpPeerConfig config;
      config.name = "server";
      config.role = TcpPeerConfig::Role::kServer;
      config.address = o.address;
      config.port = *o.port;
      config.max_connections = o.connections;
      // A server echoes only in request/response mode; its interval paces
      // the client, never the server, so any value does.
      config.traffic = o.stop_reading ? TrafficMode::stopReading() : TrafficMode::requestResponse(1s);
      tcp_ = std::make_unique<TcpPeer>(here, std::move(config), log);
    } else {
      HeartbeatPeerConfig config;
      config.name = "server";
      config.server = true;
      config.address = o.address;
      config.port = *o.port;
      config.settings = o.heartbeat;
      config.max_connections = o.connections;
      // Accepting ends with the process at the latest.
      config.accept_deadline = o.max_time;
      config.engine.record_pings = !o.quiet_pings;
      heartbeat_ = std::make_unique<HeartbeatPeer>(here, std::move(config), log);
    }
  }

  // Stops and closes everything; returns what the server failed with, "" if
  // nothing.
  std::string stop() {
    std::string failure;
    if (tcp_) {
      tcp_->stop();
      failure = tcp_->loopError();
    }
    if (heartbeat_) {
      failure = heartbeat_->acceptError();
      // Fewer connections than --connections is how a run normally ends.
      if (failure.find(" connections within ") != std::string::npos) failure.clear();
    }
    tcp_.reset();
    heartbeat_.reset();
    return failure;
  }

 private:
  std::unique_ptr<TcpPeer> tcp_;
  std::unique_ptr<HeartbeatPeer> heartbeat_;
};

void printLine(const std::string& line) {
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

// Waits for SIGTERM/SIGINT, stdin's EOF (with --until-eof) or max_time, and
// says which.
std::string waitForStop(const Options& o, int signal_fd) {
  UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
  if (!ep) throw Error::fromErrno("epoll_create1", "serve", "", errno);
  auto watch = [&](int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
      throw Error::fromErrno("epoll_ctl add", "serve", "", errno);
  };
  watch(signal_fd);
  if (o.until_eof) watch(STDIN_FILENO);
  const auto end = Clock::now() + o.max_time;
  // Each pass is woken by a signal, by input, or by the deadline; input
  // that is not EOF is read and dropped.
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(end - Clock::now());
    if (left.count() <= 0) return "max-time";
    epoll_event ev{};
    const int n = ::epoll_wait(ep.get(), &ev, 1,
                               static_cast<int>(std::min<long long>(left.count(), 1 << 30)));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error::fromErrno("epoll_wait", "serve", "", errno);
    if (n == 0) continue;
    if (ev.data.fd == signal_fd) {
      signalfd_siginfo info{};
      if (::read(signal_fd, &info, sizeof info) != sizeof info) continue;
      const char* name = sigabbrev_np(static_cast<int>(info.ssi_signo));
      return std::string("SIG") + (name != nullptr ? name : "?");
    }
    char buffer[4096];
    const ssize_t got = ::read(STDIN_FILENO, buffer, sizeof buffer);
    if (got == 0) return "end of input";
    if (got < 0 && errno != EINTR && errno != EAGAIN)
      return std::string("stdin: ") + std::strerror(errno);
  }
}

int serve(const Options& o) {
  // Before any thread: every thread inherits the mask, so SIGTERM and SIGINT
  // reach only the signalfd, and none of them dies of its default action.
  sigset_t stops;
  sigemptyset(&stops);
  sigaddset(&stops, SIGTERM);
  sigaddset(&stops, SIGINT);
  if (::pthread_sigmask(SIG_BLOCK, &stops, nullptr) != 0)
    throw Error::fromErrno("pthread_sigmask", "serve", "", errno);
  UniqueFd signal_fd(::signalfd(-1, &stops, SFD_CLOEXEC));
  if (!signal_fd) throw Error::fromErrno("signalfd", "serve", "", errno);
  // A reader that went away must not kill the server mid-experiment.
  ::signal(SIGPIPE, SIG_IGN);

  const Netns here = Netns::current("this process's namespace");
  EventLog log;
  Server server(o, here, log);
  printLine("listening " + o.address.str() + " " + std::to_string(*o.port));

  std::thread printer([&log] {
    // Ends at serve's own last event, which is added after every other.
    for (std::size_t next = 0;;) {
      const auto event = log.waitFor([](const Event&) { return true; }, 1h, next);
      if (!event) continue;
      ++next;
      printLine(event->str());
      if (event->peer == kSelf && event->kind == EventKind::kClosed) return;
    }
  });
  std::string why;
  std::string failure;
  try {
    why = waitForStop(o, signal_fd.get());
  } catch (const std::exception& e) {
    why = "error";
    failure = e.what();
  }
  if (std::string stopped = server.stop(); failure.empty()) failure = std::move(stopped);
  Event last;
  last.at = Clock::now();
  last.kind = EventKind::kClosed;
  last.peer = std::string(kSelf);
  last.text = "stopped: " + why;
  log.add(std::move(last));
  printer.join();
  if (!failure.empty()) {
    std::fprintf(stderr, "deadpeer serve: %s\n", failure.c_str());
    return kExitFailed;
  }
  return kExitOk;
}

}  // namespace

int serveMain(int argc, char** argv) {
  if (argc == 2 && (std::string_view(argv[1]) == "--help" || std::string_view(argv[1]) == "-h")) {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  Options options;
  try {
    options = parse(argc, argv);
  } catch (const UsageError& e) {
    if (argc < 2)
      std::fprintf(stderr, "deadpeer serve: %s\n%s", e.message.c_str(), kUsage);
    else
      std::fprintf(stderr, "deadpeer serve: %s (see deadpeer serve --help)\n", e.message.c_str());
    return kExitUsage;
  }
  try {
    return serve(options);
  } catch (const Error& e) {
    std::fprintf(stderr, "deadpeer serve: %s\n", e.what());
    return e.op() == "validate" ? kExitUsage : kExitFailed;
  }
}

}  // namespace deadpeer

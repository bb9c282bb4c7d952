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

#include <CLI/CLI.hpp>

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

constexpr const char* kAbout =
    "Serves in the current network namespace: tcp echoes (or, with --stop-reading,\n"
    "never reads); heartbeat answers PINGs (and pings, unless --no-pings). Prints\n"
    "\"listening <address> <port>\" once listening, then one line per event, until\n"
    "SIGTERM or SIGINT, EOF on stdin with --until-eof, or --max-time.\n"
    "D is a duration: 250ms, 2s, 1.5s, 1m.";

struct Options {
  std::string kind;  // "tcp" or "heartbeat"
  std::uint16_t port = 0;
  IpAddress address = IpAddress::v4(0, 0, 0, 0);
  int connections = 1;
  bool stop_reading = false;
  HeartbeatSettings heartbeat;
  bool quiet_pings = false;
  bool until_eof = false;
  std::chrono::milliseconds max_time{24h};
};

// A duration option: the scenario files' syntax (parseDuration).
CLI::Option* addDuration(CLI::App& app, const std::string& name,
                         std::chrono::milliseconds& target, const std::string& about) {
  return app
      .add_option_function<std::string>(
          name,
          [&target](const std::string& text) { target = *parseDuration(text); }, about)
      ->type_name("D")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            return parseDuration(text) ? ""
                                       : "'" + text +
                                             "' is not a duration such as 250ms, 2s, 1.5s or 1m";
          },
          "DURATION"));
}

// The options both kinds take.
void addCommonOptions(CLI::App& app, Options& o) {
  app.add_option("--port", o.port, "the port to listen on")
      ->required()
      ->check(CLI::Range(1, 65535));
  app.add_option_function<std::string>(
         "--address",
         [&o](const std::string& text) { o.address = IpAddress::parse(text); },
         "the address to listen on")
      ->type_name("A")
      ->default_str("0.0.0.0")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            try {
              IpAddress::parse(text);
              return "";
            } catch (const Error&) {
              return "'" + text + "' is not an IPv4 or IPv6 address";
            }
          },
          "ADDRESS"));
  app.add_option("--connections", o.connections, "how many connections to accept")
      ->check(CLI::Range(1, kMaxConnections))
      ->capture_default_str();
  app.add_flag("--until-eof", o.until_eof, "stop at the end of standard input");
  addDuration(app, "--max-time", o.max_time, "stop after D (default 24h)")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            const auto d = parseDuration(text);
            return d && d->count() <= 0 ? "must be positive" : "";
          },
          "POSITIVE"));
}

// What CLI11 would word less clearly: an unknown kind (it would call it a
// missing command) and an option of the other kind ("not expected").
int kindMistake(int argc, char** argv, const CLI::App& tcp, const CLI::App& heartbeat) {
  const CLI::App* kind = nullptr;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg(argv[i]);
    if (!kind) {
      if (arg.starts_with("-")) continue;
      if (arg != "tcp" && arg != "heartbeat") {
        std::fprintf(stderr,
                     "deadpeer serve: unknown server kind '%s': expected tcp or heartbeat "
                     "(see deadpeer serve --help)\n",
                     argv[i]);
        return kExitUsage;
      }
      kind = arg == "tcp" ? &tcp : &heartbeat;
      continue;
    }
    if (!arg.starts_with("--")) continue;
    const std::string name(arg.substr(0, arg.find('=')));
    const CLI::App& other = kind == &tcp ? heartbeat : tcp;
    if (kind->get_option_no_throw(name) == nullptr && other.get_option_no_throw(name) != nullptr) {
      std::fprintf(stderr, "deadpeer serve: %s applies to 'serve %s' only\n", name.c_str(),
                   other.get_name().c_str());
      return kExitUsage;
    }
  }
  return 0;
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
      config.port = o.port;
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
      config.port = o.port;
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
  printLine("listening " + o.address.str() + " " + std::to_string(o.port));

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
  CLI::App app{kAbout, "deadpeer serve"};
  app.require_subcommand(1);
  app.footer("Exit codes: 0 stopped as asked, 1 the server failed, 2 bad usage.\n");
  Options o;
  CLI::App* tcp = app.add_subcommand("tcp", "a TCP server that echoes what it reads");
  addCommonOptions(*tcp, o);
  tcp->add_flag("--stop-reading", o.stop_reading, "never read: the receive window fills");
  CLI::App* heartbeat =
      app.add_subcommand("heartbeat", "a heartbeat server: answers PINGs, and pings");
  addCommonOptions(*heartbeat, o);
  addDuration(*heartbeat, "--idle", o.heartbeat.idle, "quiet time before the first PING");
  addDuration(*heartbeat, "--interval", o.heartbeat.interval, "time between PINGs");
  heartbeat->add_option("--count", o.heartbeat.count, "unanswered PINGs before declaring death")
      ->check(CLI::Range(1, 1'000'000));
  addDuration(*heartbeat, "--pong-delay", o.heartbeat.pong_delay, "answer each PING after D");
  heartbeat->add_flag_callback("--no-pings", [&o] { o.heartbeat.send_pings = false; },
                               "only answer, never PING");
  heartbeat->add_flag("--pong-only", o.heartbeat.pong_only, "only PONGs count as a sign of life");
  heartbeat->add_flag("--suspect-only", o.heartbeat.suspect_only,
                      "suspect at the deadline, keep the connection");
  heartbeat->add_flag("--quiet-pings", o.quiet_pings, "do not print each PING and PONG");

  if (const int bad = kindMistake(argc, argv, *tcp, *heartbeat)) return bad;
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string command = "deadpeer serve";
    for (const CLI::App* sub : app.get_subcommands()) command += " " + sub->get_name();
    std::fprintf(stderr, "%s: %s (see %s --help)\n", command.c_str(), e.what(), command.c_str());
    return kExitUsage;
  }
  o.kind = tcp->parsed() ? "tcp" : "heartbeat";
  if (heartbeat->parsed()) {
    try {
      o.heartbeat.validate();
    } catch (const Error& e) {
      std::fprintf(stderr, "deadpeer serve heartbeat: %s\n", e.what());
      return kExitUsage;
    }
  }
  try {
    return serve(o);
  } catch (const Error& e) {
    std::fprintf(stderr, "deadpeer serve: %s\n", e.what());
    return e.op() == "validate" ? kExitUsage : kExitFailed;
  }
}

}  // namespace deadpeer

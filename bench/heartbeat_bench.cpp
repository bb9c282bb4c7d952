// Heartbeat engine scale: N TCP connections over loopback inside a fresh
// network namespace, every one heartbeating at 1 Hz (idle 1 s: a PING one
// second after the last PONG). This process's engine pings the client ends;
// a forked child's engine answers on the server ends. Two processes, because
// each then needs only N descriptors: RLIMIT_NOFILE cannot always be raised
// (that needs CAP_SYS_RESOURCE), and N that do not fit are skipped with the
// reason. After a warm-up that lets the PINGs spread over the second, a
// steady window is timed (manual time) and reported as below. The idle_s=60
// variant sends no PING in the window: what idle connections cost.
//   cpu_percent_of_one_core  CPU time of both sides over the window's wall
//                            time: the pinging engine's thread
//                            (CLOCK_THREAD_CPUTIME_ID) plus the whole
//                            answering child (/proc/PID/stat); both include
//                            the kernel's loopback delivery done on their
//                            behalf;
//   cpu_percent_pinging / cpu_percent_answering  each side alone;
//   bytes_per_connection     growth of the pinging process's resident memory
//                            (/proc/self/statm) from before its engine to
//                            after every connection was added, per
//                            connection; socket memory is the kernel's and
//                            not resident here (_answering: the child's);
//   kernel_percent_of_cpu    system time's share of both processes' CPU;
//   pings_per_second         PINGs sent in the window over its wall time.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "deadpeer/error.hpp"
#include "deadpeer/fd.hpp"
#include "deadpeer/net/link.hpp"
#include "deadpeer/net/rtnl.hpp"
#include "deadpeer/ns/netns.hpp"
#include "deadpeer/ns/sysctl.hpp"
#include "deadpeer/peer/heartbeat.hpp"

namespace deadpeer {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kWarmUp = 2s;
constexpr auto kSteady = 5s;
// Connections per listening port: below the 64,511 ephemeral ports of the
// widened range, since each client port must be unique per destination.
constexpr long kPerListener = 50'000;

long residentBytes() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return resident * ::sysconf(_SC_PAGESIZE);
}

// Raises RLIMIT_NOFILE to at least `need`; "" on success, else why not.
std::string raiseFileLimit(rlim_t need) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return std::strerror(errno);
  if (limit.rlim_cur >= need) return "";
  rlimit wanted{need, std::max(need, limit.rlim_max)};
  if (::setrlimit(RLIMIT_NOFILE, &wanted) != 0)
    return "cannot raise RLIMIT_NOFILE from " + std::to_string(limit.rlim_cur) + " (hard " +
           std::to_string(limit.rlim_max) + ") to " + std::to_string(need) + ": " +
           std::strerror(errno) + " (above the hard limit needs CAP_SYS_RESOURCE)";
  return "";
}

UniqueFd listener(std::uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) throw Error::fromErrno("socket", "listener", "bench", errno);
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw Error::fromErrno("bind", "127.0.0.1:" + std::to_string(port), "bench", errno);
  if (::listen(fd.get(), 4096) != 0)
    throw Error::fromErrno("listen", "127.0.0.1:" + std::to_string(port), "bench", errno);
  return fd;
}

std::uint16_t portOf(long index) {
  return static_cast<std::uint16_t>(20000 + index / kPerListener);
}

// What the answering child reports once it has added every connection.
struct ChildReport {
  int error = 0;       // errno of its failure, 0 when ready
  long rss_delta = 0;  // its resident growth from before its engine
};

// The answering side, in a child process: accepts `n` connections from
// `listeners`, answers their PINGs, reports on `ready`, and serves until
// killed. Runs right after fork(), while the parent has no other thread,
// and never returns.
[[noreturn]] void answer(long n, const std::vector<UniqueFd>& listeners, int ready) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  ChildReport report;
  std::optional<HeartbeatEngine> engine;
  EventLog log;
  try {
    const long rss_before = residentBytes();
    engine.emplace(log, HeartbeatEngineOptions{.record_pings = false});
    engine->reserve(static_cast<std::size_t>(n));
    HeartbeatSettings settings;
    settings.send_pings = false;
    for (long k = 0; k < n; ++k) {
      const int from = listeners[static_cast<std::size_t>(k / kPerListener)].get();
      pollfd p{from, POLLIN, 0};
      if (::poll(&p, 1, 5000) != 1) throw Error("accept", "bench", "", ETIMEDOUT, "timed out");
      UniqueFd server(::accept4(from, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
      if (!server) throw Error::fromErrno("accept", "bench", "", errno);
      engine->add(server.get(), "s", settings);
      server.release();
    }
    report.rss_delta = residentBytes() - rss_before;
  } catch (const Error& e) {
    report.error = e.sysErrno() != 0 ? e.sysErrno() : EIO;
  }
  (void)!::write(ready, &report, sizeof report);
  // Serve until the parent kills us (or dies: PR_SET_PDEATHSIG); bounded
  // all the same.
  pollfd never{ready, 0, 0};
  ::poll(&never, 1, 600'000);
  ::_exit(0);
}

struct CpuSplit {
  double user = 0;    // seconds
  double system = 0;  // seconds, the kernel's TCP work among it
};

// CPU time of every thread of `pid`, from /proc (10 ms ticks: fine over a
// 5 s window).
CpuSplit processCpu(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  // Fields after the command name, which may hold spaces: state is field 3,
  // utime 14, stime 15.
  std::istringstream rest(line.substr(line.rfind(')') + 2));
  std::string field;
  CpuSplit cpu;
  const double tick = 1.0 / static_cast<double>(::sysconf(_SC_CLK_TCK));
  for (int k = 3; k <= 15 && rest >> field; ++k) {
    if (k == 14) cpu.user = std::stod(field) * tick;
    if (k == 15) cpu.system = std::stod(field) * tick;
  }
  return cpu;
}

// A forked child, killed and reaped on scope exit.
class Child {
 public:
  explicit Child(pid_t pid) : pid_(pid) {}
  ~Child() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);  // certain to end it, so the wait below is bounded
    ::waitpid(pid_, nullptr, 0);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_;
};

void heartbeatScale(benchmark::State& state) {
  const long n = state.range(0);
  const std::chrono::seconds idle(state.range(1));
  // Each process holds one end of every connection.
  if (const std::string why = raiseFileLimit(static_cast<rlim_t>(n + 256)); !why.empty()) {
    state.SkipWithError(why.c_str());
    return;
  }
  try {
    Netns ns = Netns::create("bench heartbeat", [] {
      writeSysctlHere("net.ipv4.ip_local_port_range", "1024 65535", "bench heartbeat");
    });
    {
      Rtnl rtnl(ns);
      setLinkUp(rtnl, "lo", true);
    }
    for (auto _ : state) {
      std::vector<UniqueFd> listeners;
      runIn(ns, [&] {
        for (long k = 0; k * kPerListener < n; ++k)
          listeners.push_back(listener(portOf(k * kPerListener)));
      });
      int pipe_fds[2];
      if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw Error::fromErrno("pipe", "bench", "", errno);
      UniqueFd ready_read(pipe_fds[0]);
      UniqueFd ready_write(pipe_fds[1]);
      const pid_t pid = ::fork();  // no thread runs yet: every engine is made after
      if (pid < 0) throw Error::fromErrno("fork", "answering side", "", errno);
      if (pid == 0) answer(n, listeners, ready_write.get());
      Child child(pid);
      ready_write.reset();
      listeners.clear();

      EventLog log;
      const long rss_before = residentBytes();
      HeartbeatEngine pinging(log, {.record_pings = false});
      pinging.reserve(static_cast<std::size_t>(n));
      HeartbeatSettings ping;
      ping.idle = idle;
      ping.interval = 1s;
      ping.count = 3;
      ping.answer_pings = false;
      const auto setup_start = Clock::now();
      runIn(ns, [&] {
        for (long k = 0; k < n; ++k) {
          UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
          if (!client)
            throw Error::fromErrno("socket", "client " + std::to_string(k), "bench", errno);
          sockaddr_in addr{};
          addr.sin_family = AF_INET;
          addr.sin_port = htons(portOf(k));
          addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
          // Loopback completes the handshake within the call; the child
          // accepts concurrently, so the backlog never fills.
          if (::connect(client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
            throw Error::fromErrno("connect", "client " + std::to_string(k), "bench", errno);
          pinging.add(client.get(), "c", ping);
          client.release();
        }
      });
      const long rss_after = residentBytes();
      pollfd p{ready_read.get(), POLLIN, 0};
      ChildReport report;
      if (::poll(&p, 1, 30'000) != 1 ||
          ::read(ready_read.get(), &report, sizeof report) != sizeof report)
        throw Error("ready", "answering side", "", ETIMEDOUT, "no report within 30 s");
      if (report.error != 0)
        throw Error::fromErrno("accept and add", "answering side", "", report.error);
      const auto setup = Clock::now() - setup_start;

      // Warm-up, then the steady window: both are waits for a detection
      // that must not come.
      if (auto dead = log.waitFor([](const Event&) { return true; }, kWarmUp)) {
        state.SkipWithError(("a connection died in warm-up: " + dead->str()).c_str());
        return;
      }
      const auto cpu_ping0 = pinging.threadCpuTime();
      const CpuSplit answer0 = processCpu(pid);
      const CpuSplit self0 = processCpu(::getpid());
      const auto stats0 = pinging.stats();
      const auto t0 = Clock::now();
      const auto dead = log.waitFor([](const Event&) { return true; }, kSteady);
      const auto wall = std::chrono::duration<double>(Clock::now() - t0).count();
      const double cpu_ping =
          std::chrono::duration<double>(pinging.threadCpuTime() - cpu_ping0).count();
      const CpuSplit answer1 = processCpu(pid);
      const CpuSplit self1 = processCpu(::getpid());
      const double cpu_answer = answer1.user + answer1.system - answer0.user - answer0.system;
      // Both processes; the pinging one's other threads sit in a wait.
      const double user = answer1.user - answer0.user + self1.user - self0.user;
      const double system = answer1.system - answer0.system + self1.system - self0.system;
      const auto stats1 = pinging.stats();
      if (dead) {
        state.SkipWithError(("a connection died: " + dead->str()).c_str());
        return;
      }
      state.SetIterationTime(wall);
      state.counters["connections"] = static_cast<double>(n);
      state.counters["cpu_percent_of_one_core"] = 100 * (cpu_ping + cpu_answer) / wall;
      state.counters["cpu_percent_pinging"] = 100 * cpu_ping / wall;
      state.counters["cpu_percent_answering"] = 100 * cpu_answer / wall;
      state.counters["bytes_per_connection"] =
          static_cast<double>(rss_after - rss_before) / static_cast<double>(n);
      state.counters["bytes_per_connection_answering"] =
          static_cast<double>(report.rss_delta) / static_cast<double>(n);
      state.counters["kernel_percent_of_cpu"] =
          user + system > 0 ? 100 * system / (user + system) : 0;
      state.counters["pings_per_second"] =
          static_cast<double>(stats1.pings_sent - stats0.pings_sent) / wall;
      state.counters["pongs_per_second"] =
          static_cast<double>(stats1.pongs_received - stats0.pongs_received) / wall;
      state.counters["wakeups_per_second"] =
          static_cast<double>(stats1.wakeups - stats0.wakeups) / wall;
      state.counters["setup_s"] = std::chrono::duration<double>(setup).count();
    }
  } catch (const Error& e) {
    state.SkipWithError(e.what());
  }
}

BENCHMARK(heartbeatScale)
    ->Name("heartbeat/scale")
    ->ArgNames({"connections", "idle_s"})
    ->Args({10'000, 1})   // 1 Hz
    ->Args({100'000, 1})  // 1 Hz
    ->Args({10'000, 60})  // no PING in the window: the cost of idle connections
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kSecond);

}  // namespace
}  // namespace deadpeer

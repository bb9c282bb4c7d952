// bench/topology_bench: building and tearing down a topology with deadpeer,
// and the same topology with the iproute2 command line, in one run.
//
// topology/<spec>/deadpeer: one iteration constructs Topology(spec), which
// returns once every link carries traffic and every IPv6 address is usable,
// and destroys it.
//
// topology/<spec>/ip-cli: one iteration runs the ip(8) commands a user would
// type to build the same spec, one process at a time (posix_spawn, then wait
// for its exit), then `ip netns del` for each namespace. Per node: `ip netns
// add`, one `ip netns exec NS sysctl -qw` with the node's sysctls, `ip -n NS
// link set lo up`; per wire: one `ip link add ... type veth peer ... netns`
// with both names and MACs, `ip link set up` at each end, `ip addr add` per
// address; then `ip route add` per route. Only those processes are timed:
// the command lines are made before the timed loop. Like such a script, the
// CLI side does not wait for the links to come up, which only flatters it.
//
// Before the first timed CLI build of a spec, both sides build it once and
// their namespaces are compared: links, MACs, link state, addresses and
// routes through deadpeer's own rtnetlink readers, and every readable net.*
// sysctl. The two sides must build the same thing for the ratio to mean
// anything, so when Host starts writing a new sysctl, the CLI benchmarks
// fail, naming it, until settingsOf() below writes it too.
//
// Named namespaces exist only in this process's private /run/netns (see
// private_netns_dir.hpp), and their names carry the pid and a sequence
// number. Every namespace added is deleted again, on failure too.
//
// Threading: Google Benchmark runs these on the main thread, one at a time.
#include <benchmark/benchmark.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <linux/rtnetlink.h>

#include "deadpeer/error.hpp"
#include "deadpeer/fd.hpp"
#include "deadpeer/net/address.hpp"
#include "deadpeer/net/link.hpp"
#include "deadpeer/net/route.hpp"
#include "deadpeer/net/rtnl.hpp"
#include "deadpeer/ns/netns.hpp"
#include "private_netns_dir.hpp"
#include "ratio_reporter.hpp"
#include "deadpeer/topology/topology.hpp"

extern char** environ;

namespace {

using namespace deadpeer;
using Clock = std::chrono::steady_clock;

// One ip command takes milliseconds; ten seconds is a hung one.
constexpr std::chrono::milliseconds kCommandDeadline{10000};
// As Topology's own wait for links.
constexpr std::chrono::milliseconds kReadyDeadline{5000};

const char* findProgram(std::initializer_list<const char*> candidates) {
  for (const char* path : candidates)
    if (::access(path, X_OK) == 0) return path;
  return nullptr;
}

// Absolute paths: an ordinary user's PATH often lacks /usr/sbin.
const char* ipProgram() {
  static const char* path = findProgram({"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"});
  return path;
}

const char* sysctlProgram() {
  static const char* path =
      findProgram({"/usr/sbin/sysctl", "/sbin/sysctl", "/usr/bin/sysctl", "/bin/sysctl"});
  return path;
}

std::string commandLine(const std::vector<std::string>& args) {
  std::string line = "ip";
  for (const auto& a : args) line += " " + a;
  return line;
}

// Runs ip(8) with given arguments, one process at a time, and waits for it
// to exit. stdout goes to /dev/null; stderr to a memory file that is read
// only when a command fails.
class IpCli {
 public:
  IpCli() {
    devnull_.reset(::open("/dev/null", O_RDWR | O_CLOEXEC));
    stderr_.reset(::memfd_create("ip-stderr", MFD_CLOEXEC));
    if (!devnull_ || !stderr_) {
      unusable_ = std::string("open /dev/null or memfd: ") + std::strerror(errno);
      return;
    }
    ::posix_spawn_file_actions_init(&actions_);
    ::posix_spawn_file_actions_adddup2(&actions_, devnull_.get(), STDIN_FILENO);
    ::posix_spawn_file_actions_adddup2(&actions_, devnull_.get(), STDOUT_FILENO);
    ::posix_spawn_file_actions_adddup2(&actions_, stderr_.get(), STDERR_FILENO);
  }
  ~IpCli() {
    if (unusable_.empty()) ::posix_spawn_file_actions_destroy(&actions_);
  }
  IpCli(const IpCli&) = delete;
  IpCli& operator=(const IpCli&) = delete;

  // "" when ip(8) can be run, else why not.
  const std::string& unusable() const noexcept { return unusable_; }

  // "" when the command exits 0, else the command line and what went wrong.
  std::string run(const std::vector<std::string>& args) {
    std::vector<char*> argv;
    argv.reserve(args.size() + 2);
    argv.push_back(const_cast<char*>("ip"));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    pid_t pid = 0;
    if (int rc = ::posix_spawn(&pid, ipProgram(), &actions_, nullptr, argv.data(), environ);
        rc != 0)
      return commandLine(args) + ": posix_spawn: " + std::strerror(rc);
    const std::string why = waitFor(pid);
    return why.empty() ? why : commandLine(args) + ": " + why;
  }

 private:
  // "" on exit status 0. The wait is bounded: a child still running at the
  // deadline is killed (SIGKILL cannot be ignored, so the reap is prompt).
  std::string waitFor(pid_t pid) {
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    std::string why;
    if (!pidfd) {
      why = std::string("pidfd_open: ") + std::strerror(errno);
      ::kill(pid, SIGKILL);
    } else {
      const auto end = Clock::now() + kCommandDeadline;
      why = "interrupted too often";
      for (int waits = 0; waits < 64; ++waits) {
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(end - Clock::now());
        pollfd p{pidfd.get(), POLLIN, 0};
        const int n = left.count() > 0 ? ::poll(&p, 1, static_cast<int>(left.count())) : 0;
        if (n > 0) {
          why.clear();
          break;
        }
        if (n < 0 && errno == EINTR) continue;
        why = n == 0 ? "still running after " + std::to_string(kCommandDeadline.count()) + " ms"
                     : std::string("poll pidfd: ") + std::strerror(errno);
        break;
      }
      if (!why.empty()) ::kill(pid, SIGKILL);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!why.empty()) return why;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
    why = WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                            : "killed by signal " + std::to_string(WTERMSIG(status));
    return why + stderrText();
  }

  // The end of what the failed command wrote to stderr; the file is emptied
  // for the next one.
  std::string stderrText() {
    constexpr off_t kTail = 2048;
    const off_t size = std::max<off_t>(::lseek(stderr_.get(), 0, SEEK_CUR), 0);
    const off_t from = std::max<off_t>(size - kTail, 0);
    std::string text(static_cast<std::size_t>(size - from), '\0');
    const ssize_t n = ::pread(stderr_.get(), text.data(), text.size(), from);
    text.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    (void)::ftruncate(stderr_.get(), 0);
    (void)::lseek(stderr_.get(), 0, SEEK_SET);
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    return text.empty() ? "" : ": " + text;
  }

  UniqueFd devnull_;
  UniqueFd stderr_;
  posix_spawn_file_actions_t actions_{};
  std::string unusable_;
};

// The ip(8) commands that build one spec under unique namespace names.
struct CliPlan {
  struct Step {
    std::vector<std::string> args;
    std::string adds;  // the namespace this step creates, if it is `ip netns add`
  };
  std::vector<Step> build;
  std::map<std::string, std::string> names;  // node -> namespace name

  std::size_t processes() const { return build.size() + names.size(); }
};

// The sysctls that Host and Router write (topology/host.cpp).
std::vector<const char*> settingsOf(NodeKind kind) {
  std::vector<const char*> settings{"net.ipv6.conf.default.accept_dad=0",
                                    "net.ipv6.conf.all.keep_addr_on_down=1"};
  if (kind == NodeKind::kRouter)
    settings.insert(settings.end(), {"net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"});
  return settings;
}

std::string familyOption(int family) { return family == AF_INET ? "-4" : "-6"; }

// Throws Error for what the plan cannot express (switches).
CliPlan planFor(const TopologySpec& spec) {
  static int sequence = 0;
  const std::string prefix =
      "dp" + std::to_string(::getpid()) + "-" + std::to_string(++sequence) + "-";
  CliPlan plan;
  auto ns = [&](const std::string& node) { return plan.names.at(node); };

  for (const auto& node : spec.nodes) {
    if (node.kind == NodeKind::kSwitch)
      throw Error("plan ip commands", quoted("switch", node.name), quoted("topology", spec.name),
                  EOPNOTSUPP, "switches are not planned");
    const std::string name = prefix + node.name;
    plan.names[node.name] = name;
    plan.build.push_back({{"netns", "add", name}, name});
    std::vector<std::string> sysctl{"netns", "exec", name, sysctlProgram(), "-qw"};
    for (const char* setting : settingsOf(node.kind)) sysctl.emplace_back(setting);
    plan.build.push_back({std::move(sysctl), {}});
    plan.build.push_back({{"-n", name, "link", "set", "lo", "up"}, {}});
  }

  for (const auto& w : spec.wires) {
    std::vector<std::string> add{"-n", ns(w.a.node), "link", "add", w.a.link};
    if (w.a.mac) add.insert(add.end(), {"address", w.a.mac->str()});
    add.insert(add.end(), {"type", "veth", "peer", "name", w.b.link});
    if (w.b.mac) add.insert(add.end(), {"address", w.b.mac->str()});
    add.insert(add.end(), {"netns", ns(w.b.node)});
    plan.build.push_back({std::move(add), {}});
    for (const EndSpec* e : {&w.a, &w.b})
      plan.build.push_back({{"-n", ns(e->node), "link", "set", e->link, "up"}, {}});
    for (const EndSpec* e : {&w.a, &w.b})
      for (const auto& p : e->addresses)
        plan.build.push_back({{"-n", ns(e->node), "addr", "add", p.str(), "dev", e->link}, {}});
  }

  for (const auto& r : spec.routes) {
    const RouteSpec& route = r.route;
    std::vector<std::string> add{"-n", ns(r.node), familyOption(route.destination.address.family),
                                 "route", "add"};
    if (route.type != RouteType::kUnicast) add.emplace_back(routeTypeName(route.type));
    add.push_back(route.destination.length == 0 ? "default" : route.destination.str());
    if (route.gateway) add.insert(add.end(), {"via", route.gateway->str()});
    if (!route.device.empty()) add.insert(add.end(), {"dev", route.device});
    add.insert(add.end(), {"proto", "static"});  // as deadpeer's routes
    plan.build.push_back({std::move(add), {}});
  }
  return plan;
}

// A topology built by ip(8). Namespaces added are deleted by tearDown(), or
// by the destructor if a build step failed first.
class CliTopology {
 public:
  explicit CliTopology(IpCli& ip) : ip_(ip) {}
  ~CliTopology() { (void)tearDown(); }
  CliTopology(const CliTopology&) = delete;
  CliTopology& operator=(const CliTopology&) = delete;

  // "" on success, else the first failing command.
  std::string build(const CliPlan& plan) {
    for (const auto& step : plan.build) {
      if (std::string why = ip_.run(step.args); !why.empty()) return why;
      if (!step.adds.empty()) added_.push_back(step.adds);
    }
    return {};
  }

  // Deletes every namespace added, newest first, even past a failure; ""
  // or the first failure.
  std::string tearDown() {
    std::string first;
    for (; !added_.empty(); added_.pop_back()) {
      std::string why = ip_.run({"netns", "del", added_.back()});
      if (first.empty()) first = std::move(why);
    }
    return first;
  }

 private:
  IpCli& ip_;
  std::vector<std::string> added_;
};

// --- Are both sides the same? ------------------------------------------

std::vector<std::string> linksOf(const TopologySpec& spec, const std::string& node) {
  std::vector<std::string> links;
  for (const auto& w : spec.wires)
    for (const EndSpec* e : {&w.a, &w.b})
      if (e->node == node) links.push_back(e->link);
  return links;
}

// Waits as Topology does: links carry traffic, IPv6 addresses usable.
void waitReady(const Rtnl& rtnl, const std::vector<std::string>& links, const std::string& node) {
  rtnl.waitUntil(
      {RTNLGRP_LINK, RTNLGRP_IPV6_IFADDR},
      [&] {
        std::string missing = linksNotReady(rtnl, links);
        if (missing.empty()) missing = addressesNotUsable(rtnl);
        return missing;
      },
      "wait for " + node + " ready", kReadyDeadline);
}

// Every readable net.* sysctl of the namespace, all links' included: the
// sysctls the two sides set must match, and so must everything they imply.
void addSysctlFacts(const Netns& ns, std::vector<std::string>& facts) {
  namespace fs = std::filesystem;
  NetnsGuard guard(ns);  // /proc/sys/net shows the namespace of the reader
  std::error_code ec;
  for (fs::recursive_directory_iterator it("/proc/sys/net", ec), end; !ec && it != end;
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    UniqueFd fd(::open(it->path().c_str(), O_RDONLY | O_CLOEXEC));
    char value[512];
    const ssize_t n = fd ? ::read(fd.get(), value, sizeof value) : -1;
    if (n < 0) continue;  // write-only, or refuses reads (stable_secret unset)
    std::string key = it->path().lexically_relative("/proc/sys").string();
    std::replace(key.begin(), key.end(), '/', '.');
    std::string text(value, static_cast<std::size_t>(n));
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    facts.push_back("sysctl " + key + " = " + text);
  }
  if (ec) throw Error::fromErrno("walk", "/proc/sys/net", ns.label(), ec.value());
}

// What a node's namespace holds, one fact a line, sorted; ifindexes become
// link names, so that two namespaces compare.
std::vector<std::string> describe(const Netns& ns, const Rtnl& rtnl,
                                  const std::vector<std::string>& links) {
  std::vector<std::string> facts;
  std::map<int, std::string> names;
  std::vector<std::string> all{"lo"};
  all.insert(all.end(), links.begin(), links.end());
  for (const auto& link : all) {
    const LinkInfo info = getLink(rtnl, link);
    names[info.ifindex] = link;
    facts.push_back("link " + link + " kind=" + info.kind + " mac=" + info.mac.str() + " up=" +
                    std::to_string(info.admin_up) + " lower_up=" + std::to_string(info.lower_up) +
                    " oper_up=" + std::to_string(info.oper_up) +
                    " mtu=" + std::to_string(info.mtu) + " qdisc=" + info.qdisc);
    for (int family : {AF_INET, AF_INET6})
      for (const auto& a : listAddresses(rtnl, link, family))
        facts.push_back("address " + a.prefix.str() + " dev " + link +
                        (a.tentative ? " tentative" : ""));
  }
  for (int family : {AF_INET, AF_INET6})
    for (const auto& r : listRoutes(rtnl, family)) {
      const auto it = names.find(r.ifindex);
      facts.push_back("route " + std::string(routeTypeName(r.type)) + " " + r.destination.str() +
                      (r.gateway ? " via " + r.gateway->str() : "") + " dev " +
                      (it != names.end() ? it->second : "if" + std::to_string(r.ifindex)));
    }
  addSysctlFacts(ns, facts);
  std::sort(facts.begin(), facts.end());
  return facts;
}

// The first fact in one list and not the other, or "".
std::string firstDifference(const std::vector<std::string>& ours,
                            const std::vector<std::string>& theirs) {
  std::vector<std::string> only_ours, only_theirs;
  std::set_difference(ours.begin(), ours.end(), theirs.begin(), theirs.end(),
                      std::back_inserter(only_ours));
  std::set_difference(theirs.begin(), theirs.end(), ours.begin(), ours.end(),
                      std::back_inserter(only_theirs));
  if (!only_ours.empty()) return "only deadpeer has \"" + only_ours.front() + "\"";
  if (!only_theirs.empty()) return "only the ip CLI has \"" + only_theirs.front() + "\"";
  return {};
}

// "" when the ip CLI builds what Topology builds, else the first difference.
std::string compareSides(IpCli& ip, const TopologySpec& spec) {
  try {
    Topology ours(spec);
    const CliPlan plan = planFor(spec);
    CliTopology theirs(ip);
    if (std::string why = theirs.build(plan); !why.empty()) return why;
    for (const auto& node : spec.nodes) {
      const std::vector<std::string> links = linksOf(spec, node.name);
      const Host& host = ours.host(node.name);
      const auto our_facts = describe(host.netns(), host.rtnl(), links);

      const std::string name = plan.names.at(node.name);
      const std::string path = "/var/run/netns/" + name;
      UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd) return "open " + path + ": " + std::strerror(errno);
      const Netns cli_ns = [&] {
        NetnsGuard guard(fd.get(), "ip netns " + name);
        return Netns::current("ip netns " + name);
      }();
      const Rtnl cli_rtnl(cli_ns);
      waitReady(cli_rtnl, links, name);
      const auto their_facts = describe(cli_ns, cli_rtnl, links);
      if (std::string diff = firstDifference(our_facts, their_facts); !diff.empty())
        return "ip CLI and deadpeer differ on " + node.name + ": " + diff;
    }
    return theirs.tearDown();
  } catch (const Error& e) {
    return e.what();
  }
}

// --- The benchmarks ------------------------------------------------------

void reportMilliseconds(benchmark::State& state, Clock::duration elapsed) {
  state.counters["ms"] =
      benchmark::Counter(std::chrono::duration<double, std::milli>(elapsed).count(),
                         benchmark::Counter::kAvgIterations);
}

// The distribution behind the mean: a build's time has a long tail, when the
// kernel's asynchronous cleanup of earlier namespaces holds the rtnl lock.
class IterationTimes {
 public:
  explicit IterationTimes(std::size_t expected) { ms_.reserve(expected); }
  void add(Clock::duration d) {
    ms_.push_back(std::chrono::duration<double, std::milli>(d).count());
  }
  void report(benchmark::State& state) {
    if (ms_.empty()) return;
    std::sort(ms_.begin(), ms_.end());
    state.counters["median_ms"] = ms_[ms_.size() / 2];
    state.counters["p90_ms"] = ms_[ms_.size() * 9 / 10];
  }

 private:
  std::vector<double> ms_;
};

void deadpeerBuild(benchmark::State& state, const std::string& topology) {
  // Topology takes its spec by value: copies are made before timing.
  std::vector<TopologySpec> specs(static_cast<std::size_t>(state.max_iterations),
                                  TopologySpec::named(topology));
  std::size_t i = 0;
  IterationTimes times(specs.size());
  const auto start = Clock::now();
  for (auto _ : state) {
    const auto t0 = Clock::now();
    try {
      Topology built(std::move(specs[i++]));
    } catch (const Error& e) {
      state.SkipWithError(e.what());
      break;
    }
    times.add(Clock::now() - t0);
  }
  reportMilliseconds(state, Clock::now() - start);
  times.report(state);
}

void cliBuild(benchmark::State& state, const std::string& topology) {
  if (const std::string& why = deadpeer::bench::privateNetnsDirUnavailable(); !why.empty()) {
    state.SkipWithError(("named namespaces need a private /run/netns: " + why).c_str());
    return;
  }
  if (ipProgram() == nullptr || sysctlProgram() == nullptr) {
    state.SkipWithError("ip(8) or sysctl(8) not found in /usr/sbin, /sbin, /usr/bin or /bin");
    return;
  }
  IpCli ip;
  if (!ip.unusable().empty()) {
    state.SkipWithError(ip.unusable().c_str());
    return;
  }
  const TopologySpec spec = TopologySpec::named(topology);

  // Once per spec and process, not timed.
  static std::map<std::string, std::string> compared;
  if (!compared.count(topology)) compared[topology] = compareSides(ip, spec);
  if (!compared[topology].empty()) {
    state.SkipWithError(compared[topology].c_str());
    return;
  }

  std::vector<CliPlan> plans;
  try {
    plans.reserve(static_cast<std::size_t>(state.max_iterations));
    for (benchmark::IterationCount n = 0; n < state.max_iterations; ++n)
      plans.push_back(planFor(spec));
  } catch (const Error& e) {
    state.SkipWithError(e.what());
    return;
  }

  std::size_t i = 0;
  const auto start = Clock::now();
  IterationTimes times(plans.size());
  for (auto _ : state) {
    const auto t0 = Clock::now();
    CliTopology built(ip);
    std::string why = built.build(plans[i++]);
    if (why.empty()) why = built.tearDown();
    if (!why.empty()) {
      state.SkipWithError(why.c_str());
      break;
    }
    times.add(Clock::now() - t0);
  }
  reportMilliseconds(state, Clock::now() - start);
  times.report(state);
  state.counters["processes"] = static_cast<double>(plans.front().processes());
}

const bool kRegistered = [] {
  for (const std::string topology : {"two-hosts", "routed"}) {
    const std::string ours = "topology/" + topology + "/deadpeer";
    const std::string theirs = "topology/" + topology + "/ip-cli";
    benchmark::RegisterBenchmark(ours.c_str(), deadpeerBuild, topology)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond)
        ->MinTime(2.0);
    benchmark::RegisterBenchmark(theirs.c_str(), cliBuild, topology)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond)
        ->MinTime(2.0);
    deadpeer::bench::compareBenchmarks({topology, {theirs, "ip CLI"}, {ours, "deadpeer"}});
  }
  return true;
}();

}  // namespace

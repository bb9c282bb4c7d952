// Fault apply latency: for each kind and backend, the time from the apply()
// call to the kernel's acknowledgement (Fault::applyLatency()), over 100
// applies, each followed by a revert() outside the measurement. Reported as
// manual time (the mean) with median and max counters; a kind whose kernel
// feature is missing reports that as its error. tc kinds run on the switched
// topology: over a direct link their ingress drop is refused (tc_fault.cpp).
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "deadpeer/error.hpp"
#include "deadpeer/fault/capabilities.hpp"
#include "deadpeer/fault/fault.hpp"
#include "deadpeer/topology/topology.hpp"

namespace deadpeer {
namespace {

constexpr int kApplies = 100;

// A process parked in a host's namespace, for the process kinds: fork,
// setns, say so on a pipe, pause. Killed and reaped on destruction.
class ParkedProcess {
 public:
  explicit ParkedProcess(const Host& host) {
    int ready[2];
    if (::pipe2(ready, O_CLOEXEC) != 0) throw Error::fromErrno("pipe", "parked process", "", errno);
    const pid_t parent = ::getpid();
    const int ns = host.netns().fd();
    pid_ = ::fork();
    if (pid_ < 0) throw Error::fromErrno("fork", "parked process", "", errno);
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent || ::setns(ns, CLONE_NEWNET) != 0) ::_exit(1);
      (void)::write(ready[1], "r", 1);
      // Parked until killed; bounded by the signals it can absorb.
      for (int signals = 0; signals < 1024; ++signals) ::pause();
      ::_exit(0);
    }
    ::close(ready[1]);
    pollfd pfd{ready[0], POLLIN, 0};
    char byte;
    const bool ok = ::poll(&pfd, 1, 5000) == 1 && ::read(ready[0], &byte, 1) == 1;
    ::close(ready[0]);
    if (!ok) throw Error("start", "parked process", host.netns().label(), ETIMEDOUT, "not ready");
  }
  ~ParkedProcess() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

struct Case {
  const char* name;
  const char* topology;
  std::function<FaultSpec(Topology&)> spec;
  bool needs_process = false;
};

FaultSpec base(FaultKind kind, const char* host, Backend backend = Backend::kAuto) {
  FaultSpec s;
  s.kind = kind;
  s.host = host;
  s.backend = backend;
  return s;
}

std::vector<Case> cases() {
  auto route = [](FaultKind kind) {
    return [kind](Topology&) {
      FaultSpec s = base(kind, "r1");
      s.target = "h2";
      return s;
    };
  };
  auto flowDrop = [](Backend backend) {
    return [backend](Topology& t) {
      FaultSpec s = base(FaultKind::kDrop, "h1", backend);
      s.flow = Flow{};
      s.flow->destination = t.address("h2", AF_INET);
      s.flow->destination_port = 80;
      return s;
    };
  };
  return {
      {"host-crash/tc", "switched",
       [](Topology&) { return base(FaultKind::kHostCrash, "h2", Backend::kTc); }},
      {"host-crash/nft", "two-hosts",
       [](Topology&) { return base(FaultKind::kHostCrash, "h2", Backend::kNft); }},
      {"drop-host/tc", "switched",
       [](Topology&) { return base(FaultKind::kDrop, "h1", Backend::kTc); }},
      {"drop-host/nft", "two-hosts",
       [](Topology&) { return base(FaultKind::kDrop, "h1", Backend::kNft); }},
      {"drop-flow/tc", "switched", flowDrop(Backend::kTc)},
      {"drop-flow/nft", "two-hosts", flowDrop(Backend::kNft)},
      {"loss/nft", "two-hosts",
       [](Topology&) {
         FaultSpec s = base(FaultKind::kLoss, "h1");
         s.loss_percent = 30;
         return s;
       }},
      {"blackhole/route", "routed", route(FaultKind::kBlackhole)},
      {"unreachable/route", "routed", route(FaultKind::kUnreachable)},
      {"prohibit/route", "routed", route(FaultKind::kProhibit)},
      {"reset/nft", "two-hosts", [](Topology&) { return base(FaultKind::kReset, "h2"); }},
      {"reboot/namespace", "switched", [](Topology&) { return base(FaultKind::kReboot, "h2"); }},
      {"link-down/netlink", "two-hosts",
       [](Topology&) {
         FaultSpec s = base(FaultKind::kLinkDown, "h1");
         s.link = "eth0";
         return s;
       }},
      {"process-kill/signal", "two-hosts",
       [](Topology&) { return base(FaultKind::kProcessKill, "h2"); }, true},
      {"process-freeze/signal", "two-hosts",
       [](Topology&) { return base(FaultKind::kProcessFreeze, "h2"); }, true},
      {"firewall-forget/nft", "routed",
       [](Topology&) {
         FaultSpec s = base(FaultKind::kFirewallForget, "r1");
         s.conntrack_timeout = std::chrono::seconds(3);
         return s;
       }},
      {"delay/netem", "two-hosts",
       [](Topology&) {
         FaultSpec s = base(FaultKind::kDelay, "h1");
         s.delay = std::chrono::milliseconds(100);
         return s;
       }},
  };
}

void applyLatency(benchmark::State& state, const Case& c) {
  try {
    Topology topology(TopologySpec::named(c.topology));
    FaultSpec spec = c.spec(topology);
    if (std::string why = unsupportedReason(spec); !why.empty()) {
      state.SkipWithError(why.c_str());
      return;
    }
    std::vector<double> ms;
    std::unique_ptr<ParkedProcess> process;
    std::unique_ptr<Fault> fault;
    for (auto _ : state) {
      if (c.needs_process && (!process || spec.kind == FaultKind::kProcessKill)) {
        fault.reset();
        process = std::make_unique<ParkedProcess>(topology.host(spec.host));
        spec.pid = process->pid();
      }
      if (!fault) fault = makeFault(topology, spec);
      fault->apply();
      const auto latency = fault->applyLatency();
      fault->revert();
      if (spec.kind == FaultKind::kProcessKill) fault.reset();
      const double seconds = std::chrono::duration<double>(latency).count();
      state.SetIterationTime(seconds);
      ms.push_back(seconds * 1e3);
    }
    std::sort(ms.begin(), ms.end());
    state.counters["median_ms"] = ms[ms.size() / 2];
    state.counters["max_ms"] = ms.back();
  } catch (const Error& e) {
    state.SkipWithError(e.what());
  }
}

const bool registered = [] {
  static const std::vector<Case> all = cases();
  for (const auto& c : all)
    benchmark::RegisterBenchmark(("fault/apply/" + std::string(c.name)).c_str(),
                                 [&c](benchmark::State& s) { applyLatency(s, c); })
        ->Iterations(kApplies)
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond);
  return true;
}();

}  // namespace
}  // namespace deadpeer

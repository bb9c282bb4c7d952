// process-kill and process-freeze: act on the peer's whole process tree (or
// one named process of it), with signals sent through pidfds, so that a
// recycled pid can never be hit.
//
// The tree of a peer the harness started is its PID namespace
// (ns/pidns.hpp): every process in it, however it was forked or
// daemonised. A process in the harness's own namespace (a test's child) has
// for tree itself and its descendants (/proc/PID/task/TID/children).
//
// Kill: when the tree is a namespace, SIGKILL to its init makes the kernel
// kill every member at once, and no member can fork out of it meanwhile;
// apply() returns when the init has exited, which it does only once every
// member is gone (zap_pid_ns_processes), so every socket of the tree is
// closed. Otherwise each process is SIGKILLed and waited for.
//
// Freeze: SIGSTOP to every member, repeated until a pass finds no process it
// had not stopped (one forked meanwhile), and apply() returns once each has
// stopped or died. The cgroup freezer would stop a tree atomically, but it
// needs a delegated cgroup v2 subtree that neither rootless runs nor this
// machine's cgroup v1 layout give. A stop of a process that is not our child
// raises no event (waitid reports it to the parent only, pidfds only report
// exit), so "stopped" is read from /proc/PID/stat, re-read on a short,
// growing interval with a deadline, and every pidfd is polled meanwhile so
// that a death is seen at once. Revert sends SIGCONT to every process it
// stopped.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "deadpeer/error.hpp"
#include "deadpeer/fault/kinds.hpp"
#include "deadpeer/fd.hpp"
#include "deadpeer/ns/pidns.hpp"

namespace deadpeer::fault_kinds {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kExitDeadline{5000};
// Bounds a tree that forks as fast as it is stopped.
constexpr int kFreezePasses = 64;

// glibc 2.36 has the pidfd wrappers, but not with C linkage in C++.
int pidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int pidfdSignal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

std::string readProcFile(pid_t pid, const char* file) {
  UniqueFd fd(::open(("/proc/" + std::to_string(pid) + "/" + file).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return {};
  std::string text;
  char buf[4096];
  for (int reads = 0; reads < 64; ++reads) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  return text;
}

// The state letter of /proc/PID/stat ("1234 (comm) S ..."), 0 when gone.
char stateOf(pid_t pid) {
  const std::string stat = readProcFile(pid, "stat");
  const auto close = stat.rfind(')');
  return close == std::string::npos || close + 2 >= stat.size() ? 0 : stat[close + 2];
}

std::string commOf(pid_t pid) {
  std::string comm = readProcFile(pid, "comm");
  if (!comm.empty() && comm.back() == '\n') comm.pop_back();
  return comm;
}

// Whether `pid` is PID 1 of its innermost namespace: the last NSpid field.
bool isNamespaceInit(pid_t pid) {
  const std::string status = readProcFile(pid, "status");
  const auto at = status.find("\nNSpid:");
  if (at == std::string::npos) return false;
  const auto end = status.find('\n', at + 1);
  const std::string line = status.substr(at + 7, end - at - 7);
  const auto last = line.find_last_not_of(" \t");
  if (last == std::string::npos) return false;
  const auto first = line.find_last_of(" \t", last);
  return line.substr(first == std::string::npos ? 0 : first + 1, last - first) == "1";
}

// `root` and every descendant, through the kernel's children lists (one per
// thread: a child belongs to the thread that forked it).
std::vector<pid_t> descendantsOf(pid_t root) {
  std::vector<pid_t> out{root};
  for (std::size_t i = 0; i < out.size() && out.size() < 100000; ++i) {
    const std::string tasks = "/proc/" + std::to_string(out[i]) + "/task";
    DIR* dir = ::opendir(tasks.c_str());
    if (dir == nullptr) continue;  // exited meanwhile
    std::vector<std::string> tids;
    for (int entries = 0; entries < 100000; ++entries) {
      const dirent* e = ::readdir(dir);
      if (e == nullptr) break;
      if (e->d_name[0] != '.') tids.emplace_back(e->d_name);
    }
    ::closedir(dir);
    for (const auto& tid : tids) {
      const std::string children = readProcFile(out[i], ("task/" + tid + "/children").c_str());
      std::size_t pos = 0;
      while (pos < children.size()) {
        const auto end = std::min(children.find(' ', pos), children.size());
        if (end > pos) out.push_back(static_cast<pid_t>(std::stol(children.substr(pos, end - pos))));
        pos = end + 1;
      }
    }
  }
  return out;
}

class ProcessFault final : public Fault {
 public:
  ProcessFault(Topology& topology, const FaultSpec& spec) : Fault(spec) {
    object_ = "process " + std::to_string(spec.pid);
    pidfd_.reset(pidfdOpen(spec.pid));
    if (!pidfd_) throw Error::fromErrno("pidfd_open", object_, "", errno);
    // The process must live in the host the fault names.
    struct stat st {};
    const std::string ns = "/proc/" + std::to_string(spec.pid) + "/ns/net";
    if (::stat(ns.c_str(), &st) != 0) throw Error::fromErrno("stat", ns, "", errno);
    const Host& host = topology.host(spec.host);
    if (st.st_ino != host.netns().inode())
      throw Error("validate", object_, host.netns().label(), EINVAL,
                  "the process is not in this host's network namespace");
    const ino_t mine = pidNamespaceOf(::getpid());
    const ino_t its = pidNamespaceOf(spec.pid);
    if (its != 0 && its != mine) tree_namespace_ = its;
  }
  ~ProcessFault() override { revertOnDestruction(); }

 private:
  // The processes the fault acts on now, the tree's init left out.
  std::vector<pid_t> targets() const {
    std::vector<pid_t> tree;
    if (tree_namespace_ != 0) {
      for (pid_t pid : processesInPidNamespace(tree_namespace_))
        if (!isNamespaceInit(pid)) tree.push_back(pid);
    } else {
      tree = descendantsOf(spec().pid);
    }
    if (spec().only.empty()) return tree;
    std::set<std::string> names;
    for (pid_t pid : tree) {
      const std::string comm = commOf(pid);
      if (comm == spec().only) return {pid};
      names.insert(comm);
    }
    std::string seen;
    for (const auto& n : names) seen += (seen.empty() ? "" : ", ") + n;
    throw Error("find", "process named " + spec().only, object_ + "'s tree", ESRCH,
                "no such process in the tree; it has: " + (seen.empty() ? "none" : seen));
  }

  // Opens a pidfd for `pid` and checks it still is a member of the tree (a
  // pid read from /proc may have been recycled since).
  UniqueFd openMember(pid_t pid) const {
    UniqueFd fd(pidfdOpen(pid));
    if (fd && tree_namespace_ != 0 && pidNamespaceOf(pid) != tree_namespace_) fd.reset();
    return fd;
  }

  // Waits until every pidfd in `fds` is readable (the process is gone).
  bool waitGone(std::vector<pollfd> fds, Clock::time_point end) {
    for (int rounds = 0; rounds < 10000 && !fds.empty(); ++rounds) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(end - Clock::now()).count();
      if (left <= 0) return false;
      const int n = ::poll(fds.data(), fds.size(), static_cast<int>(left));
      if (n < 0 && errno != EINTR) throw Error::fromErrno("poll", object_, "", errno);
      std::erase_if(fds, [](const pollfd& p) { return p.revents != 0; });
    }
    return fds.empty();
  }

  void kill() {
    const auto end = Clock::now() + kExitDeadline;
    std::vector<UniqueFd> fds;
    if (tree_namespace_ != 0 && spec().only.empty()) {
      // The init: the kernel kills the rest and the init goes last.
      for (pid_t pid : processesInPidNamespace(tree_namespace_))
        if (isNamespaceInit(pid))
          if (UniqueFd fd = openMember(pid)) fds.push_back(std::move(fd));
    }
    if (fds.empty())
      for (pid_t pid : targets())
        if (UniqueFd fd = openMember(pid)) fds.push_back(std::move(fd));
    std::vector<pollfd> wait;
    for (const auto& fd : fds) {
      if (pidfdSignal(fd.get(), SIGKILL) != 0 && errno != ESRCH)
        throw Error::fromErrno("SIGKILL", object_, "", errno);
      wait.push_back({fd.get(), POLLIN, 0});
    }
    if (!waitGone(std::move(wait), end))
      throw Error("SIGKILL", object_ + "'s tree", "", ETIMEDOUT,
                  "still alive " + std::to_string(kExitDeadline.count()) + " ms after SIGKILL");
  }

  void freeze() {
    const auto end = Clock::now() + kExitDeadline;
    for (int pass = 0; pass < kFreezePasses; ++pass) {
      bool added = false;
      for (pid_t pid : targets()) {
        if (stopped_.count(pid)) continue;
        UniqueFd fd = openMember(pid);
        if (!fd) continue;  // gone already
        if (pidfdSignal(fd.get(), SIGSTOP) != 0) {
          if (errno == ESRCH) continue;
          throw Error::fromErrno("SIGSTOP", object_ + "'s tree, pid " + std::to_string(pid), "",
                                 errno);
        }
        stopped_.emplace(pid, std::move(fd));
        added = true;
      }
      if (!added && pass > 0) return;
      // Accepted is not stopped: a runnable process stops only when it is
      // next scheduled, which on a loaded machine can be a while.
      auto interval = std::chrono::milliseconds(1);
      for (;;) {
        std::vector<pollfd> alive;
        bool all = true;
        for (const auto& [pid, fd] : stopped_) {
          pollfd p{fd.get(), POLLIN, 0};
          if (::poll(&p, 1, 0) == 1) continue;  // died: nothing to stop
          const char state = stateOf(pid);
          if (state == 'T' || state == 't' || state == 'Z' || state == 'X' || state == 0) continue;
          all = false;
          alive.push_back(p);
        }
        if (all) break;
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(end - Clock::now());
        if (left.count() <= 0)
          throw Error("SIGSTOP", object_ + "'s tree", "", ETIMEDOUT,
                      std::to_string(alive.size()) + " process(es) not stopped " +
                          std::to_string(kExitDeadline.count()) + " ms after SIGSTOP");
        ::poll(alive.data(), alive.size(),
               static_cast<int>(std::min(interval, left).count()));
        interval = std::min(interval * 2, std::chrono::milliseconds(16));
      }
    }
    throw Error("SIGSTOP", object_ + "'s tree", "", EAGAIN,
                "it kept forking through " + std::to_string(kFreezePasses) + " passes");
  }

  void doApply() override {
    if (spec().kind == FaultKind::kProcessKill) {
      kill();
      return;
    }
    try {
      freeze();
    } catch (...) {
      thaw();
      throw;
    }
  }
  void thaw() noexcept {
    for (const auto& [pid, fd] : stopped_) pidfdSignal(fd.get(), SIGCONT);
    stopped_.clear();
  }
  void doRevert() override {
    if (spec().kind != FaultKind::kProcessFreeze) return;  // the dead stay dead
    thaw();
  }

  std::string object_;
  UniqueFd pidfd_;  // the peer's process, as it was when the fault was made
  ino_t tree_namespace_ = 0;
  std::map<pid_t, UniqueFd> stopped_;
};

}  // namespace

std::unique_ptr<Fault> process(Topology& topology, const FaultSpec& spec) {
  return std::make_unique<ProcessFault>(topology, spec);
}

}  // namespace deadpeer::fault_kinds

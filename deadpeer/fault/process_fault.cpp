// process-kill and process-freeze: signals sent through a pidfd, so a
// recycled pid can never be hit. A kill is acknowledged when the process is
// gone (its pidfd becomes readable), which is when its kernel has closed its
// sockets; a freeze when the process has stopped (waitid WSTOPPED, for a
// child of ours; for any other process the kernel accepting SIGSTOP is all
// there is to see).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <sys/wait.h>

#include <cerrno>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "deadpeer/error.hpp"
#include "deadpeer/fault/kinds.hpp"
#include "deadpeer/fd.hpp"

namespace deadpeer::fault_kinds {
namespace {

constexpr std::chrono::milliseconds kExitDeadline{5000};

// glibc 2.36 has the pidfd wrappers, but not with C linkage in C++.
int pidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int pidfdSignal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

// Waits, up to `deadline`, until the child behind `pidfd` has stopped (or
// died). waitid() has no timeout, so it runs on a thread of its own with its
// own duplicate of the pidfd; on timeout that thread is left to finish when
// the process finally stops or dies. Returns 0, ECHILD for a process that is
// not our child, or ETIMEDOUT.
int waitStopped(int pidfd, std::chrono::milliseconds deadline) {
  auto result = std::make_shared<std::promise<int>>();
  std::future<int> done = result->get_future();
  UniqueFd own(::fcntl(pidfd, F_DUPFD_CLOEXEC, 0));
  if (!own) return errno;
  std::thread([fd = std::move(own), result] {
    siginfo_t info{};
    int err = 0;
    for (int tries = 0; tries < 16; ++tries) {
      if (::waitid(P_PIDFD, static_cast<id_t>(fd.get()), &info, WSTOPPED | WEXITED | WNOWAIT) == 0)
        break;
      err = errno;
      if (err != EINTR) break;
    }
    result->set_value(info.si_pid != 0 ? 0 : err);
  }).detach();
  if (done.wait_for(deadline) != std::future_status::ready) return ETIMEDOUT;
  return done.get();
}

class ProcessFault final : public Fault {
 public:
  ProcessFault(Topology& topology, const FaultSpec& spec) : Fault(spec) {
    const std::string object = "process " + std::to_string(spec.pid);
    pidfd_.reset(pidfdOpen(spec.pid));
    if (!pidfd_) throw Error::fromErrno("pidfd_open", object, "", errno);
    // The process must live in the host the fault names.
    struct stat st {};
    const std::string ns = "/proc/" + std::to_string(spec.pid) + "/ns/net";
    if (::stat(ns.c_str(), &st) != 0) throw Error::fromErrno("stat", ns, "", errno);
    const Host& host = topology.host(spec.host);
    if (st.st_ino != host.netns().inode())
      throw Error("validate", object, host.netns().label(), EINVAL,
                  "the process is not in this host's network namespace");
  }
  ~ProcessFault() override { revertOnDestruction(); }

 private:
  void doApply() override {
    const bool kill = spec().kind == FaultKind::kProcessKill;
    const std::string object = "process " + std::to_string(spec().pid);
    if (pidfdSignal(pidfd_.get(), kill ? SIGKILL : SIGSTOP) != 0)
      throw Error::fromErrno(kill ? "SIGKILL" : "SIGSTOP", object, "", errno);
    if (!kill) {
      // Accepted is not stopped: a runnable process stops only when it is
      // next scheduled, which on a loaded machine can be a while.
      const int err = waitStopped(pidfd_.get(), kExitDeadline);
      if (err == ETIMEDOUT)
        throw Error("SIGSTOP", object, "", ETIMEDOUT,
                    "not stopped " + std::to_string(kExitDeadline.count()) + " ms after SIGSTOP");
      return;
    }
    pollfd pfd{pidfd_.get(), POLLIN, 0};
    for (int tries = 0; tries < 16; ++tries) {
      const int n = ::poll(&pfd, 1, static_cast<int>(kExitDeadline.count()));
      if (n > 0) return;
      if (n == 0) break;
      if (errno != EINTR) throw Error::fromErrno("poll", object, "", errno);
    }
    throw Error("SIGKILL", object, "", ETIMEDOUT,
                "still alive " + std::to_string(kExitDeadline.count()) + " ms after SIGKILL");
  }
  void doRevert() override {
    if (spec().kind != FaultKind::kProcessFreeze) return;  // the dead stay dead
    if (pidfdSignal(pidfd_.get(), SIGCONT) != 0 && errno != ESRCH)
      throw Error::fromErrno("SIGCONT", "process " + std::to_string(spec().pid), "", errno);
  }

  UniqueFd pidfd_;
};

}  // namespace

std::unique_ptr<Fault> process(Topology& topology, const FaultSpec& spec) {
  return std::make_unique<ProcessFault>(topology, spec);
}

}  // namespace deadpeer::fault_kinds

// process-kill and process-freeze: signals sent through a pidfd, so a
// recycled pid can never be hit. A kill is acknowledged when the process is
// gone (its pidfd becomes readable), which is when its kernel has closed its
// sockets; a freeze when the kernel accepted SIGSTOP.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>

#include "error.hpp"
#include "fault/kinds.hpp"
#include "fd.hpp"

namespace deadpeer::fault_kinds {
namespace {

constexpr std::chrono::milliseconds kExitDeadline{5000};

// glibc 2.36 has the pidfd wrappers, but not with C linkage in C++.
int pidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }
int pidfdSignal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
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
    if (!kill) return;
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

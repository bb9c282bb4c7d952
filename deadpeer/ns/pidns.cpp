#include "deadpeer/ns/pidns.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/sched.h>  // struct clone_args
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <thread>

#include "deadpeer/error.hpp"

namespace deadpeer {
namespace {

using Clock = std::chrono::steady_clock;

// The init: PID 1 of the new namespace. It runs in a child forked from a
// process that may have many threads, so it makes system calls only (no
// allocation, no locks), and it holds no descriptor of the harness but its
// end of the lifeline: a copy of a peer's pipe or of a namespace fd would
// keep them open for as long as the init lives.
[[noreturn]] void initMain(int lifeline) noexcept {
  ::prctl(PR_SET_NAME, "deadpeer-init", 0, 0, 0);
  // Handlers are the harness's code; PID 1 ignores what it does not handle.
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ::sigaction(sig, &dfl, nullptr);
  }
  if (lifeline > 0) ::syscall(SYS_close_range, 0u, static_cast<unsigned>(lifeline - 1), 0u);
  ::syscall(SYS_close_range, static_cast<unsigned>(lifeline + 1), ~0u, 0u);
  sigset_t chld;
  ::sigemptyset(&chld);
  ::sigaddset(&chld, SIGCHLD);
  ::sigprocmask(SIG_SETMASK, &chld, nullptr);
  const int sfd = ::signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sfd < 0) ::_exit(127);
  // Runs until the harness closes the lifeline (or dies) or kills us: the
  // orphans of the namespace come here and are reaped as they exit.
  for (;;) {
    pollfd fds[2] = {{lifeline, POLLIN, 0}, {sfd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) ::_exit(127);
    if (fds[0].revents != 0) ::_exit(0);  // EOF or POLLHUP: the harness is gone
    if (fds[1].revents != 0) {
      signalfd_siginfo info;
      while (::read(sfd, &info, sizeof info) > 0) {
      }
      while (::waitpid(-1, nullptr, WNOHANG) > 0) {
      }
    }
  }
}

ino_t inodeOfLink(const std::string& path) noexcept {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

}  // namespace

ino_t pidNamespaceOf(pid_t pid) noexcept {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/ns/pid", static_cast<int>(pid));
  struct stat st {};
  return ::stat(path, &st) == 0 ? st.st_ino : 0;
}

std::vector<pid_t> processesInPidNamespace(ino_t inode) {
  std::vector<pid_t> out;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) throw Error::fromErrno("opendir", "/proc", "", errno);
  // pid_max bounds /proc; this bounds a /proc that misbehaves.
  for (int entries = 0; entries < 4'194'304; ++entries) {
    const dirent* e = ::readdir(dir);
    if (e == nullptr) break;
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || pid <= 0) continue;
    if (pidNamespaceOf(static_cast<pid_t>(pid)) == inode) out.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(dir);
  return out;
}

PidNamespace::PidNamespace(std::string label) : label_(std::move(label)) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw Error::fromErrno("pipe2", "lifeline", label_, errno);
  UniqueFd read_end(fds[0]);
  lifeline_.reset(fds[1]);

  int pidfd = -1;
  clone_args args{};
  args.flags = CLONE_NEWPID | CLONE_PIDFD;
  args.pidfd = reinterpret_cast<std::uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  const long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0) throw Error::fromErrno("clone3(CLONE_NEWPID)", "PID namespace", label_, errno);
  if (pid == 0) initMain(read_end.get());
  init_ = static_cast<pid_t>(pid);
  pidfd_.reset(pidfd);
  inode_ = inodeOfLink("/proc/" + std::to_string(init_) + "/ns/pid");
  if (inode_ == 0) {
    const int err = errno;
    kill(kKillDeadline);
    throw Error::fromErrno("stat", "/proc/" + std::to_string(init_) + "/ns/pid", label_, err);
  }
}

PidNamespace::~PidNamespace() { kill(kKillDeadline); }

bool PidNamespace::alive() const noexcept {
  pollfd pfd{pidfd_.get(), POLLIN, 0};
  return pidfd_ && ::poll(&pfd, 1, 0) == 0;
}

std::vector<pid_t> PidNamespace::members() const {
  std::vector<pid_t> out = processesInPidNamespace(inode_);
  std::erase(out, init_);
  return out;
}

std::optional<std::string> PidNamespace::killedBecause() const {
  const std::lock_guard lock(mutex_);
  return killed_because_;
}

bool PidNamespace::kill(std::chrono::milliseconds deadline, std::string why) noexcept {
  const std::lock_guard lock(mutex_);
  if (reaped_ || !pidfd_) return true;
  if (!killed_because_) killed_because_ = std::move(why);
  // SIGKILL from outside the namespace reaches its init, which the kernel
  // otherwise protects.
  ::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);
  pollfd pfd{pidfd_.get(), POLLIN, 0};
  const auto end = Clock::now() + deadline;
  for (int tries = 0; tries < 64; ++tries) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(end - Clock::now()).count();
    const int n = ::poll(&pfd, 1, static_cast<int>(std::max<long>(left, 0)));
    if (n > 0) break;
    if (n == 0 || errno != EINTR) return false;
  }
  siginfo_t info{};
  if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_.get()), &info, WEXITED) !=
          0 &&
      errno != ECHILD)
    return false;
  reaped_ = true;
  lifeline_.reset();
  return true;
}

void PidNamespace::forChildren(const std::function<void()>& fn) const {
  std::exception_ptr failed;
  std::thread inside([&] {
    try {
      // A pidfd names the namespace of its process: no /proc path to race.
      if (::setns(pidfd_.get(), CLONE_NEWPID) != 0)
        throw Error::fromErrno("setns(CLONE_NEWPID)", "PID namespace", label_, errno);
      fn();
    } catch (...) {
      failed = std::current_exception();
    }
  });
  inside.join();
  if (failed) std::rethrow_exception(failed);
}

}  // namespace deadpeer

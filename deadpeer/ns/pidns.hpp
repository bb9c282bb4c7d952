// ns/pidns: the processes a host owns, held in PID namespaces.
//
// Every program the harness starts in a host (an external peer, a
// `deadpeer serve`) is started inside a PID namespace of its own, made for
// it and held by a small init process (PID 1 inside) that is a child of the
// harness. Whatever the program forks, double-forks or daemonises stays in
// that namespace: a process cannot leave its PID namespace, and orphans are
// reparented to its init, never to the machine's PID 1. When the init dies
// the kernel SIGKILLs every process left in the namespace and forbids new
// ones (kernel/pid_namespace.c, zap_pid_ns_processes; pid_namespaces(7)).
//
// The init dies in three ways: kill() (the trial ends, the host is taken
// down by a reboot, a process-kill fault on the whole tree), or the harness
// dies however it dies, SIGKILL included. For the last, the init watches a
// pipe whose only write end the harness holds (close-on-exec): when the
// harness is gone, the kernel closes it and the init sees EOF and exits.
// That is deliberately not PR_SET_PDEATHSIG, which fires when the *thread*
// that forked exits, and runner threads come and go.
//
// Why PID namespaces and not a cgroup v2 subtree: creating one needs
// CAP_SYS_ADMIN in the caller's user namespace only, so it works the same
// as root and rootless (`unshare -Urn`, the way scripts/test runs ctest for
// a non-root user), while a cgroup needs a delegated, writable subtree that
// neither an unprivileged user nor this machine's cgroup v1 layout provides.
// The namespace also gives the "tree" of a peer for free: its members are
// exactly the processes whose /proc/PID/ns/pid is the namespace.
// What it costs: the program sees itself with a small PID, and its orphans'
// init is ours (which reaps them), not the machine's.
//
// Errors: the constructor throws Error (clone3, pipe2, /proc) and leaves
// nothing behind. kill() never throws.
//
// Threading: a PidNamespace may be shared between threads; kill(),
// members(), killedBecause() and alive() are safe from any thread.
// forChildren() affects the calling thread only.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "deadpeer/fd.hpp"

namespace deadpeer {

class PidNamespace {
 public:
  // Generous: SIGKILL is prompt, but on a loaded machine the kernel's
  // teardown of a namespace with many processes can take a while.
  static constexpr std::chrono::milliseconds kKillDeadline{5000};

  // A new PID namespace, a child of the caller's, and its init. `label`
  // names it in errors: "peer \"server\" in host h2".
  explicit PidNamespace(std::string label);
  // kill(kKillDeadline). Never throws.
  ~PidNamespace();
  PidNamespace(const PidNamespace&) = delete;
  PidNamespace& operator=(const PidNamespace&) = delete;

  const std::string& label() const noexcept { return label_; }
  // The init's pid in the harness's own PID namespace.
  pid_t init() const noexcept { return init_; }
  // Inode of /proc/<init>/ns/pid: what every member's ns/pid link shows.
  ino_t inode() const noexcept { return inode_; }

  // Runs `fn` on a thread of its own whose pid_for_children is this
  // namespace, so that the processes `fn` forks are born inside, and waits
  // for it; what `fn` throws is rethrown here. A thread of its own, because
  // the kernel lets a rootless caller enter a child PID namespace but not
  // go back to its own (pidns_install needs CAP_SYS_ADMIN over the owner of
  // the target, which for the machine's namespace is the initial user
  // namespace), and a thread whose pid_for_children is not its own PID
  // namespace may not create threads (copy_process: EINVAL). Throws Error
  // if the namespace is gone (its init was killed).
  void forChildren(const std::function<void()>& fn) const;

  // Every process in the namespace except its init, as pids of the
  // harness's namespace, read from /proc (a snapshot: a member may fork or
  // exit right after). Processes whose /proc entry cannot be read are left
  // out.
  std::vector<pid_t> members() const;

  // Whether the init still runs (so the namespace accepts processes).
  bool alive() const noexcept;

  // SIGKILLs the init, so the kernel kills every member, then waits up to
  // `deadline` until the init has exited (which it does only once every
  // member is gone) and reaps it. `why` is kept for killedBecause(); it is
  // set before the signal, so whoever reaps a member sees it. Returns true
  // once the init is reaped (also when it already was). Members that are
  // children of the harness (the program a peer started) must be reaped by
  // their parent meanwhile, or the init cannot finish.
  bool kill(std::chrono::milliseconds deadline, std::string why = {}) noexcept;
  // The `why` of the first kill(), or nullopt when nobody killed it.
  std::optional<std::string> killedBecause() const;

 private:
  std::string label_;
  pid_t init_ = -1;
  ino_t inode_ = 0;
  UniqueFd pidfd_;     // of the init
  UniqueFd lifeline_;  // the write end of the init's pipe
  mutable std::mutex mutex_;
  bool reaped_ = false;
  std::optional<std::string> killed_because_;
};

// The pid namespace inode of a process (/proc/PID/ns/pid), or 0 when it is
// gone or unreadable.
ino_t pidNamespaceOf(pid_t pid) noexcept;

// Every process in the PID namespace `inode`, its init included.
std::vector<pid_t> processesInPidNamespace(ino_t inode);

}  // namespace deadpeer

// ns: anonymous network namespaces held by file descriptor.
//
// A Netns is created by unshare(CLONE_NEWNET), which moves the calling thread
// into it just long enough to open /proc/thread-self/ns/net; that descriptor
// alone keeps it alive, and the thread returns to its namespace at once. Nothing
// is named under /var/run/netns, so when the harness dies, however it dies,
// the kernel frees every namespace, link and route it made.
//
// NetnsGuard moves the *calling thread* into a namespace for one scope and
// moves it back; other threads are unaffected. Netlink, nftables and packet
// sockets opened under a guard stay bound to that namespace after the guard
// ends, so a guard is needed only to open them (and for /proc/sys).
//
// Safety: Netns::isMachineNamespace() recognises the machine's own (initial)
// namespace so that every writer can refuse it. PID 1's /proc entry may be
// unreadable even to root, so the test is the kernel's own: machine-wide
// net.core sysctls such as netdev_max_backlog are registered only in the
// initial namespace.
//
// Threading: a Netns may be shared read-only between threads; a NetnsGuard
// belongs to the thread that made it and must be destroyed on that thread.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <type_traits>
#include <utility>

#include "deadpeer/fd.hpp"

namespace deadpeer {

class Netns {
 public:
  // A new, empty network namespace (only a down `lo`). `label` names it in
  // error messages, e.g. "host h1". `inside`, if given, runs on the calling
  // thread while it is still in the new namespace (for /proc/sys writes that
  // then need no further setns); what it throws propagates, and the
  // namespace is dropped.
  static Netns create(std::string label, const std::function<void()>& inside = {});
  // The namespace the calling thread is in now.
  static Netns current(std::string label);

  Netns(Netns&&) noexcept = default;
  Netns& operator=(Netns&&) noexcept = default;

  int fd() const noexcept { return fd_.get(); }
  const std::string& label() const noexcept { return label_; }
  ino_t inode() const noexcept { return inode_; }
  // True if this is the machine's own, initial network namespace.
  bool isMachineNamespace() const noexcept { return machine_; }

 private:
  Netns(UniqueFd fd, std::string label, ino_t inode, bool machine)
      : fd_(std::move(fd)), label_(std::move(label)), inode_(inode), machine_(machine) {}

  UniqueFd fd_;
  std::string label_;
  ino_t inode_ = 0;
  bool machine_ = false;
};

// Whether the calling thread is in the machine's own, initial namespace.
bool threadInMachineNamespace() noexcept;

// Moves the calling thread into `ns` until the guard is destroyed.
class NetnsGuard {
 public:
  explicit NetnsGuard(const Netns& ns) : NetnsGuard(ns.fd(), ns.label()) {}
  // Any descriptor of a network namespace; `label` names it in errors.
  NetnsGuard(int netns_fd, const std::string& label);
  ~NetnsGuard();
  NetnsGuard(const NetnsGuard&) = delete;
  NetnsGuard& operator=(const NetnsGuard&) = delete;

 private:
  UniqueFd saved_;
};

// Runs `fn` on the calling thread inside `ns` and returns what it returns.
template <class Fn>
decltype(auto) runIn(const Netns& ns, Fn&& fn) {
  NetnsGuard guard(ns);
  return std::forward<Fn>(fn)();
}

}  // namespace deadpeer

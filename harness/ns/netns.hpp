// ns: anonymous network namespaces held by file descriptor.
//
// A Netns is created by unshare(CLONE_NEWNET) on a short-lived helper thread
// and kept alive only by the descriptor of /proc/thread-self/ns/net. Nothing
// is named under /var/run/netns, so when the harness dies, however it dies,
// the kernel frees every namespace, link and route it made.
//
// NetnsGuard moves the *calling thread* into a namespace for one scope and
// moves it back; other threads are unaffected. Netlink, nftables and packet
// sockets opened under a guard stay bound to that namespace after the guard
// ends, so a guard is needed only to open them (and for /proc/sys).
//
// Safety: the machine's own namespace is the one PID 1 lives in.
// Netns::isMachineNamespace() recognises it so that writers can refuse it.
//
// Threading: a Netns may be shared read-only between threads; a NetnsGuard
// belongs to the thread that made it and must be destroyed on that thread.
#pragma once

#include <sys/types.h>

#include <string>
#include <type_traits>
#include <utility>

#include "fd.hpp"

namespace deadpeer {

class Netns {
 public:
  // A new, empty network namespace (only a down `lo`). `label` names it in
  // error messages, e.g. "host h1".
  static Netns create(std::string label);
  // The namespace the calling thread is in now.
  static Netns current(std::string label);

  Netns(Netns&&) noexcept = default;
  Netns& operator=(Netns&&) noexcept = default;

  int fd() const noexcept { return fd_.get(); }
  const std::string& label() const noexcept { return label_; }
  ino_t inode() const noexcept { return inode_; }
  // True if this is the namespace of PID 1, the machine's own.
  bool isMachineNamespace() const noexcept;

 private:
  Netns(UniqueFd fd, std::string label, ino_t inode)
      : fd_(std::move(fd)), label_(std::move(label)), inode_(inode) {}

  UniqueFd fd_;
  std::string label_;
  ino_t inode_ = 0;
};

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

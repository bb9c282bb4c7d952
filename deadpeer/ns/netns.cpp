#include "deadpeer/ns/netns.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <exception>

#include "deadpeer/error.hpp"

namespace deadpeer {
namespace {

constexpr const char* kThreadNetns = "/proc/thread-self/ns/net";

UniqueFd openThreadNetns(const std::string& label) {
  UniqueFd fd(::open(kThreadNetns, O_RDONLY | O_CLOEXEC));
  if (!fd) throw Error::fromErrno("open", kThreadNetns, label, errno);
  return fd;
}

ino_t inodeOf(int fd, const std::string& label) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw Error::fromErrno("fstat", "netns", label, errno);
  return st.st_ino;
}

}  // namespace

bool threadInMachineNamespace() noexcept {
  return ::access("/proc/sys/net/core/netdev_max_backlog", F_OK) == 0;
}

Netns Netns::create(std::string label, const std::function<void()>& inside) {
  // unshare() moves the calling thread into the new namespace; the
  // descriptor opened there keeps it alive, and the thread goes straight
  // back where it was. No thread is spawned: that cost more than the rest.
  UniqueFd home = openThreadNetns(label);
  if (::unshare(CLONE_NEWNET) != 0)
    throw Error::fromErrno("unshare(CLONE_NEWNET)", "", label, errno);
  UniqueFd fd(::open(kThreadNetns, O_RDONLY | O_CLOEXEC));
  const int open_errno = errno;
  std::exception_ptr failure;
  if (fd && inside) {
    try {
      inside();
    } catch (...) {
      failure = std::current_exception();
    }
  }
  // As in ~NetnsGuard: a thread left in the wrong namespace would silently
  // act on it, so failing to return is fatal.
  if (::setns(home.get(), CLONE_NEWNET) != 0) std::abort();
  if (!fd) throw Error::fromErrno("open", kThreadNetns, label, open_errno);
  if (failure) std::rethrow_exception(failure);
  ino_t inode = inodeOf(fd.get(), label);
  return Netns(std::move(fd), std::move(label), inode, false);
}

Netns Netns::current(std::string label) {
  UniqueFd fd = openThreadNetns(label);
  ino_t inode = inodeOf(fd.get(), label);
  return Netns(std::move(fd), std::move(label), inode, threadInMachineNamespace());
}

NetnsGuard::NetnsGuard(int netns_fd, const std::string& label) : saved_(openThreadNetns(label)) {
  if (::setns(netns_fd, CLONE_NEWNET) != 0) throw Error::fromErrno("setns", "", label, errno);
}

NetnsGuard::~NetnsGuard() {
  // Failing to return would leave this thread working in the wrong
  // namespace, silently; that must never happen, so it is fatal.
  if (::setns(saved_.get(), CLONE_NEWNET) != 0) std::abort();
}

}  // namespace deadpeer

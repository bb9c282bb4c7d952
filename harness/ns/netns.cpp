#include "ns/netns.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <exception>
#include <thread>

#include "error.hpp"

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
  // unshare() changes the namespace of the calling thread for good, so it is
  // done on a throwaway thread; its descriptor keeps the namespace alive.
  UniqueFd fd;
  int err = 0;
  std::exception_ptr failure;
  std::thread([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      err = errno;
      return;
    }
    fd.reset(::open(kThreadNetns, O_RDONLY | O_CLOEXEC));
    if (!fd) {
      err = errno;
      return;
    }
    try {
      if (inside) inside();
    } catch (...) {
      failure = std::current_exception();
    }
  }).join();
  if (err != 0) throw Error::fromErrno("unshare(CLONE_NEWNET)", "", label, err);
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

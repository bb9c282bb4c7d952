#include "private_netns_dir.hpp"

#include "deadpeer/privilege.hpp"

#include <dirent.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>

namespace deadpeer::bench {
namespace {

std::string& unavailable() {
  static std::string reason = "the private mount namespace was not entered";
  return reason;
}

std::string failed(const std::string& step, int err) { return step + ": " + std::strerror(err); }

// Where iproute2 keeps named namespaces: /var/run/netns, compiled in, and
// /var/run is normally a symlink to /run.
std::string netnsDir() {
  char real[PATH_MAX];
  if (::realpath("/var/run", real) == nullptr) return "/run/netns";
  return std::string(real) + "/netns";
}

std::string mountTmpfs(const std::string& dir) {
  if (::mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755") != 0)
    return failed("mount tmpfs on " + dir, errno);
  return {};
}

// "" on success, else the step that failed.
std::string isolate() {
  if (const int n = processThreadCount(); n != 1)
    return "unshare(CLONE_NEWNS) must run before any thread starts (found " + std::to_string(n) +
           " threads)";
  if (::unshare(CLONE_NEWNS) != 0) return failed("unshare(CLONE_NEWNS)", errno);
  // Until every mount is private, nothing may be mounted: it would propagate
  // to the machine's mount namespace.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return failed("mount --make-rprivate /", errno);

  const std::string dir = netnsDir();
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    // Made in the machine's /run, the directory would outlive this process
    // (and an ordinary user may not make it): a tmpfs on the parent, seen by
    // this process alone, holds it instead.
    const std::string parent = dir.substr(0, dir.rfind('/'));
    if (std::string why = mountTmpfs(parent); !why.empty()) return why;
    if (::mkdir(dir.c_str(), 0755) != 0) return failed("mkdir " + dir, errno);
  }
  return mountTmpfs(dir);
}

}  // namespace

void enterPrivateNetnsDir() noexcept {
  try {
    unavailable() = isolate();
  } catch (...) {
    unavailable() = "out of memory";
  }
}

const std::string& privateNetnsDirUnavailable() noexcept { return unavailable(); }

}  // namespace deadpeer::bench

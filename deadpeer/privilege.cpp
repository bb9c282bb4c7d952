#include "deadpeer/privilege.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "deadpeer/error.hpp"
#include "deadpeer/fd.hpp"

namespace deadpeer {
namespace {

void writeProcFile(const char* path, const std::string& text) {
  UniqueFd fd(::open(path, O_WRONLY | O_CLOEXEC));
  if (!fd) throw Error::fromErrno("open", path, "user namespace", errno);
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    throw Error::fromErrno("write", std::string(path) + " = " + text, "user namespace", errno);
}

// Written only by enterPrivateNamespaces(), which runs before any thread
// starts; read afterwards by any thread.
PrivilegeStep& recordedStep() {
  static PrivilegeStep step;
  return step;
}

Privilege enter() {
  if (::geteuid() == 0) return {PrivilegeMode::kRoot, "root"};

  // CLONE_NEWUSER is refused to a multithreaded process; say so plainly
  // rather than letting unshare() fail with a bare EINVAL.
  if (int n = processThreadCount(); n != 1)
    throw Error("unshare(CLONE_NEWUSER)", "", "this process", EINVAL,
                "must run before any thread starts (found " + std::to_string(n) + " threads)");

  const uid_t uid = ::geteuid();
  const gid_t gid = ::getegid();
  if (::unshare(CLONE_NEWUSER | CLONE_NEWNET) != 0)
    throw Error::fromErrno("unshare(CLONE_NEWUSER|CLONE_NEWNET)", "", "this process", errno);
  writeProcFile("/proc/self/setgroups", "deny");
  writeProcFile("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1");
  writeProcFile("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1");
  return {PrivilegeMode::kUserNamespace,
          "user namespace (uid " + std::to_string(uid) + " mapped to root)"};
}

}  // namespace

int processThreadCount() {
  DIR* dir = ::opendir("/proc/self/task");
  if (dir == nullptr) return -1;
  int n = 0;
  while (dirent* e = ::readdir(dir))
    if (e->d_name[0] != '.') ++n;
  ::closedir(dir);
  return n;
}

Privilege enterPrivateNamespaces() {
  PrivilegeStep& step = recordedStep();
  step.attempted = true;
  try {
    step.privilege = enter();
    step.error.clear();
    return *step.privilege;
  } catch (const Error& e) {
    step.error = e.what();
    throw;
  }
}

PrivilegeStep privilegeStep() { return recordedStep(); }

}  // namespace deadpeer

#include "deadpeer/ns/sysctl.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "deadpeer/error.hpp"

namespace deadpeer {
namespace {

std::string pathOf(const std::string& where, std::string_view key) {
  std::string rel(key);
  if (rel.find('/') == std::string::npos) std::replace(rel.begin(), rel.end(), '.', '/');
  if (rel.rfind("net/", 0) != 0 || rel.find("..") != std::string::npos)
    throw Error("sysctl", std::string(key), where, EINVAL, "only net.* sysctls are per namespace");
  return "/proc/sys/" + rel;
}

}  // namespace

std::string readSysctl(const Netns& ns, std::string_view key) {
  const std::string path = pathOf(ns.label(), key);
  UniqueFd fd = runIn(ns, [&] { return UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC)); });
  if (!fd) throw Error::fromErrno("read sysctl", std::string(key), ns.label(), errno);
  std::string value;
  char buf[512];
  for (int reads = 0; reads < 64; ++reads) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw Error::fromErrno("read sysctl", std::string(key), ns.label(), errno);
    if (n == 0) break;
    value.append(buf, static_cast<size_t>(n));
  }
  while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) value.pop_back();
  return value;
}

void writeSysctl(const Netns& ns, std::string_view key, std::string_view value) {
  runIn(ns, [&] { writeSysctlHere(key, value, ns.label()); });
}

void writeSysctlHere(std::string_view key, std::string_view value, const std::string& where) {
  const std::string path = pathOf(where, key);
  if (threadInMachineNamespace())
    throw Error("write sysctl", std::string(key), where, EPERM,
                "refusing to modify the machine's own network namespace");
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) throw Error::fromErrno("write sysctl", std::string(key), where, errno);
  std::string line(value);
  line += '\n';
  if (::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()))
    throw Error::fromErrno("write sysctl", std::string(key) + "=" + std::string(value), where,
                           errno);
}

}  // namespace deadpeer

#include "deadpeer/limits.hpp"

#include <sys/resource.h>

namespace deadpeer {

OpenFileLimit openFileLimit() noexcept {
  rlimit l{};
  if (::getrlimit(RLIMIT_NOFILE, &l) != 0) return {};
  return {static_cast<std::uint64_t>(l.rlim_cur), static_cast<std::uint64_t>(l.rlim_max)};
}

OpenFileLimit raiseOpenFileLimit() noexcept {
  rlimit l{};
  if (::getrlimit(RLIMIT_NOFILE, &l) == 0 && l.rlim_cur < l.rlim_max) {
    // RLIM_INFINITY as a hard limit is refused as a soft one above
    // fs.nr_open; that maximum is then the highest the soft limit can go.
    rlimit want = l;
    want.rlim_cur = l.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &want) != 0 && l.rlim_max == RLIM_INFINITY) {
      want.rlim_cur = 1 << 20;  // fs.nr_open's default
      ::setrlimit(RLIMIT_NOFILE, &want);
    }
  }
  return openFileLimit();
}

}  // namespace deadpeer

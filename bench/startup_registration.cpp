#include "startup_registration.hpp"

#include <vector>

namespace deadpeer::bench {
namespace {

std::vector<void (*)()>& declared() {
  static std::vector<void (*)()> functions;  // built before main(), read in it
  return functions;
}

}  // namespace

bool registerAtStartup(void (*fn)()) {
  declared().push_back(fn);
  return true;
}

void runStartupRegistrations() noexcept {
  for (auto* fn : declared()) fn();
}

}  // namespace deadpeer::bench

// RunInfo: the facts of the machine a run measured.
#include <sys/utsname.h>
#include <unistd.h>

#include <ctime>

#include "deadpeer/oracle/oracle.hpp"
#include "deadpeer/report/report.hpp"

#include "deadpeer/version.hpp"

namespace deadpeer {

RunInfo RunInfo::collect(std::vector<std::string> command) {
  RunInfo info;
  info.version = versionText();  // "0.1.0 (git abc1234)"
  info.started = std::chrono::system_clock::now();
  info.command = std::move(command);
  if (utsname u{}; uname(&u) == 0) info.kernel = std::string(u.release) + " " + u.version;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0) info.host = host;
  try {
    info.hz = TimerWheel::probe().hz();
  } catch (const std::exception&) {
    info.hz = 0;  // no namespace to probe in: unknown, said as 0
  }
  return info;
}

std::string utcTimestamp(std::chrono::system_clock::time_point t) {
  if (t == std::chrono::system_clock::time_point{}) return "";
  const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &utc);
  return buffer;
}

}  // namespace deadpeer

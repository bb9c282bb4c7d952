#include "deadpeer/oracle/app_rule.hpp"

#include <time.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include "deadpeer/error.hpp"

namespace deadpeer {

namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

std::string ms(milliseconds d) { return describeDuration(d); }

Error bad(const AppRule& rule, std::string_view key, std::string message) {
  return Error("validate", "rule " + std::string(appRuleKindInfo(rule.kind).name) + "." +
                               std::string(key),
               "", EINVAL, std::move(message));
}

// CLOCK_BOOTTIME - CLOCK_MONOTONIC now: what ssh's monotime() adds to the
// clock deadpeer stamps events on (they differ by the time spent suspended).
nanoseconds bootOffset() {
  timespec mono{}, boot{};
  ::clock_gettime(CLOCK_MONOTONIC, &mono);
  ::clock_gettime(CLOCK_BOOTTIME, &boot);
  return seconds(boot.tv_sec - mono.tv_sec) + nanoseconds(boot.tv_nsec - mono.tv_nsec);
}

// `t` rounded down to a whole second of CLOCK_BOOTTIME, as ssh's monotime().
Clock::time_point floorBootSecond(Clock::time_point t, nanoseconds offset) {
  const nanoseconds boot = t.time_since_epoch() + offset;
  const nanoseconds floored = duration_cast<seconds>(boot);
  return Clock::time_point(duration_cast<Clock::duration>(floored - offset));
}

}  // namespace

const std::vector<AppRuleKindInfo>& appRuleKinds() {
  static const std::vector<AppRuleKindInfo> table = {
      {AppRuleKind::kHeartbeat, "heartbeat", {"idle", "interval", "count"},
       "N unanswered heartbeats at interval I after idle T: T + N x I after the last activity"},
      {AppRuleKind::kOpenSsh, "openssh", {"interval", "count_max"},
       "OpenSSH ServerAliveInterval / ServerAliveCountMax: checks re-armed by every read on "
       "whole seconds of CLOCK_BOOTTIME; exits at the check after count_max unanswered ones"},
      {AppRuleKind::kGrpcKeepalive, "grpc-keepalive", {"time", "timeout"},
       "gRPC keepalive: a PING `time` after the last activity, failure when no ACK comes within "
       "`timeout`"},
  };
  return table;
}

const AppRuleKindInfo& appRuleKindInfo(AppRuleKind kind) {
  const auto& table = appRuleKinds();
  return *std::find_if(table.begin(), table.end(),
                       [&](const AppRuleKindInfo& i) { return i.kind == kind; });
}

void AppRule::validate() const {
  switch (kind) {
    case AppRuleKind::kHeartbeat:
      if (idle < milliseconds(0)) throw bad(*this, "idle", "must not be negative");
      if (interval < milliseconds(1)) throw bad(*this, "interval", "must be at least 1ms");
      if (count < 1) throw bad(*this, "count", "must be at least 1, got " + std::to_string(count));
      return;
    case AppRuleKind::kOpenSsh:
      // ssh_config(5): both are integers, the interval in seconds; 0 turns
      // the checks off, which is no rule.
      if (interval < seconds(1) || interval.count() % 1000 != 0)
        throw bad(*this, "interval",
                  "must be whole seconds, at least 1s: ServerAliveInterval is counted in seconds, "
                  "got " + std::to_string(interval.count()) + "ms");
      if (count < 0) throw bad(*this, "count_max", "must not be negative");
      return;
    case AppRuleKind::kGrpcKeepalive:
      if (idle < milliseconds(1)) throw bad(*this, "time", "must be at least 1ms");
      if (timeout < milliseconds(1)) throw bad(*this, "timeout", "must be at least 1ms");
      return;
  }
}

std::string AppRule::str() const {
  switch (kind) {
    case AppRuleKind::kHeartbeat:
      return "heartbeat: idle " + ms(idle) + ", interval " + ms(interval) + ", count " +
             std::to_string(count);
    case AppRuleKind::kOpenSsh:
      return "openssh: ServerAliveInterval " + ms(interval) + ", ServerAliveCountMax " +
             std::to_string(count);
    case AppRuleKind::kGrpcKeepalive:
      return "grpc-keepalive: keepalive time " + ms(idle) + ", keepalive timeout " + ms(timeout);
  }
  return {};
}

DetectionWindow predictAppRule(const AppRule& rule, Clock::time_point last_received) {
  rule.validate();
  DetectionWindow w;
  w.anchor = last_received;
  w.anchor_name = "the last received segment with payload";
  w.detector = Detector::kExternal;
  // The rule's heartbeats are the program's own messages, not the TCP
  // keepalive probes the judge counts on the wire: no probe count.
  w.reasoning.push_back("declared rule " + rule.str() + ".");
  Clock::time_point nominal_at{};
  switch (rule.kind) {
    case AppRuleKind::kHeartbeat:
      w.nominal = rule.idle + rule.count * rule.interval;
      nominal_at = last_received + w.nominal;
      w.reasoning.push_back("the first heartbeat " + ms(rule.idle) + " after the last activity, " +
                            std::to_string(rule.count) + " unanswered, " + ms(rule.interval) +
                            " apart: gives up " + describeDuration(w.nominal) + " after it.");
      // A chain of count + 1 timers, each re-armed when the one before fires:
      // each can wake late.
      w.earliest = nominal_at;
      w.latest = nominal_at + (rule.count + 1) * kProgramAllowance;
      break;
    case AppRuleKind::kOpenSsh: {
      const nanoseconds offset = bootOffset();
      // The read that re-arms the check follows the segment by microseconds;
      // 5 ms more covers a late reader crossing a second boundary.
      const Clock::time_point first = floorBootSecond(last_received, offset);
      const Clock::time_point last = floorBootSecond(last_received + milliseconds(5), offset);
      const auto span = (rule.count + 1) * rule.interval;
      w.nominal = (first - last_received) + span;
      w.earliest = first + span;
      w.latest = last + span + kProgramAllowance;
      w.reasoning.push_back(
          "ssh re-arms its check at every read, at CLOCK_BOOTTIME's whole second + " +
          ms(rule.interval) + ": the last read fell " +
          describeDuration(last_received - first) + " into its second.");
      w.reasoning.push_back("each check finds the previous keepalive unanswered; the check after " +
                            std::to_string(rule.count) + " unanswered ones (check " +
                            std::to_string(rule.count + 1) + ") exits: " +
                            std::to_string(rule.count + 1) + " x " + ms(rule.interval) +
                            " after that second = " + describeDuration(w.earliest - last_received) +
                            " after the last read.");
      break;
    }
    case AppRuleKind::kGrpcKeepalive:
      w.nominal = rule.idle + rule.timeout;
      nominal_at = last_received + w.nominal;
      w.reasoning.push_back("a PING " + ms(rule.idle) + " after the last activity, no ACK within " +
                            ms(rule.timeout) + ": the transport closes " +
                            describeDuration(w.nominal) + " after it.");
      // Two timers in a chain: the keepalive timer sends the PING and arms
      // the watchdog; each can wake late.
      w.earliest = nominal_at;
      w.latest = nominal_at + 2 * kProgramAllowance;
      break;
  }
  w.reasoning.push_back("window " + describeDuration(w.earliest - last_received) + " to " +
                        describeDuration(w.latest - last_received) +
                        " after the last activity (the program's wake-up and reaction: up to " +
                        ms(kProgramAllowance) + " per timer in the chain; ssh's whole-second "
                        "deadlines absorb a late check, so it has one).");
  return w;
}

}  // namespace deadpeer

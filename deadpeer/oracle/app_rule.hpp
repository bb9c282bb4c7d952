// oracle/app_rule: a program's own liveness rule, declared in its scenario
// file, and the window it predicts from the connection's last activity.
//
// A program whose detector is not the kernel (ssh's ServerAlive checks, a
// gRPC channel's keepalive PINGs) cannot be read from its socket; its file
// declares the rule instead, and the oracle predicts it from the last
// segment with payload the program's host received on the connection (the
// capture's view: a program re-arms its timers when it reads, and a bare ACK
// wakes no reader). Each kind below says what it models and how it was
// validated against the real program:
//
//   heartbeat       N unanswered heartbeats at interval I after idle T: the
//                   first heartbeat goes out T after the last activity, one
//                   every I after it, and the program gives up I after the
//                   N-th: T + N x I after the last activity.
//   openssh         ServerAliveInterval I / ServerAliveCountMax N
//                   (clientloop.c): every read re-arms the check at
//                   monotime() + I, where monotime() is CLOCK_BOOTTIME in
//                   whole seconds, so checks are anchored to the last
//                   received packet, rounded down to its second; each check
//                   counts one unanswered keepalive and sends another, and the
//                   check that finds more than N unanswered ends ssh (exit 255,
//                   "Timeout, server ... not responding."): N + 1 intervals
//                   after the last packet's whole second.
//   grpc-keepalive  GRPC_ARG_KEEPALIVE_TIME_MS / _TIMEOUT_MS (chttp2): a PING
//                   `time` after the last PING ACK, and the transport closes
//                   when no ACK comes within `timeout`: time + timeout after
//                   the last activity.
//
// Threading: plain values and pure functions (predictAppRule reads the
// clocks).
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "deadpeer/oracle/oracle.hpp"

namespace deadpeer {

enum class AppRuleKind { kHeartbeat, kOpenSsh, kGrpcKeepalive };

struct AppRule {
  AppRuleKind kind = AppRuleKind::kHeartbeat;
  // heartbeat: idle T, interval I, count N.
  // openssh: interval = ServerAliveInterval (whole seconds), count =
  //          ServerAliveCountMax.
  // grpc-keepalive: idle = keepalive time, timeout = keepalive timeout.
  std::chrono::milliseconds idle{0};
  std::chrono::milliseconds interval{0};
  std::chrono::milliseconds timeout{0};
  int count = 0;

  // Throws Error (EINVAL) naming the first bad field by its file key.
  void validate() const;
  // "openssh: ServerAliveInterval 1 s, ServerAliveCountMax 3"
  std::string str() const;
};

// One row per kind: its name in files, the keys a file gives it (all
// required), and what it models. The scenario parser, the schema and the
// docs read this table.
struct AppRuleKindInfo {
  AppRuleKind kind;
  std::string_view name;
  std::vector<std::string_view> keys;
  std::string_view models;
};
const std::vector<AppRuleKindInfo>& appRuleKinds();
const AppRuleKindInfo& appRuleKindInfo(AppRuleKind kind);

// How late a program acts on its timer, or on the kernel's error, and
// deadpeer sees it: the program's wake-up from poll/epoll (an hrtimer, no
// wheel slack), its reaction (a log line, an exit) and deadpeer's reader.
// A rule whose timers re-arm one another (heartbeat: count + 1 timers;
// grpc-keepalive: the keepalive timer, then the watchdog) allows this once
// per timer; ssh's deadlines are whole seconds, which absorb a late check.
// Measured on this project's 2-core machine under other builds, 10 trials
// per program and family: ssh's exit 0-49 ms after its whole-second
// deadline, the gRPC client's "failed" line 0-32 ms after time + timeout,
// and curl, psql, socat and redis-server 1-48 ms after their kernel's abort
// RST (once 287 ms, with the machine saturated).
inline constexpr std::chrono::milliseconds kProgramAllowance{60};

// The window of `rule` for a connection whose last activity (last received
// segment with payload) was at `last_received`.
DetectionWindow predictAppRule(const AppRule& rule,
                               std::chrono::steady_clock::time_point last_received);

}  // namespace deadpeer

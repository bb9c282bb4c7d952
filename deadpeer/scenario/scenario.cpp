// The model's own functions: diagnostics, labels, names of kinds, and the
// duration syntax. Reading a file is scenario/parse/.
#include "deadpeer/scenario/scenario.hpp"

#include <algorithm>
#include <cerrno>

#include "deadpeer/error.hpp"
#include "deadpeer/scenario/parse/names.hpp"
#include "deadpeer/text.hpp"

namespace deadpeer {

// Every part may echo the file's bytes or its name: a terminal must not act
// on them.
std::string Diagnostic::str() const {
  std::string text = printable(file.string());
  if (mark.line > 0) text += ":" + std::to_string(mark.line) + ":" + std::to_string(mark.column);
  text += ": ";
  if (!field.empty()) text += printable(field) + ": ";
  return text + printable(message);
}

namespace {
std::string describeAll(const std::vector<Diagnostic>& diagnostics) {
  std::string text;
  for (const auto& d : diagnostics) text += (text.empty() ? "" : "\n") + d.str();
  return text.empty() ? "invalid scenario" : text;
}
}  // namespace

ScenarioError::ScenarioError(std::vector<Diagnostic> diagnostics)
    : std::runtime_error(describeAll(diagnostics)), diagnostics_(std::move(diagnostics)) {}

std::string_view peerKindName(PeerKind kind) noexcept {
  for (const auto& [name, k] : parse::peerKinds())
    if (k == kind) return name;
  return "?";
}

const ScenarioPeer* Scenario::peer(std::string_view name) const noexcept {
  for (const auto& p : peers)
    if (p.name == name) return &p;
  return nullptr;
}

std::string Scenario::detectorLabel() const {
  const auto label = [](Detector d) {
    for (const auto& [name, detector] : parse::detectors())
      if (detector == d) return name;
    return std::string("none");
  };
  if (expect.detector) return label(*expect.detector);
  if (expect.watched.index >= peers.size()) return "none";
  const ScenarioPeer* p = &watched();
  switch (p->kind) {
    case PeerKind::kHeartbeatClient:
    case PeerKind::kHeartbeatServer:
      return label(Detector::kHeartbeat);
    case PeerKind::kExternal:
      return label(Detector::kExternal);
    case PeerKind::kTcpClient:
    case PeerKind::kTcpServer:
      break;
  }
  // The kernel checks only TCP_USER_TIMEOUT once it is set; otherwise data
  // in flight meets the retransmission limit before keepalive can start.
  if (p->kernel.user_timeout && p->kernel.user_timeout->count() > 0)
    return label(Detector::kUserTimeout);
  if (p->traffic.kind != TrafficMode::Kind::kIdle) return label(Detector::kRetransmission);
  if (p->kernel.keepalive) return label(Detector::kKeepalive);
  return "none";
}

std::string Scenario::faultLabel() const {
  return faults.empty() ? "none" : std::string(faultKindInfo(faults.front().spec.kind).name);
}

namespace {

struct DurationParts {
  std::string_view whole, fraction;
  long long unit = 0;  // milliseconds
};

std::optional<DurationParts> durationParts(std::string_view text) {
  // The unit in milliseconds; "ms" must be tried before "m" and "s".
  static const std::vector<std::pair<std::string_view, long long>> kUnits = {
      {"ms", 1}, {"s", 1000}, {"m", 60'000}};
  for (const auto& [suffix, unit] : kUnits) {
    if (!text.ends_with(suffix)) continue;
    const std::string_view number = text.substr(0, text.size() - suffix.size());
    const std::size_t dot = number.find('.');
    DurationParts parts{number.substr(0, dot), {}, unit};
    if (dot != std::string_view::npos) parts.fraction = number.substr(dot + 1);
    const auto digits = [](std::string_view s) {
      return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    if (parts.whole.empty() || !digits(parts.whole) || !digits(parts.fraction) ||
        (dot != std::string_view::npos && parts.fraction.empty()))
      return std::nullopt;
    return parts;
  }
  return std::nullopt;
}

}  // namespace

bool isDurationSyntax(std::string_view text) { return durationParts(text).has_value(); }

std::optional<std::chrono::milliseconds> parseDuration(std::string_view text) {
  const auto parts = durationParts(text);
  // Six decimals are microseconds of a second; anything finer is a typo.
  if (!parts || parts->fraction.size() > 6) return std::nullopt;
  // Exact arithmetic on the number x 10^decimals, stopping as soon as the
  // value passes the ceiling, so that no digit count can overflow: every
  // intermediate stays below 10^15.
  const long long ceiling = kMaxDuration.count();
  long long denominator = 1;
  for (std::size_t i = 0; i < parts->fraction.size(); ++i) denominator *= 10;
  long long scaled = 0;  // the number x denominator
  const auto add = [&](char c) {
    scaled = scaled * 10 + (c - '0');
    return scaled / denominator * parts->unit <= ceiling;
  };
  for (char c : parts->whole)
    if (!add(c)) return std::nullopt;
  for (char c : parts->fraction)
    if (!add(c)) return std::nullopt;
  // Exact: 1.5s is 1500 ms, 1.0005s is not a whole millisecond.
  if ((scaled * parts->unit) % denominator != 0) return std::nullopt;
  const long long value = scaled * parts->unit / denominator;
  if (value > ceiling) return std::nullopt;
  return std::chrono::milliseconds(value);
}

}  // namespace deadpeer

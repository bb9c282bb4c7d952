#include "deadpeer/testing/detection.hpp"

#include <netinet/in.h>
#include <string.h>

#include <cerrno>
#include <cstdio>
#include <optional>

#include "deadpeer/error.hpp"

namespace deadpeer::testing {
namespace {

constexpr std::uint8_t kSyn = 0x02;  // TCP flags byte

std::string errnoText(int error) {
  if (error == 0) return "no error";
  if (const char* name = ::strerrorname_np(error)) return name;
  return "errno " + std::to_string(error);
}

std::string seconds(Clock::duration d) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f s", std::chrono::duration<double>(d).count());
  return text;
}

std::string detectionText(const Event& e) {
  std::string text = std::string(detectorName(e.detector)) + ", " + errnoText(e.error);
  if (!e.text.empty()) text += ", \"" + e.text + "\"";
  return text;
}

std::string logText(const EventLog& log, std::string_view peer) {
  std::string text;
  std::size_t shown = 0;
  for (const Event& e : log.events()) {
    if (e.peer != peer) continue;
    if (++shown > 40) {
      text += "\n  ...";
      break;
    }
    text += "\n  " + e.str();
  }
  return text.empty() ? " (no events of " + std::string(peer) + ")" : text;
}

std::string windowText(const DetectionWindow& w) {
  return "[" + seconds(w.earliest - w.anchor) + ", " + seconds(w.latest - w.anchor) + "] after " +
         w.anchor_name;
}

std::string reasoningText(const DetectionWindow& w) {
  std::string text;
  for (const std::string& line : w.reasoning) text += "\n  oracle: " + line;
  return text;
}

std::optional<Event> waitDetection(const EventLog& log, std::string_view peer,
                                   std::chrono::milliseconds deadline) {
  return log.waitFor(
      [&](const Event& e) { return e.kind == EventKind::kDetected && e.peer == peer; },
      std::max(deadline, std::chrono::milliseconds(0)));
}

OracleInput inputFor(const Fault& fault, int family) {
  if (fault.appliedAt() == Clock::time_point{})
    throw Error("oracle window", fault.spec().str(), "", EINVAL,
                "the fault has not been applied: apply() it first");
  OracleInput in;
  in.fault = fault.spec().kind;
  in.fault_at = fault.appliedAt();
  in.fault_apply_latency = fault.applyLatency();
  in.fault_duration = fault.spec().duration;
  in.loss_percent = fault.spec().loss_percent;
  in.conntrack_timeout = fault.spec().conntrack_timeout;
  in.family = family;
  return in;
}

}  // namespace

KernelDetector keepaliveDetector(std::chrono::seconds idle, std::chrono::seconds interval,
                                 int count, std::chrono::milliseconds user_timeout) {
  KernelDetector k;
  k.keepalive = true;
  k.idle = idle;
  k.interval = interval;
  k.count = count;
  k.user_timeout = user_timeout;
  k.source = "socket options";
  return k;
}

DetectionWindow oracleWindow(const OracleInput& input) {
  return Oracle(TimerWheel::probe()).predict(input);
}

DetectionWindow kernelWindow(const KernelDetector& detector, const Fault& fault,
                             Clock::time_point last_received, int family, ConnectionState state,
                             Clock::time_point data_sent_at) {
  OracleInput in = inputFor(fault, family);
  in.detector = OracleInput::DetectorKind::kKernel;
  in.kernel = detector;
  in.last_received = last_received;
  in.state = state;
  in.data_sent_at = data_sent_at == Clock::time_point{} ? in.fault_at : data_sent_at;
  return oracleWindow(in);
}

DetectionWindow heartbeatWindow(const HeartbeatSettings& settings, const Fault& fault,
                                Clock::time_point last_sign_of_life, int family) {
  OracleInput in = inputFor(fault, family);
  in.detector = OracleInput::DetectorKind::kHeartbeat;
  in.heartbeat = settings;
  in.last_received = last_sign_of_life;
  return oracleWindow(in);
}

Clock::time_point lastReceived(const Capture& capture, const IpAddress& detector,
                               Clock::time_point before, bool with_payload) {
  auto counts = [&](const Packet& p) {
    return p.protocol == IPPROTO_TCP && p.destination == detector &&
           (!with_payload || p.payload > 0 || (p.flags & kSyn) != 0);
  };
  // The capture's reader thread may not have read the last packets before
  // `before` yet. Every packet the kernel stamped by then is in the ring
  // already, and the reader is prompt (immediate mode); a short wait for
  // one of them lets a starved reader catch up.
  (void)capture.waitFor([&](const Packet& p) { return counts(p) && p.at <= before; },
                        std::chrono::milliseconds(500));
  std::optional<Clock::time_point> last;
  std::size_t total = 0, to_detector = 0;
  for (const Packet& p : capture.packets()) {
    ++total;
    if (!counts(p)) continue;
    ++to_detector;
    if (p.at <= before && (!last || p.at > *last)) last = p.at;
  }
  if (!last)
    throw Error("last received segment", detector.str(), "capture on " + capture.interface(),
                ENOENT,
                std::string("no TCP segment") + (with_payload ? " with data" : "") +
                    " to this address before the fault (the capture holds " +
                    std::to_string(total) + " packets, " + std::to_string(to_detector) +
                    " of them to this address): open the capture before the connection is made");
  return *last;
}

::testing::AssertionResult detectedInWindow(const EventLog& log, std::string_view peer,
                                            const DetectionWindow& window,
                                            std::chrono::milliseconds allowance) {
  if (window.never)
    return ::testing::AssertionFailure()
           << "the oracle says nothing detects this (" << window.reason
           << "); assert notDetectedWithin instead" << reasoningText(window);
  const auto start = Clock::now();
  const Clock::time_point last = window.latest + allowance;
  const auto deadline = std::chrono::ceil<std::chrono::milliseconds>(
      last + kLateDetectionWait - start);
  const std::optional<Event> e = waitDetection(log, peer, deadline);
  const std::string waited = seconds(Clock::now() - start);
  std::string expected = "expected " + std::string(peer) + " to detect inside " +
                         windowText(window) + " (" + errnoText(window.error) + ", " +
                         std::string(detectorName(window.detector)) + ")";
  if (allowance.count() > 0)
    expected += " plus " + std::to_string(allowance.count()) + " ms for its reporting path";
  if (!e)
    return ::testing::AssertionFailure()
           << expected << "; saw no detection by " << seconds(last + kLateDetectionWait - window.anchor)
           << " after " << window.anchor_name << "; waited " << waited << reasoningText(window)
           << "\nevents:" << logText(log, peer);
  const std::string at = seconds(e->at - window.anchor);
  if (e->at < window.earliest || e->at > last)
    return ::testing::AssertionFailure()
           << expected << "; saw detection " << (e->at < window.earliest ? "too early" : "too late")
           << " at " << at << " (" << detectionText(*e) << "); waited " << waited
           << reasoningText(window) << "\nevents:" << logText(log, peer);
  return ::testing::AssertionSuccess() << peer << " detected at " << at << " after "
                                       << window.anchor_name << " (" << detectionText(*e)
                                       << "), inside " << windowText(window);
}

::testing::AssertionResult detectedWithErrno(const EventLog& log, std::string_view peer,
                                             int error, std::chrono::milliseconds deadline) {
  const auto start = Clock::now();
  const std::optional<Event> e = waitDetection(log, peer, deadline);
  const std::string waited = seconds(Clock::now() - start);
  const std::string expected = "expected " + std::string(peer) + " to detect with " +
                               errnoText(error) + " within " + seconds(deadline);
  if (!e)
    return ::testing::AssertionFailure() << expected << "; saw no detection; waited " << waited
                                         << "\nevents:" << logText(log, peer);
  if (e->error != error)
    return ::testing::AssertionFailure()
           << expected << "; saw detection with " << errnoText(e->error) << " ("
           << detectionText(*e) << ") " << seconds(e->at - start) << " after the wait began; waited "
           << waited << "\nevents:" << logText(log, peer);
  return ::testing::AssertionSuccess() << peer << " detected with " << errnoText(error) << " ("
                                       << detectionText(*e) << ")";
}

::testing::AssertionResult detectedWithExitStatus(const EventLog& log, std::string_view peer,
                                                  int status, std::chrono::milliseconds deadline) {
  const auto start = Clock::now();
  const std::optional<Event> e = waitDetection(log, peer, deadline);
  const std::string waited = seconds(Clock::now() - start);
  const std::string expected = "expected " + std::string(peer) + " to exit with status " +
                               std::to_string(status) + " within " + seconds(deadline);
  if (!e)
    return ::testing::AssertionFailure() << expected << "; saw no detection; waited " << waited
                                         << "\nevents:" << logText(log, peer);
  if (e->exit_status != status)
    return ::testing::AssertionFailure()
           << expected << "; saw detection (" << detectionText(*e) << ") "
           << seconds(e->at - start) << " after the wait began; waited " << waited
           << "\nevents:" << logText(log, peer);
  return ::testing::AssertionSuccess() << peer << " exited with status " << status << " ("
                                       << detectionText(*e) << ")";
}

::testing::AssertionResult notDetectedWithin(const EventLog& log, std::string_view peer,
                                             std::chrono::milliseconds duration) {
  const auto start = Clock::now();
  const std::optional<Event> e = waitDetection(log, peer, duration);
  const std::string waited = seconds(Clock::now() - start);
  if (e)
    return ::testing::AssertionFailure()
           << "expected no detection by " << peer << " within " << seconds(duration)
           << "; saw detection " << seconds(e->at - start) << " after the wait began ("
           << detectionText(*e) << "); waited " << waited << "\nevents:" << logText(log, peer);
  return ::testing::AssertionSuccess() << peer << " detected nothing; waited " << waited;
}

void recordDetection(EventLog& log, std::string peer, int error, Detector detector,
                     std::string text) {
  Event e;
  e.at = Clock::now();
  e.kind = EventKind::kDetected;
  e.peer = std::move(peer);
  e.detector = detector;
  e.error = error;
  e.text = std::move(text);
  log.add(std::move(e));
}

std::string familyTestName(const ::testing::TestParamInfo<int>& info) {
  return info.param == AF_INET6 ? "ipv6" : "ipv4";
}

}  // namespace deadpeer::testing

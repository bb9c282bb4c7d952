#include "deadpeer/peer/event.hpp"

#include <cstdio>
#include <cstring>
#include <string>

namespace deadpeer {

std::string_view eventKindName(EventKind kind) noexcept {
  switch (kind) {
    case EventKind::kListening: return "listening";
    case EventKind::kConnected: return "connected";
    case EventKind::kPingSent: return "ping-sent";
    case EventKind::kPingReceived: return "ping-received";
    case EventKind::kPongSent: return "pong-sent";
    case EventKind::kPongReceived: return "pong-received";
    case EventKind::kData: return "data";
    case EventKind::kClosed: return "closed";
    case EventKind::kDetected: return "detected";
    case EventKind::kOutput: return "output";
    case EventKind::kReady: return "ready";
    case EventKind::kExited: return "exited";
    case EventKind::kSuspected: return "suspected";
    case EventKind::kRestored: return "restored";
  }
  return "?";
}

std::string_view detectorName(Detector detector) noexcept {
  switch (detector) {
    case Detector::kNone: return "none";
    case Detector::kKeepalive: return "keepalive";
    case Detector::kUserTimeout: return "user_timeout";
    case Detector::kRetransmission: return "retransmission";
    case Detector::kHeartbeat: return "heartbeat";
    case Detector::kFin: return "fin";
    case Detector::kRst: return "rst";
    case Detector::kIcmp: return "icmp";
    case Detector::kExternal: return "external";
  }
  return "?";
}

std::string signalName(int signal) {
  const char* abbrev = ::sigabbrev_np(signal);
  return abbrev ? std::string("SIG") + abbrev : std::to_string(signal);
}

std::string Event::str() const {
  char stamp[32];
  std::snprintf(stamp, sizeof stamp, "%.6f",
                std::chrono::duration<double>(at.time_since_epoch()).count());
  std::string text_out = std::string(stamp) + " " + peer;
  if (connection >= 0) text_out += "#" + std::to_string(connection);
  text_out += " " + std::string(eventKindName(kind));
  if (kind == EventKind::kDetected) {
    text_out += " " + std::string(detectorName(detector));
    if (error != 0) text_out += std::string(" ") + strerrorname_np(error);
  }
  if (exit_status) text_out += " exit_status " + std::to_string(*exit_status);
  if (signal) text_out += " signal " + signalName(*signal);
  if (!text.empty()) text_out += " " + text;
  return text_out;
}

void EventLog::add(Event event) {
  {
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(event));
  }
  added_.notify_all();
}

std::vector<Event> EventLog::events() const {
  std::lock_guard lock(mutex_);
  return events_;
}

std::size_t EventLog::size() const {
  std::lock_guard lock(mutex_);
  return events_.size();
}

std::optional<Event> EventLog::waitFor(const std::function<bool(const Event&)>& match,
                                       std::chrono::milliseconds deadline,
                                       std::size_t from) const {
  std::unique_lock lock(mutex_);
  std::optional<Event> found;
  std::size_t next = from;
  added_.wait_for(lock, deadline, [&] {
    for (; next < events_.size(); ++next)
      if (match(events_[next])) {
        found = events_[next];
        return true;
      }
    return false;
  });
  return found;
}

}  // namespace deadpeer

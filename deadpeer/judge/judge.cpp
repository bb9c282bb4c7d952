#include "deadpeer/judge/judge.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>

#include "deadpeer/error.hpp"
#include "deadpeer/judge/oracle_input.hpp"
#include "deadpeer/oracle/app_rule.hpp"

namespace deadpeer {

namespace {

using Clock = TrialRecord::Clock;
using std::chrono::duration_cast;
using namespace std::chrono_literals;

// Timeline marks drawn per trial, at most.
constexpr std::size_t kMaxMarks = 4000;

Seconds toSeconds(Clock::duration d) { return duration_cast<Seconds>(d); }

std::string fmt(const char* format, double v) {
  char buf[96];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

bool isDeath(const Event& e) { return e.kind == EventKind::kDetected; }

bool judgesProgram(const ScenarioPeer& peer, const TrialRecord& record) {
  return peer.kind == PeerKind::kExternal && record.sockets && !record.sockets->empty();
}

// Per connection, the earlier of the kernel's rule (from the socket) and
// the declared one; the program reports the first of its connections to
// detect, so across connections too the earlier window wins.
DetectionWindow programWindow(const Scenario& sc, const TrialRecord& record, const Oracle& oracle,
                              Anchors& anchors) {
  const ScenarioPeer* peer = &sc.watched();
  const OracleInput base = oracleInput(sc, record.family);
  std::vector<std::string> read;
  std::optional<DetectionWindow> best;
  std::string unread;
  // Keeps the earlier of two windows, and says what the later one was.
  const auto earlier = [](std::optional<DetectionWindow>& into, DetectionWindow w) {
    const auto summary = [](const DetectionWindow& x) {
      return x.reasoning.empty() ? std::string("never") : x.reasoning.back();
    };
    if (!into) {
      into = std::move(w);
      return;
    }
    if (w.never || (!into->never && into->latest <= w.latest)) {
      const auto earliest = w.never ? into->earliest : std::min(into->earliest, w.earliest);
      into->reasoning.push_back("later, and so not the one that decides: " + summary(w));
      into->earliest = earliest;
      return;
    }
    const auto earliest = into->never ? w.earliest : std::min(into->earliest, w.earliest);
    w.reasoning.push_back("later, and so not the one that decides: " + summary(*into));
    into = std::move(w);
    into->earliest = earliest;
  };
  anchors.earliest = Clock::time_point::max();
  anchors.latest = Clock::time_point::min();
  for (const ProgramSocket& s : *record.sockets) {
    // The connection's last received segment, and the last with payload
    // (what wakes a program's reader), before the fault.
    Clock::time_point last{}, last_payload{};
    for (const auto& p : record.packets) {
      if (p.at > record.fault_at || p.protocol != IPPROTO_TCP || !(p.destination == s.local) ||
          p.destination_port != s.local_port || !(p.source == s.remote) ||
          p.source_port != s.remote_port)
        continue;
      last = std::max(last, p.at);
      if (p.payload > 0) last_payload = std::max(last_payload, p.at);
    }
    if (last == Clock::time_point{}) last = record.fault_at;
    if (last_payload == Clock::time_point{}) last_payload = last;
    anchors.earliest = std::min(anchors.earliest, last);
    anchors.latest = std::max(anchors.latest, last);
    read.push_back("read at the fault: " + s.describe() + ".");
    std::optional<DetectionWindow> connection;
    if (s.read) {
      OracleInput in = base;
      in.kernel = s.detector();
      in.fault_at = record.fault_at;
      in.last_received = last;
      in.state = s.unacked > 0 ? ConnectionState::kDataInFlight : ConnectionState::kIdle;
      in.data_sent_at = s.read_at - s.since_data_sent;
      in.fault_apply_latency = record.fault_apply_latency;
      DetectionWindow kernel = oracle.predict(in);
      if (!kernel.never) {
        // The kernel's instant is its abort; the program reports it later.
        kernel.latest += kProgramAllowance;
        kernel.reasoning.push_back(
            "the program reports the kernel's error in its own time (wake-up, error handling, "
            "exit, and deadpeer seeing it): up to " + describeDuration(kProgramAllowance) +
            " more, " + describeDuration(kernel.earliest - in.last_received) + " to " +
            describeDuration(kernel.latest - in.last_received) + " after the last received segment.");
      }
      earlier(connection, std::move(kernel));
    } else {
      unread = s.endpoints() + " (" + s.unreadable + ")";
    }
    if (peer->rule) earlier(connection, predictAppRule(*peer->rule, last_payload));
    if (connection) earlier(best, std::move(*connection));
  }
  if (!unread.empty() && sc.expect.window == Expectation::Window::kOracle && !peer->rule)
    throw Error("read socket", "peer " + sc.expect.peer, "", EPERM,
                "socket " + unread +
                    " could not be read and the file declares no rule; give the scenario an "
                    "explicit window or a rule");
  DetectionWindow w = best ? std::move(*best) : DetectionWindow{};
  if (!best) {
    w.never = true;
    w.reason = "the program holds no connection";
  }
  w.reasoning.insert(w.reasoning.begin(), read.begin(), read.end());
  return w;
}

// The earliest and latest of a set of per-connection instants.
template <class Map>
void spanOf(const Map& instants, Anchors& anchors) {
  if (instants.empty()) return;
  anchors.earliest = Clock::time_point::max();
  anchors.latest = Clock::time_point::min();
  for (const auto& [key, at] : instants) {
    anchors.earliest = std::min(anchors.earliest, at);
    anchors.latest = std::max(anchors.latest, at);
  }
}

std::string_view markKind(PacketClass cls) {
  switch (cls) {
    case PacketClass::kKeepaliveProbe:
    case PacketClass::kWindowProbe:
      return "probe";
    case PacketClass::kProbeAck:
      return "probe-ack";
    case PacketClass::kPing:
      return "ping";
    case PacketClass::kPong:
      return "pong";
    case PacketClass::kData:
      return "data";
    case PacketClass::kRst:
      return "rst";
    case PacketClass::kFin:
      return "fin";
    case PacketClass::kIcmp:
      return "icmp";
    case PacketClass::kSyn:
    case PacketClass::kAck:
    case PacketClass::kOther:
      return "";  // not drawn
  }
  return "";
}

void drawTimeline(const TrialRecord& record, TrialResult& r) {
  auto add = [&](Clock::time_point at, std::string kind, std::string text) {
    if (r.timeline.size() < kMaxMarks)
      r.timeline.push_back({toSeconds(at - record.fault_at), kind, text});
  };
  for (const auto& f : record.faults) {
    add(f.applied_at, "fault", f.text);
    if (f.reverted_at != Clock::time_point{}) add(f.reverted_at, "revert", f.text);
  }
  for (const auto& p : record.packets) {
    const std::string_view kind = markKind(p.cls);
    if (kind.empty()) continue;
    add(p.at, std::string(kind), p.str(record.fault_at));
  }
  for (const auto& d : r.detections)
    r.timeline.push_back({d.at, "detected",
                          d.peer + "#" + std::to_string(d.connection) + " " +
                              std::string(detectorName(d.detector)) + " errno " +
                              std::to_string(d.error)});
  std::sort(r.timeline.begin(), r.timeline.end(),
            [](const TimelineMark& a, const TimelineMark& b) { return a.at < b.at; });
}

// Per connection the detector either trusts or suspects the live peer; a
// death (the connection closed) is a suspicion that lasts to the end.
QualityMetrics qualityOf(const Scenario& sc, const TrialRecord& record) {
  QualityMetrics q;
  const auto end = record.fault_at + sc.expect.observe;
  q.observed = toSeconds(end - record.fault_at);
  std::map<int, Clock::time_point> since;  // connections under suspicion
  for (const auto& e : record.events) {
    if (e.peer != sc.expect.peer || e.at < record.fault_at || e.at > end) continue;
    const bool suspect = e.kind == EventKind::kSuspected || e.kind == EventKind::kDetected;
    if (suspect && !since.contains(e.connection)) {
      ++q.mistakes;
      since[e.connection] = e.at;
    } else if (e.kind == EventKind::kRestored) {
      if (auto it = since.find(e.connection); it != since.end()) {
        q.suspected += toSeconds(e.at - it->second);
        since.erase(it);
      }
    }
  }
  for (const auto& [c, at] : since) q.suspected += toSeconds(end - at);
  q.derive();
  return q;
}

}  // namespace

std::size_t expectedConnections(const ScenarioPeer& peer) {
  if (peer.isClient()) return peer.hosts.size() * static_cast<std::size_t>(peer.connections);
  if (peer.kind == PeerKind::kExternal) return 1;
  return static_cast<std::size_t>(peer.connections);
}

DetectionWindow predictWindow(const Scenario& sc, const TrialRecord& record, const Oracle& oracle,
                              Anchors& anchors) {
  const ScenarioPeer* peer = &sc.watched();
  if (judgesProgram(*peer, record)) return programWindow(sc, record, oracle, anchors);
  const Clock::time_point fault_at = record.fault_at;
  OracleInput in = oracleInput(sc, record.family);
  in.fault_at = fault_at;
  in.fault_apply_latency = record.fault_apply_latency;
  anchors.earliest = anchors.latest = fault_at;
  Clock::time_point data_sent_at = record.data_sent_at;
  if (in.detector == OracleInput::DetectorKind::kHeartbeat) {
    // The last sign of life each connection had before the fault (a PONG or
    // any byte received).
    std::map<int, Clock::time_point> alive;
    for (const auto& e : record.events) {
      if (e.peer != sc.expect.peer || e.at > fault_at) continue;
      const bool life = e.kind == EventKind::kConnected || e.kind == EventKind::kPongReceived ||
                        (!in.heartbeat.pong_only &&
                         (e.kind == EventKind::kPingReceived ||
                          (e.kind == EventKind::kData && e.text.rfind("received", 0) == 0)));
      if (life) alive[e.connection] = std::max(alive[e.connection], e.at);
    }
    spanOf(alive, anchors);
  } else if (record.watched_address) {
    // The last segment each flow received from the peer before the fault,
    // as the capture saw it.
    const IpAddress& me = *record.watched_address;
    std::map<std::uint16_t, Clock::time_point> last;
    for (const auto& p : record.packets) {
      // TCP only: an IPv6 neighbour advertisement to this host is no segment.
      if (p.at > fault_at || p.protocol != IPPROTO_TCP || !(p.destination == me)) continue;
      last[p.destination_port] = std::max(last[p.destination_port], p.at);
    }
    spanOf(last, anchors);
    if (in.state == ConnectionState::kZeroWindow) {
      // The persist timer starts with the first zero-window probe.
      for (const auto& p : record.packets)
        if (p.cls == PacketClass::kWindowProbe && p.source == me && p.at >= fault_at) {
          data_sent_at = p.at;
          break;
        }
    }
  }
  if (peer->traffic.kind == TrafficMode::Kind::kRequestResponse &&
      data_sent_at == Clock::time_point{}) {
    // The first request written after the fault is the data in flight.
    for (const auto& e : record.events)
      if (e.peer == peer->name && e.kind == EventKind::kData && e.at >= fault_at &&
          e.text.rfind("sent", 0) == 0) {
        data_sent_at = e.at;
        break;
      }
  }
  in.data_sent_at = data_sent_at != Clock::time_point{} ? data_sent_at : fault_at;
  in.last_received = anchors.earliest;
  DetectionWindow w = oracle.predict(in);
  if (!w.never && anchors.latest > anchors.earliest && w.anchor == anchors.earliest) {
    // Several connections: the union of their windows.
    in.last_received = anchors.latest;
    w.latest = oracle.predict(in).latest;
  }
  return w;
}

TrialResult judgeTrial(const Scenario& sc, const TrialRecord& record, const Oracle& oracle) {
  TrialResult r;
  r.family = record.family;
  r.fault_at = record.fault_at;
  const Clock::time_point fault_at = record.fault_at;
  const Expectation& x = sc.expect;
  const ScenarioPeer* peer = &sc.watched();
  const auto& packets = record.packets;
  const auto& events = record.events;
  auto fail = [&](std::string why) { r.failures.push_back(std::move(why)); };

  for (const auto& e : events)
    if ((e.kind == EventKind::kDetected || e.kind == EventKind::kSuspected) &&
        e.at >= record.protocol_start && e.at < record.fault_start) {
      fail("detected before the fault: " + e.str());
      break;
    }

  for (const auto& e : events)
    if (e.peer == x.peer && isDeath(e) && e.at >= record.fault_start)
      r.detections.push_back(
          {toSeconds(e.at - fault_at), e.detector, e.error, e.tcp_state, e.peer, e.connection});

  Anchors anchors;
  const bool kernel_or_heartbeat =
      peer->kind != PeerKind::kExternal || judgesProgram(*peer, record);
  if (kernel_or_heartbeat) {
    r.window = predictWindow(sc, record, oracle, anchors);
    r.last_activity = toSeconds(anchors.earliest - fault_at);
    if (!r.window.never) {
      r.window_earliest = toSeconds(r.window.earliest - fault_at);
      r.window_latest = toSeconds(r.window.latest - fault_at);
    }
  } else {
    r.window.never = true;
    r.window.reason = "external program: no kernel rule";
  }
  Seconds earliest = r.window_earliest, latest = r.window_latest;
  bool check_window = x.window == Expectation::Window::kOracle && !r.window.never;
  // Reports count every time from what the window counts from; a file's
  // explicit window counts from the fault.
  if (check_window && r.window.anchor != Clock::time_point{}) {
    r.anchor = toSeconds(r.window.anchor - fault_at);
    r.anchor_name = r.window.anchor_name;
  }
  if (record.ended != Clock::time_point{}) r.observed = toSeconds(record.ended - fault_at);
  if (x.window == Expectation::Window::kExplicit) {
    earliest = toSeconds(x.earliest);
    latest = toSeconds(x.latest);
    r.window_earliest = earliest;
    r.window_latest = latest;
    r.window.never = false;
    check_window = true;
  }

  const std::size_t want = expectedConnections(*peer);
  const bool live = x.max_false_positives.has_value();
  r.window_checked = check_window && x.detected && !live;
  r.detection_expected = x.detected && !live;
  if (live) {
    r.quality = qualityOf(sc, record);
    r.false_positives = r.quality->mistakes;
    if (r.false_positives > *x.max_false_positives)
      fail(std::to_string(r.false_positives) + " wrong suspicions of a live peer, at most " +
           std::to_string(*x.max_false_positives) + " allowed");
  } else if (!x.detected) {
    if (!r.detections.empty())
      fail("detected (" + std::string(detectorName(r.detections.front().detector)) + ", errno " +
           std::to_string(r.detections.front().error) +
           fmt(") at %.3f s", r.detections.front().at.count()) +
           " after the fault; expected no detection within " +
           fmt("%.1f s", toSeconds(*x.deadline).count()));
    if (x.window == Expectation::Window::kOracle && !r.window.never && kernel_or_heartbeat)
      fail("the oracle predicts a detection (" + r.window.reasoning.back() +
           ") but the scenario expects none");
  } else {
    if (r.detections.size() < want)
      fail(std::to_string(r.detections.size()) + " of " + std::to_string(want) +
           " connections detected the dead peer by the deadline");
    if (x.window == Expectation::Window::kOracle && r.window.never && kernel_or_heartbeat)
      fail("the oracle says never: " + r.window.reason);
    int outside = 0, wrong_detector = 0, wrong_errno = 0;
    std::string first_outside, first_detector, first_errno;
    for (const auto& d : r.detections) {
      if (check_window && (d.at < earliest || d.at > latest)) {
        if (!outside++)
          first_outside = fmt("detected %.3f s", (d.at - r.anchor).count()) + " after " +
                          r.anchor_name + ", outside the window " +
                          fmt("%.3f", (earliest - r.anchor).count()) +
                          fmt("-%.3f s", (latest - r.anchor).count());
      }
      if (x.detector && d.detector != *x.detector && !wrong_detector++)
        first_detector = "detected by " + std::string(detectorName(d.detector)) + ", expected " +
                         std::string(detectorName(*x.detector));
      // The errno: the file's, or else the oracle's.
      // A program's exit status is no errno: the oracle's errno is the
      // kernel's, which the program reports in its own way.
      const std::optional<int> want_errno =
          x.error ? x.error
                  : (x.window == Expectation::Window::kOracle && !r.window.never &&
                             peer->kind != PeerKind::kExternal
                         ? std::optional<int>(r.window.error)
                         : std::nullopt);
      if (want_errno && d.error != *want_errno && !wrong_errno++)
        first_errno = "errno " + std::to_string(d.error) + " (" + std::strerror(d.error) +
                      "), expected " + std::to_string(*want_errno) + " (" +
                      std::strerror(*want_errno) + ")";
      if (x.survives && d.tcp_state != TCP_ESTABLISHED && !wrong_errno++)
        first_errno = "the connection left ESTABLISHED (state " + std::to_string(d.tcp_state) +
                      ") although it should survive the report";
    }
    auto count = [&](int n, const std::string& first) {
      if (n) fail(first + (n > 1 ? " (and " + std::to_string(n - 1) + " more)" : ""));
    };
    count(outside, first_outside);
    count(wrong_detector, first_detector);
    count(wrong_errno, first_errno);
  }

  // The wire: probes from the detector's host between the fault and the
  // first detection, their spacing, RSTs and ICMP errors.
  const OracleInput in = oracleInput(sc, record.family);
  if (record.captured && record.watched_address) {
    const IpAddress& me = *record.watched_address;
    const Clock::time_point end =
        r.detections.empty()
            ? record.ended
            : fault_at + duration_cast<Clock::duration>(r.detections.front().at);
    const PacketClass cls = r.window.probes && in.state == ConnectionState::kZeroWindow
                                ? PacketClass::kWindowProbe
                                : PacketClass::kKeepaliveProbe;
    const Clock::time_point begin = r.window.never ? fault_at : std::min(anchors.earliest, fault_at);
    if (in.detector == OracleInput::DetectorKind::kHeartbeat) {
      // Retransmissions of a PING carry its sequence number again.
      std::set<std::uint32_t> pings;
      for (const auto& p : packets)
        if (p.cls == PacketClass::kPing && p.source == me && p.at > anchors.earliest && p.at <= end)
          pings.insert(p.seq);
      r.probes_seen = static_cast<int>(pings.size());
    } else {
      const ProbeTrain train = probesFrom(packets, me, begin, end, cls);
      r.probes_seen = train.count;
      for (const auto& s : train.spacing) r.probe_spacing.push_back(duration_cast<Seconds>(s));
    }
    if (auto rst = firstRst(packets, fault_at)) r.rst_from = rst->source.str();
    for (const auto& p : icmpErrors(packets, fault_at))
      if (r.icmp_seen.size() < 20)
        r.icmp_seen.push_back(icmpName(p.family, p.icmp_type, p.icmp_code) + " from " +
                               p.source.str());
    if (!x.rst_from.empty()) {
      const std::string want = record.rst_expected_from ? record.rst_expected_from->str() : "";
      if (!r.rst_from)
        fail("no RST on the wire after the fault; expected one from " + x.rst_from);
      else if (*r.rst_from != want)
        fail("the first RST came from " + *r.rst_from + ", expected " + x.rst_from + " (" + want +
             ")");
    }
    if (!x.icmp.empty() &&
        std::none_of(r.icmp_seen.begin(), r.icmp_seen.end(),
                     [&](const std::string& s) { return s.find(x.icmp) != std::string::npos; }))
      fail("no ICMP error matching \"" + x.icmp + "\" on the wire" +
           (r.icmp_seen.empty() ? "" : "; saw " + r.icmp_seen.front()));
    const std::size_t connections = std::max<std::size_t>(want, 1);
    if (x.probes == Expectation::Probes::kExplicit &&
        r.probes_seen != x.probe_count * static_cast<int>(connections))
      fail(std::to_string(r.probes_seen) + " probes on the wire, expected " +
           std::to_string(x.probe_count * static_cast<int>(connections)));
    if (x.probes == Expectation::Probes::kOracle && r.window.probes &&
        r.probes_seen != *r.window.probes * static_cast<int>(connections))
      fail(std::to_string(r.probes_seen) + " probes on the wire, the oracle expects " +
           std::to_string(*r.window.probes * static_cast<int>(connections)));
    if (x.probes != Expectation::Probes::kNone && connections == 1 &&
        r.window.probe_spacing.count() > 0) {
      const Seconds spacing = toSeconds(r.window.probe_spacing);
      const Seconds slack =
          toSeconds(oracle.wheel().granularity(
              duration_cast<std::chrono::microseconds>(r.window.probe_spacing))) +
          toSeconds(kSchedulingAllowance);
      for (const auto& s : r.probe_spacing)
        if (s < spacing - toSeconds(oracle.wheel().jiffy()) || s > spacing + slack) {
          fail(fmt("probe spacing %.3f s, expected ", s.count()) + fmt("%.3f s", spacing.count()) +
               fmt(" (+%.3f s)", slack.count()));
          break;
        }
    }
  }
  // The idle overhead: everything TCP on the watched link while idle.
  if (record.captured && fault_at - record.protocol_start >= 1s) {
    double bytes = 0, count = 0;
    for (const auto& p : packets)
      if (p.protocol == IPPROTO_TCP && p.at >= record.protocol_start && p.at < fault_at) {
        bytes += static_cast<double>(p.length);
        count += 1;
      }
    const double hours = toSeconds(fault_at - record.protocol_start).count() / 3600.0;
    const double connections = static_cast<double>(std::max<std::size_t>(want, 1));
    r.idle_bytes_per_hour = bytes / connections / hours;
    r.idle_packets_per_hour = count / connections / hours;
  }
  if (record.captured && record.capture_dropped > 0)
    r.failures.push_back("the capture lost " + std::to_string(record.capture_dropped) +
                          " packets; probe counts may be short");
  drawTimeline(record, r);
  r.passed = r.failures.empty();
  return r;
}

}  // namespace deadpeer

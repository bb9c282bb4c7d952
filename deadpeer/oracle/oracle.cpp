#include "deadpeer/oracle/oracle.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <string>

#include "deadpeer/error.hpp"
#include "deadpeer/ns/netns.hpp"
#include "deadpeer/ns/sysctl.hpp"

namespace deadpeer {

namespace {

using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

// The kernel's retransmission constants (include/net/tcp.h).
constexpr milliseconds kRtoMin{200};
constexpr milliseconds kRtoMax{120'000};

// The first RTO on a quiet veth: rto_min plus an srtt of microseconds,
// which usecs_to_jiffies() rounds up to one more jiffy.
nanoseconds firstRto(const TimerWheel& wheel) { return kRtoMin + wheel.jiffy(); }

// What one socket's timer (a keepalive probe and its transmission through
// veth and bridge) costs the timer softirq, so that the last of n sockets
// due at the same tick is served up to n x this late. Measured here with
// 1,000 keepalive sockets (scale/many-clients): without this term the last
// detections fell up to 27 ms past the window; at 10 us per socket they fit
// with 0-3 ms to spare; 15 us leaves room. The detections of one trial
// spread over 39-70 ms, handshakes included.
constexpr nanoseconds kSocketTimerCost{15'000};

// Timer wheel geometry (kernel/time/timer.c): LVL_BITS 6, LVL_CLK_SHIFT 3.
constexpr long kLevelSize = 64;
constexpr int kLevelShift = 3;
constexpr int kLevels = 9;

std::string fmt(const char* format, double a) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, a);
  return buf;
}

double secs(nanoseconds d) { return std::chrono::duration<double>(d).count(); }

// "2 s", "1.5 s", "250 ms": for settings, which are usually round.
std::string setting(nanoseconds d) {
  const double s = secs(d);
  if (s >= 1 && std::fabs(s - std::round(s)) < 1e-9) return fmt("%.0f s", s);
  if (s >= 1) return fmt("%g s", s);
  return fmt("%g ms", s * 1000);
}

std::string errnoName(int error) {
  switch (error) {
    case 0:
      return "no error (orderly close)";
    case ETIMEDOUT:
      return "ETIMEDOUT";
    case ECONNRESET:
      return "ECONNRESET";
    case EHOSTUNREACH:
      return "EHOSTUNREACH";
    case ENETUNREACH:
      return "ENETUNREACH";
    case EACCES:
      return "EACCES";
    case EPIPE:
      return "EPIPE";
    default:
      return "errno " + std::to_string(error);
  }
}

// The HZ candidates a kernel can be built with (CONFIG_HZ_*, plus a few
// architectures' odd ones); the probe picks the one that explains every
// readback.
constexpr int kHzCandidates[] = {24,  32,  48,  64,  100, 128,  200,  250,
                                 256, 300, 500, 512, 864, 1000, 1024, 1200};

// msecs_to_jiffies() then jiffies_to_msecs(): both round up.
long roundTrip(long ms, int hz) {
  const long jiffies = (ms * hz + 999) / 1000;
  return (jiffies * 1000 + hz - 1) / hz;
}

int probeHz() {
  constexpr long kWrites[] = {1, 7, 10};
  long readback[3] = {};
  // A private namespace: the sysctl is per namespace, so the machine's is
  // never touched.
  Netns ns = Netns::create("HZ probe");
  constexpr const char* kKey = "net.ipv4.neigh.lo.retrans_time_ms";
  for (int i = 0; i < 3; ++i) {
    writeSysctl(ns, kKey, std::to_string(kWrites[i]));
    readback[i] = std::stol(readSysctl(ns, kKey));
  }
  for (int hz : kHzCandidates) {
    bool all = true;
    for (int i = 0; i < 3; ++i) all = all && roundTrip(kWrites[i], hz) == readback[i];
    if (all) return hz;
  }
  throw Error("probe", "HZ", "", 0,
              "no HZ explains " + std::string(kKey) + " readbacks " + std::to_string(readback[0]) +
                  "/" + std::to_string(readback[1]) + "/" + std::to_string(readback[2]));
}

// Builds a window out of a chain of kernel timers.
class WindowBuilder {
 public:
  WindowBuilder(const TimerWheel& wheel, DetectionWindow& w, int connections)
      : wheel_(wheel), w_(w), connections_(std::max(connections, 1)) {}

  void anchor(Clock::time_point at, std::string name) {
    w_.anchor = at;
    w_.anchor_name = std::move(name);
  }
  // One kernel timer of `d` in the chain: it fires between one jiffy and one
  // granularity late.
  void timer(nanoseconds d) {
    nominal_ += d;
    early_ += wheel_.jiffy();
    late_ += wheel_.granularity(duration_cast<microseconds>(d));
    // Sockets whose timers share a tick are served one after another in
    // the timer softirq.
    late_ += (connections_ - 1) * kSocketTimerCost;
    ++timers_;
  }
  // A delay the kernel takes without a timer (an RTT, an RTO spread).
  void spread(nanoseconds low, nanoseconds high) {
    early_ += low;
    late_ += high;
  }
  void plain(nanoseconds d) { nominal_ += d; }

  void finish(int error, Detector detector) {
    w_.never = false;
    w_.error = error;
    w_.detector = detector;
    w_.nominal = nominal_;
    // The anchor falls anywhere inside a jiffy, the kernel counts whole
    // jiffies: the first timer may fire up to one jiffy early of the
    // anchor's exact time.
    const nanoseconds phase = timers_ > 0 ? nanoseconds(wheel_.jiffy()) : nanoseconds(0);
    w_.earliest = w_.anchor + nominal_ + early_ - phase;
    w_.latest = w_.anchor + nominal_ + late_ + kSchedulingAllowance;
  }
  int timers() const { return timers_; }
  nanoseconds lateSlack() const { return late_; }

 private:
  const TimerWheel& wheel_;
  DetectionWindow& w_;
  int connections_;
  nanoseconds nominal_{0};
  nanoseconds early_{0};
  nanoseconds late_{0};
  int timers_ = 0;
};

void never(DetectionWindow& w, std::string reason) {
  w.never = true;
  w.reason = reason;
  w.reasoning.push_back("never detected: " + std::move(reason));
}

// How the fault looks from the detector's host: the table of kinds says it
// (FaultKindInfo::signal); a proxy in front answers for a dead host.
using Silence = FaultSignal;

Silence silenceOf(const OracleInput& in) {
  if (in.behind_proxy) return Silence::kAlive;
  if (in.no_fault)
    return in.detector == OracleInput::DetectorKind::kHeartbeat ? Silence::kSilence
                                                                : Silence::kAlive;
  return faultKindInfo(in.fault).signal;
}

// The errno an ICMP error from a router's unreachable/prohibit route turns
// into (icmp_err_convert, icmpv6_err_convert).
int icmpErrno(const OracleInput& in) {
  if (in.family == AF_INET6) return in.fault == FaultKind::kProhibit ? EACCES : ENETUNREACH;
  return EHOSTUNREACH;  // host unreachable and "packet filtered" alike
}

// Whether the ICMP error reverts the RTO backoff (RFC 6069,
// tcp_ld_RTO_revert): IPv4 net/host unreachable, IPv6 no-route.
bool icmpRevertsBackoff(const OracleInput& in) { return in.fault == FaultKind::kUnreachable; }

std::string faultName(const OracleInput& in) {
  if (in.no_fault) return "no fault (a slow peer)";
  std::string name(faultKindInfo(in.fault).name);
  if (in.behind_proxy) name += " behind an L4 proxy";
  return name;
}

}  // namespace

// ---- timer wheel -------------------------------------------------------------

TimerWheel::TimerWheel(int hz) : hz_(hz) {
  if (hz <= 0)
    throw Error("timer wheel", "HZ " + std::to_string(hz), "", EINVAL, "must be positive");
}

TimerWheel TimerWheel::probe() {
  static std::once_flag once;
  static int hz = 0;
  std::call_once(once, [] { hz = probeHz(); });
  return TimerWheel(hz);
}

microseconds TimerWheel::jiffy() const noexcept { return microseconds(1'000'000 / hz_); }

microseconds TimerWheel::granularity(microseconds timeout) const noexcept {
  // msecs_to_jiffies rounds up; a timer lands in the first level whose
  // range (LVL_START(n) = 63 << 3(n-1) jiffies) still holds its delta.
  const long long jiffies = (timeout.count() * hz_ + 999'999) / 1'000'000;
  int level = 0;
  long long next_start = kLevelSize - 1;
  while (jiffies >= next_start && level < kLevels - 1) {
    ++level;
    next_start = (kLevelSize - 1) << (kLevelShift * level);
  }
  const long long granule = 1LL << (kLevelShift * level);
  return microseconds(granule * 1'000'000 / hz_);
}

microseconds packetdrillTolerance(microseconds interval) noexcept {
  return std::max(microseconds(4000), interval / 8);
}

std::string_view connectionStateName(ConnectionState state) noexcept {
  switch (state) {
    case ConnectionState::kIdle:
      return "idle";
    case ConnectionState::kDataInFlight:
      return "data in flight";
    case ConnectionState::kZeroWindow:
      return "zero window";
  }
  return "?";
}

milliseconds retries2Limit(int n) noexcept {
  // tcp_model_timeout(): linear backoff threshold ilog2(RTO_MAX / RTO_MIN) = 9.
  constexpr int kThreshold = 9;
  if (n <= kThreshold) return ((2LL << n) - 1) * kRtoMin;
  return ((2LL << kThreshold) - 1) * kRtoMin + (n - kThreshold) * kRtoMax;
}

std::string describeDuration(nanoseconds d) {
  const double s = secs(d);
  if (s >= 3600) {
    const long total = std::lround(s);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%ld s (%ld h %ld min %ld s)", total, total / 3600,
                  total / 60 % 60, total % 60);
    return buf;
  }
  if (s >= 1) return fmt("%.3f s", s);
  return fmt("%.1f ms", s * 1000);
}

// ---- the rules ---------------------------------------------------------------

namespace {

void validateKernel(const KernelDetector& k) {
  auto refuse = [](const std::string& option, const std::string& value, const std::string& range) {
    return Error("setsockopt", option + " " + value, "", EINVAL,
                 "the kernel refuses it (EINVAL): the range is " + range);
  };
  if (k.keepalive) {
    if (k.idle < seconds(1) || k.idle > seconds(32767))
      throw refuse("TCP_KEEPIDLE", std::to_string(k.idle.count()), "1..32767 s");
    if (k.interval < seconds(1) || k.interval > seconds(32767))
      throw refuse("TCP_KEEPINTVL", std::to_string(k.interval.count()), "1..32767 s");
    if (k.count < 1 || k.count > 127)
      throw refuse("TCP_KEEPCNT", std::to_string(k.count), "1..127");
  }
  if (k.user_timeout.count() < 0)
    throw refuse("TCP_USER_TIMEOUT", std::to_string(k.user_timeout.count()), ">= 0 ms");
  if (k.retries2 < 0 || k.retries2 > 255)
    throw Error("sysctl", "net.ipv4.tcp_retries2 " + std::to_string(k.retries2), "", EINVAL,
                "the kernel refuses it: the range is 0..255");
}

std::string keepaliveText(const KernelDetector& k) {
  return "keepalive " + setting(k.idle) + "/" + setting(k.interval) + "/" +
         std::to_string(k.count) + " (idle/interval/count, from " + k.source + ")";
}

// Idle connection, kernel keepalive, the peer silent: the keepalive timer
// governs. With TCP_USER_TIMEOUT the abort waits for the first timer tick
// at IDLE + k x INTVL (k >= 1) whose elapsed time reaches the UTO; CNT is
// then ignored.
void keepaliveSilent(const TimerWheel& wheel, const OracleInput& in, DetectionWindow& w,
                     const std::string& why_silent) {
  const KernelDetector& k = in.kernel;
  WindowBuilder b(wheel, w, in.connections);
  b.anchor(in.last_received, "the last received segment");
  w.reasoning.push_back(why_silent);
  w.reasoning.push_back(keepaliveText(k) + "; idle is counted from the last received segment.");
  int probes = k.count;
  Detector detector = Detector::kKeepalive;
  if (k.user_timeout.count() > 0) {
    // The abort condition is checked with the tick's true elapsed time, so
    // a tick that is nominally short of the UTO but late enough may abort:
    // the earliest window takes the first k whose latest tick reaches it.
    const auto tick = [&](int j) { return nanoseconds(k.idle) + j * nanoseconds(k.interval); };
    int j = 1;
    while (tick(j) < nanoseconds(k.user_timeout) && j < 1'000'000) ++j;
    probes = j;
    detector = Detector::kUserTimeout;
    w.reasoning.push_back("TCP_USER_TIMEOUT " + setting(k.user_timeout) +
                          " replaces the probe count: the UTO is checked only at keepalive "
                          "ticks, after at least one probe; the first tick at or past it is idle " +
                          setting(k.idle) + " + " + std::to_string(j) + " x " +
                          setting(k.interval) + " = " + describeDuration(tick(j)) + ".");
  } else {
    w.reasoning.push_back(
        "keepalive idle " + setting(k.idle) + " + " + std::to_string(k.count) + " probes x " +
        setting(k.interval) + " = " +
        describeDuration(nanoseconds(k.idle) + k.count * nanoseconds(k.interval)) +
        " after the last received segment.");
  }
  b.timer(k.idle);
  for (int i = 0; i < probes; ++i) b.timer(k.interval);
  w.probes = probes;
  w.probe_spacing = k.interval;
  b.finish(ETIMEDOUT, detector);
  w.reasoning.push_back(
      "timer wheel at HZ=" + std::to_string(wheel.hz()) + ": " + std::to_string(b.timers()) +
      " timers, each fires 1 jiffy to one level "
      "granularity late (" +
      describeDuration(wheel.granularity(duration_cast<microseconds>(k.interval))) + " for " +
      setting(k.interval) + "), up to " + describeDuration(b.lateSlack()) + " in all, plus " +
      describeDuration(kSchedulingAllowance) + " to wake the reader.");
}

// Data in flight, the peer silent (or answering with ICMP): keepalive is
// suspended and the retransmission timer governs. The first RTO
// retransmission comes after the tail-loss probe (PTO ~ RTO for one
// segment) and one RTO; the UTO, or tcp_retries2's limit, counts from it.
void retransmission(const TimerWheel& wheel, const OracleInput& in, DetectionWindow& w, bool icmp) {
  const KernelDetector& k = in.kernel;
  WindowBuilder b(wheel, w, in.connections);
  b.anchor(in.data_sent_at, "the send");
  const int error = icmp ? icmpErrno(in) : ETIMEDOUT;
  w.reasoning.push_back(
      "data is in flight: keepalive is suspended and the retransmission timer governs.");
  if (icmp)
    w.reasoning.push_back(
        "each retransmission draws an ICMP error, stored as a soft error (" + errnoName(error) +
        ") and reported when the connection times out" +
        (icmpRevertsBackoff(in) ? "; it also reverts the RTO backoff (RFC 6069)." : "."));
  // Tail-loss probe, then the first RTO retransmission, each one RTO (rto_min
  // plus a srtt far below a jiffy, rounded up to a whole jiffy) apart.
  const nanoseconds rto0 = firstRto(wheel);
  b.timer(rto0);
  b.timer(rto0);
  b.spread(nanoseconds(0), nanoseconds(wheel.jiffy()));
  w.reasoning.push_back("the tail-loss probe goes out one RTO (" + describeDuration(rto0) +
                        ": rto_min 200 ms plus the srtt, rounded up to a jiffy) after the send, "
                        "the first RTO retransmission one RTO later; the timeout counts from that "
                        "retransmission.");
  if (k.user_timeout.count() > 0) {
    // The RTO timer is clamped to the UTO's remainder, so only the last
    // timer's lateness adds up.
    b.plain(k.user_timeout);
    // The clamp converts the remainder from milliseconds to whole jiffies
    // (rounding up: one jiffy) and lands in a level of its own; the abort
    // then waits for the tick after the expiry (one more). Measured without
    // load: IPv6 (no RTO revert, the last timer ~0.8 s) at the bound's edge.
    b.spread(nanoseconds(0), wheel.granularity(duration_cast<microseconds>(
                                 std::min<milliseconds>(k.user_timeout, kRtoMax))) +
                                 2 * wheel.jiffy());
    w.reasoning.push_back(
        "TCP_USER_TIMEOUT " + setting(k.user_timeout) + " from the first retransmission: " +
        describeDuration(2 * rto0 + nanoseconds(k.user_timeout)) + " after the send.");
    b.finish(error, Detector::kUserTimeout);
    return;
  }
  const milliseconds limit = retries2Limit(k.retries2);
  // RTO expiries after the first retransmission: the abort comes at the
  // first expiry at or past the limit.
  nanoseconds elapsed{0};
  nanoseconds rto = 2 * rto0;  // the first retransmission already doubled it
  int expiries = 0;
  while (elapsed < nanoseconds(limit) && expiries < 64) {
    if (icmp && icmpRevertsBackoff(in)) rto = rto0;  // every ICMP undoes the doubling
    b.timer(rto);
    elapsed += rto;
    ++expiries;
    rto = std::min<nanoseconds>(rto * 2, kRtoMax);
  }
  w.reasoning.push_back(
      "tcp_retries2 " + std::to_string(k.retries2) + ": the limit is " + describeDuration(limit) +
      " after the first retransmission; the RTO " +
      (icmp && icmpRevertsBackoff(in) ? "stays at 200 ms" : "doubles from 400 ms") +
      " and the first expiry past the limit comes " + describeDuration(elapsed) + " after it (" +
      std::to_string(expiries) + " expiries).");
  b.finish(error, Detector::kRetransmission);
}

void kernelRules(const TimerWheel& wheel, const OracleInput& in, DetectionWindow& w) {
  const KernelDetector& k = in.kernel;
  validateKernel(k);
  const Silence silence = silenceOf(in);
  const bool in_flight = in.state == ConnectionState::kDataInFlight;

  if (in.fault == FaultKind::kFirewallForget) {
    const milliseconds ct = in.conntrack_timeout;
    if (in.flow_tracked && k.keepalive && k.idle < ct && k.interval < ct) {
      never(w, "keepalive (idle " + setting(k.idle) + ", interval " + setting(k.interval) +
                   ") refreshes the flow before the firewall's " + setting(ct) +
                   " idle timeout, so the flow is never forgotten");
      return;
    }
    w.reasoning.push_back(
        in.flow_tracked
            ? "the firewall forgets the flow " + setting(ct) +
                  " after its last packet; later "
                  "packets of it are dropped (nf_conntrack_tcp_loose 0)."
            : "the firewall never tracked this flow (it came up before the firewall) and, with "
              "nf_conntrack_tcp_loose 0, drops every later packet of it.");
  }

  switch (silence) {
    case Silence::kFin: {
      WindowBuilder b(wheel, w, in.connections);
      // Counted from the signal: the FIN can leave before apply() sees the
      // process gone.
      b.anchor(in.fault_at - in.fault_apply_latency, "the kill");
      b.spread(nanoseconds(0), in.fault_apply_latency);
      w.reasoning.push_back(
          "the process died but its kernel did not: it closes the socket and "
          "sends FIN at once (RST if unread data was queued).");
      b.finish(0, Detector::kFin);
      return;
    }
    case Silence::kReset: {
      w.reasoning.push_back(
          in.fault == FaultKind::kReboot
              ? "the peer came back without the connection's state: whatever the detector sends "
                "next is answered with RST."
              : "the peer's firewall answers every segment with RST.");
      WindowBuilder b(wheel, w, in.connections);
      if (in_flight) {
        b.anchor(in.data_sent_at, "the send");
        w.reasoning.push_back(
            "the data itself draws the RST: ECONNRESET one round trip after the send.");
        b.finish(ECONNRESET, Detector::kRst);
        return;
      }
      if (!k.keepalive) {
        never(w, "the connection is idle and keepalive is off: nothing is sent, so no RST comes");
        return;
      }
      // The first probe sent once the host is back draws the RST; probes
      // before that go unanswered.
      const auto back = in.fault_at + in.fault_duration.value_or(milliseconds(0));
      int probe = 0;
      while (in.last_received + nanoseconds(k.idle) + probe * nanoseconds(k.interval) < back &&
             probe < k.count)
        ++probe;
      if (probe >= k.count) {
        w.reasoning.push_back("the host is back only after every probe went unanswered.");
        keepaliveSilent(wheel, in, w, faultName(in) + ": the peer is down for good.");
        return;
      }
      b.anchor(in.last_received, "the last received segment");
      b.timer(k.idle);
      for (int i = 0; i < probe; ++i) b.timer(k.interval);
      w.probes = probe + 1;
      w.probe_spacing = k.interval;
      w.reasoning.push_back(
          probe == 0 ? "the first keepalive probe, idle " + setting(k.idle) +
                           " after the last received segment, finds the rebooted host and is "
                           "answered by RST: ECONNRESET."
                     : "the host is back after " + setting(*in.fault_duration) + ": probe " +
                           std::to_string(probe + 1) + ", idle " + setting(k.idle) + " + " +
                           std::to_string(probe) + " x " + setting(k.interval) +
                           " after the last received segment, is the first to draw an RST.");
      b.finish(ECONNRESET, Detector::kRst);
      return;
    }
    case Silence::kAlive: {
      if (in.fault == FaultKind::kProcessFreeze && !in.behind_proxy &&
          in.state == ConnectionState::kZeroWindow) {
        if (k.user_timeout.count() == 0) {
          never(w,
                "the frozen process's kernel answers every zero-window probe, so the persist "
                "timer probes forever; only TCP_USER_TIMEOUT ends it");
          return;
        }
        WindowBuilder b(wheel, w, in.connections);
        b.anchor(in.data_sent_at, "the first zero-window probe");
        b.plain(k.user_timeout);
        b.spread(wheel.jiffy(),
                 wheel.granularity(duration_cast<microseconds>(k.user_timeout)) + wheel.jiffy());
        w.reasoning.push_back(
            "the frozen process stopped reading; its kernel advertises a zero window and answers "
            "every window probe. Since Linux 5.11 TCP_USER_TIMEOUT " +
            setting(k.user_timeout) +
            " counts from the first zero-window probe, and the persist timer is clamped to it.");
        b.finish(ETIMEDOUT, Detector::kUserTimeout);
        return;
      }
      if (in.behind_proxy)
        never(w,
              "the detector's TCP peer is the proxy, whose kernel answers every probe and "
              "ACKs every byte; only an end-to-end heartbeat sees the server behind it");
      else if (in.fault == FaultKind::kProcessFreeze)
        never(w, "the frozen process's kernel still ACKs keepalive probes and data");
      else
        never(w, "the peer is alive (" + faultName(in) + "): any detection is a false positive");
      return;
    }
    case Silence::kSilence:
    case Silence::kIcmp:
      break;
  }

  // The peer is silent, or a router answers with ICMP.
  const bool icmp = silence == Silence::kIcmp;
  const std::string why = faultName(in) + ": nothing comes back from the peer" +
                          (icmp ? " but ICMP errors from the router" : "") + ".";
  if (in_flight || in.state == ConnectionState::kZeroWindow) {
    if (in.fault == FaultKind::kFirewallForget && in.flow_tracked &&
        in.data_sent_at < in.last_received + in.conntrack_timeout) {
      never(w, "the data is sent before the firewall's idle timeout, so it still passes");
      return;
    }
    if (icmp && k.recverr) {
      WindowBuilder b(wheel, w, in.connections);
      b.anchor(in.data_sent_at, "the send");
      b.timer(firstRto(wheel));
      w.reasoning.push_back(
          "IP_RECVERR passes an ICMP error on at once (POLLERR, " + errnoName(icmpErrno(in)) +
          ") and the connection stays ESTABLISHED. But the error for the original segment comes "
          "back while the sending thread still holds the socket (veth delivers it inside the "
          "send), and then the kernel only stores it; the first report answers the tail-loss "
          "probe, one RTO (" +
          describeDuration(firstRto(wheel)) + ") after the send.");
      b.finish(icmpErrno(in), Detector::kIcmp);
      return;
    }
    w.reasoning.insert(w.reasoning.begin(), why);
    retransmission(wheel, in, w, icmp);
    return;
  }
  if (!k.keepalive) {
    never(w, "the connection is idle and keepalive is off: a silent peer is never noticed");
    return;
  }
  std::string why_silent = why;
  if (icmp)
    why_silent +=
        " Keepalive probes carry seq = snd_una - 1, so the ICMP errors that answer them "
        "fail the in-window check and are ignored: ETIMEDOUT, not " +
        errnoName(icmpErrno(in)) + ".";
  if (in.fault == FaultKind::kFirewallForget && in.flow_tracked) {
    // The probes start once idle has run; the firewall has forgotten by then.
    why_silent += " Keepalive idle " + setting(k.idle) +
                  " is past the firewall's timeout, so the "
                  "first probe is already dropped.";
  }
  keepaliveSilent(wheel, in, w, why_silent);
}

// The heartbeat's own rule (peer/heartbeat.hpp): dead at alive + idle +
// count x interval, computed from the last sign of life in userspace.
void heartbeatRules(const TimerWheel& wheel, const OracleInput& in, DetectionWindow& w) {
  const HeartbeatSettings& h = in.heartbeat;
  h.validate();
  const Silence silence = silenceOf(in);
  WindowBuilder b(wheel, w, in.connections);
  if (silence == Silence::kFin) {
    b.anchor(in.fault_at - in.fault_apply_latency, "the kill");
    b.spread(nanoseconds(0), in.fault_apply_latency);
    w.reasoning.push_back("the process died, its kernel closes the connection: FIN at once.");
    b.finish(0, Detector::kFin);
    return;
  }
  const bool live = in.fault == FaultKind::kLoss || in.fault == FaultKind::kDelay;
  if (live && !in.behind_proxy) {
    never(w, "the peer is alive (" + faultName(in) + "): every suspicion is a false positive");
    return;
  }
  if (!h.send_pings) {
    never(w, "this side never sends PINGs, so the heartbeat never declares the peer dead");
    return;
  }
  b.anchor(in.last_received, "the last sign of life");
  const nanoseconds ping_first = nanoseconds(h.idle);
  if (silence == Silence::kReset && !in.behind_proxy) {
    // The next PING once the host is back is answered with RST.
    const auto back = in.fault_at + in.fault_duration.value_or(milliseconds(0));
    int ping = 0;
    while (in.last_received + ping_first + ping * nanoseconds(h.interval) < back && ping < h.count)
      ++ping;
    if (ping < h.count) {
      b.plain(ping_first + ping * nanoseconds(h.interval));
      w.probes = ping + 1;
      w.probe_spacing = h.interval;
      w.reasoning.push_back("heartbeat idle " + setting(h.idle) + ": PING " +
                            std::to_string(ping + 1) +
                            " is the first to reach the rebooted host, which has no such "
                            "connection and answers RST (ECONNRESET).");
      b.spread(nanoseconds(0), milliseconds(2));
      b.finish(ECONNRESET, Detector::kRst);
      return;
    }
  }
  const nanoseconds rule = ping_first + h.count * nanoseconds(h.interval);
  b.plain(rule);
  // epoll_wait's millisecond timeout rounds up by < 1 ms; the engine acts on
  // the first wake-up at or after the due time.
  b.spread(nanoseconds(0), milliseconds(2));
  w.probes = h.count;
  w.probe_spacing = h.interval;
  std::string why = silence == Silence::kAlive
                        ? (in.behind_proxy ? "the proxy relays PINGs to a dead server: no PONG "
                                             "comes back, whatever the proxy's kernel answers."
                                           : "the frozen process answers no PING, although its "
                                             "kernel still ACKs them.")
                        : faultName(in) + (in.no_fault ? ": no PONG comes back in time."
                                                       : ": no PONG comes back.");
  w.reasoning.push_back(why);
  w.reasoning.push_back("heartbeat idle " + setting(h.idle) + " + " + std::to_string(h.count) +
                        " PINGs x " + setting(h.interval) + " = " + describeDuration(rule) +
                        " after the last sign of life" +
                        (h.pong_only ? " (only a PONG counts)." : " (any byte counts)."));
  const int error = ETIMEDOUT;
  b.finish(error, Detector::kHeartbeat);
}

// A transient fault that ends before the last probe that could be answered
// leaves the connection alive.
void transient(const OracleInput& in, DetectionWindow& w) {
  if (w.never || !in.fault_duration) return;
  const Clock::time_point revert = in.fault_at + *in.fault_duration;
  // The last probe (or PING) goes out one spacing before the verdict.
  const Clock::time_point last_chance = w.earliest - w.probe_spacing;
  if (w.detector == Detector::kFin || w.detector == Detector::kRst || w.detector == Detector::kIcmp)
    return;
  if (revert < last_chance) {
    const std::string text = "the fault is reverted after " + setting(*in.fault_duration) +
                             ", before the last probe is due (" +
                             describeDuration(last_chance - in.fault_at) +
                             " after the fault), which the peer then answers";
    w = DetectionWindow{};
    never(w, text);
  }
}

}  // namespace

DetectionWindow Oracle::predict(const OracleInput& in) const {
  DetectionWindow w;
  w.reasoning.push_back("fault: " + faultName(in) + "; connection " +
                        std::string(connectionStateName(in.state)) + " at the fault.");
  if (in.detector == OracleInput::DetectorKind::kHeartbeat)
    heartbeatRules(wheel_, in, w);
  else
    kernelRules(wheel_, in, w);
  transient(in, w);
  if (!w.never) {
    const auto earliest = w.earliest - w.anchor;
    const auto latest = w.latest - w.anchor;
    w.reasoning.push_back(
        "expect " + errnoName(w.error) + " (" + std::string(detectorName(w.detector)) +
        ") between " + fmt("%.3f", secs(earliest)) + " and " + fmt("%.3f s", secs(latest)) +
        " after " + w.anchor_name + " (window " + describeDuration(w.width()) + ").");
  }
  return w;
}

}  // namespace deadpeer

#include "deadpeer/peer/heartbeat.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>

#include "deadpeer/error.hpp"

namespace deadpeer {

namespace {

constexpr char kPing = 'P';
constexpr char kPong = 'O';
constexpr char kData = 'D';
constexpr std::uint32_t kWakeSlot = 0xffffffffu;
constexpr int kMaxEvents = 512;
// Reads per readiness event: enough to drain a burst, bounded so that one
// chatty peer cannot starve the others (epoll is level-triggered, so what is
// left comes back on the next round).
constexpr int kReadsPerEvent = 8;

std::uint64_t tag(std::uint32_t slot, std::uint32_t generation) {
  return (std::uint64_t{generation} << 32) | slot;
}

Detector detectorFor(int error) {
  switch (error) {
    case ECONNRESET:
    case EPIPE:
      return Detector::kRst;
    case ETIMEDOUT:
      return Detector::kRetransmission;
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EHOSTDOWN:
    case ENETDOWN:
    case ECONNREFUSED:
    case EACCES:
    case EPERM:
      return Detector::kIcmp;
    default:
      return Detector::kExternal;
  }
}

int tcpState(int fd) {
  tcp_info info{};
  socklen_t len = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return 0;
  return info.tcpi_state;
}

Error badSetting(const std::string& field, const std::string& why) {
  return Error("validate", "heartbeat setting " + quoted("field", field), "", EINVAL, why);
}

}  // namespace

// ---- settings ---------------------------------------------------------------

void HeartbeatSettings::validate() const {
  if (idle.count() < 0) throw badSetting("idle", "must not be negative");
  if (interval.count() <= 0) throw badSetting("interval", "must be positive");
  if (count < 1) throw badSetting("count", "must be at least 1");
  if (pong_delay.count() < 0) throw badSetting("pong_delay", "must not be negative");
  if (!send_pings && pong_only)
    throw badSetting("pong_only", "needs send_pings: a side that never pings gets no PONG");
  if (!send_pings && suspect_only)
    throw badSetting("suspect_only", "needs send_pings: a side that never pings never suspects");
}

// ---- timer heap -------------------------------------------------------------

namespace {
// std::push_heap builds a max-heap; this order puts the earliest on top.
bool later(const TimerHeap::Entry& a, const TimerHeap::Entry& b) { return a.due > b.due; }
}  // namespace

void TimerHeap::push(Entry entry) {
  heap_.push_back(entry);
  std::push_heap(heap_.begin(), heap_.end(), later);
}

TimerHeap::Entry TimerHeap::pop() {
  std::pop_heap(heap_.begin(), heap_.end(), later);
  Entry entry = heap_.back();
  heap_.pop_back();
  return entry;
}

// ---- engine -----------------------------------------------------------------

struct HeartbeatEngine::Connection {
  int fd = -1;
  std::uint32_t generation = 0;
  bool open = false;
  bool want_out = false;        // EPOLLOUT armed for `out`
  std::uint8_t parse = 0;       // 0 type, 1 length high, 2 length low, 3 payload
  std::uint16_t remaining = 0;  // DATA payload bytes still to come
  int sent = 0;  // PINGs sent since `alive` (in a suspicion: PING slots passed, see fireHeartbeat)
  bool suspected = false;       // suspect-only: the deadline passed, no sign of life since
  Clock::time_point alive{};
  Clock::time_point suspected_at{};
  HeartbeatSettings settings;
  std::string name;
  std::string out;  // bytes the socket had no room for
};

HeartbeatEngine::HeartbeatEngine(EventLog& log, HeartbeatEngineOptions options)
    : log_(log), options_(options) {
  epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_) throw Error::fromErrno("epoll_create1", "heartbeat engine", "", errno);
  wake_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_) throw Error::fromErrno("eventfd", "heartbeat engine", "", errno);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeSlot;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &ev) != 0)
    throw Error::fromErrno("epoll_ctl ADD", "heartbeat eventfd", "", errno);
  try {
    thread_ = std::thread([this] { loop(); });
  } catch (const std::system_error& e) {
    throw Error("std::thread", "heartbeat engine", "", e.code().value(), e.what());
  }
  thread_handle_ = thread_.native_handle();
}

HeartbeatEngine::~HeartbeatEngine() {
  stop();
  std::lock_guard lock(mutex_);
  for (std::uint32_t slot = 0; slot < connections_.size(); ++slot)
    if (connections_[slot].open) close(slot);
}

void HeartbeatEngine::stop() noexcept {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  const std::uint64_t one = 1;
  // Cannot fail short of a counter overflow; the loop also rechecks
  // stopping_ on every wake.
  (void)!::write(wake_.get(), &one, sizeof one);
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void HeartbeatEngine::reserve(std::size_t n) {
  std::lock_guard lock(mutex_);
  connections_.reserve(n);
  heartbeats_.reserve(n);
}

std::size_t HeartbeatEngine::size() const {
  std::lock_guard lock(mutex_);
  return open_;
}

HeartbeatEngine::Stats HeartbeatEngine::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

std::chrono::nanoseconds HeartbeatEngine::threadCpuTime() const {
  std::lock_guard lock(mutex_);
  if (thread_stopped_) return final_cpu_;
  clockid_t clock;
  if (const int rc = ::pthread_getcpuclockid(thread_handle_, &clock); rc != 0)
    throw Error::fromErrno("pthread_getcpuclockid", "heartbeat engine thread", "", rc);
  timespec ts{};
  if (::clock_gettime(clock, &ts) != 0)
    throw Error::fromErrno("clock_gettime", "heartbeat engine thread", "", errno);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

HeartbeatEngine::ConnectionId HeartbeatEngine::add(int fd, std::string name,
                                                   const HeartbeatSettings& settings) {
  settings.validate();
  const std::string object = "heartbeat connection " + quoted("peer", name);
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
    throw Error::fromErrno("fcntl O_NONBLOCK", object, "", errno);
  // Each PING must leave at once as its own segment: with Nagle a PING
  // sent while the previous one is unacknowledged (the peer just died)
  // would wait for that ACK, and the wire would show fewer PINGs than the
  // rule sends. Not a TCP socket (a socketpair in tests): nothing to do.
  const int nodelay = 1;
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof nodelay);

  std::lock_guard lock(mutex_);
  const bool reused = !free_slots_.empty();
  std::uint32_t slot;
  if (reused) {
    slot = free_slots_.back();
  } else {
    if (connections_.size() >= kWakeSlot - 1)
      throw Error("add", object, "", EMFILE, "too many connections");
    slot = static_cast<std::uint32_t>(connections_.size());
    connections_.emplace_back();
    try {
      // close() pushes into free_slots_ and must not allocate, so it always
      // has room for every slot; grown geometrically, like the vector.
      if (free_slots_.capacity() < connections_.size())
        free_slots_.reserve(std::max(connections_.size(), 2 * free_slots_.capacity()));
    } catch (...) {
      connections_.pop_back();
      throw;
    }
  }
  Connection& c = connections_[slot];
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.u64 = tag(slot, c.generation);
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
    const int err = errno;
    if (!reused) connections_.pop_back();
    throw Error::fromErrno("epoll_ctl ADD", object, "", err);
  }
  if (reused) free_slots_.pop_back();
  // From here on nothing throws but the timer push (allocation); undo then.
  c.fd = fd;
  c.open = true;
  c.want_out = false;
  c.parse = 0;
  c.remaining = 0;
  c.sent = 0;
  c.suspected = false;
  c.alive = Clock::now();
  c.settings = settings;
  c.name = std::move(name);
  c.out.clear();
  try {
    if (settings.send_pings) heartbeats_.push({c.alive + settings.idle, slot, c.generation});
  } catch (...) {
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
    c.fd = -1;
    c.open = false;
    ++c.generation;
    free_slots_.push_back(slot);
    throw;
  }
  ++open_;
  const std::uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);  // recompute the wait
  return static_cast<ConnectionId>(slot);
}

bool HeartbeatEngine::remove(ConnectionId id) {
  std::lock_guard lock(mutex_);
  if (id < 0 || static_cast<std::size_t>(id) >= connections_.size()) return false;
  const auto slot = static_cast<std::uint32_t>(id);
  Connection& c = connections_[slot];
  if (!c.open) return false;
  record(c, slot, EventKind::kClosed, Clock::now());
  close(slot);
  return true;
}

bool HeartbeatEngine::sendData(ConnectionId id, std::string_view payload) {
  if (payload.size() > 0xffff)
    throw Error("sendData", "heartbeat connection #" + std::to_string(id), "", EMSGSIZE,
                "payload of " + std::to_string(payload.size()) + " bytes exceeds 65535");
  std::lock_guard lock(mutex_);
  if (id < 0 || static_cast<std::size_t>(id) >= connections_.size()) return false;
  const auto slot = static_cast<std::uint32_t>(id);
  Connection& c = connections_[slot];
  if (!c.open) return false;
  std::string frame;
  frame.reserve(3 + payload.size());
  frame += kData;
  frame += static_cast<char>(payload.size() >> 8);
  frame += static_cast<char>(payload.size() & 0xff);
  frame += payload;
  return write(c, slot, frame, Clock::now());
}

HeartbeatEngine::Connection* HeartbeatEngine::live(std::uint32_t slot, std::uint32_t generation) {
  if (slot >= connections_.size()) return nullptr;
  Connection& c = connections_[slot];
  return c.open && c.generation == generation ? &c : nullptr;
}

Event HeartbeatEngine::eventOf(const Connection& c, std::uint32_t slot, EventKind kind,
                               Clock::time_point at) {
  Event e;
  e.at = at;
  e.kind = kind;
  e.peer = c.name;
  e.connection = static_cast<int>(slot);
  return e;
}

void HeartbeatEngine::record(const Connection& c, std::uint32_t slot, EventKind kind,
                             Clock::time_point at) {
  log_.add(eventOf(c, slot, kind, at));
}

void HeartbeatEngine::close(std::uint32_t slot) noexcept {
  Connection& c = connections_[slot];
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, c.fd, nullptr);
  ::close(c.fd);
  c.fd = -1;
  c.open = false;
  ++c.generation;  // stale timers and epoll events now miss
  std::string().swap(c.out);
  free_slots_.push_back(slot);  // within the capacity add() reserved
  --open_;
}

void HeartbeatEngine::declareDead(std::uint32_t slot, Detector detector, int error,
                                  std::string text, Clock::time_point now) {
  Connection& c = connections_[slot];
  Event e = eventOf(c, slot, EventKind::kDetected, now);
  e.detector = detector;
  e.error = error;
  e.tcp_state = tcpState(c.fd);
  e.text = std::move(text);
  ++stats_.detected;
  close(slot);
  log_.add(std::move(e));
}

bool HeartbeatEngine::write(Connection& c, std::uint32_t slot, std::string_view bytes,
                            Clock::time_point now) {
  if (!c.out.empty()) {
    c.out.append(bytes);
    return true;
  }
  const ssize_t n = ::send(c.fd, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    const int err = errno;
    declareDead(slot, detectorFor(err), err, "send", now);
    return false;
  }
  const std::size_t done = n > 0 ? static_cast<std::size_t>(n) : 0;
  if (done == bytes.size()) return true;
  c.out.assign(bytes.substr(done));
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | EPOLLOUT;
  ev.data.u64 = tag(slot, c.generation);
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd, &ev) == 0) c.want_out = true;
  return true;
}

void HeartbeatEngine::flush(Connection& c, std::uint32_t slot, Clock::time_point now) {
  if (c.out.empty()) return;
  const ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    const int err = errno;
    declareDead(slot, detectorFor(err), err, "send", now);
    return;
  }
  c.out.erase(0, static_cast<std::size_t>(n));
  if (c.out.empty() && c.want_out) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = tag(slot, c.generation);
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.fd, &ev) == 0) c.want_out = false;
  }
}

void HeartbeatEngine::readFrames(Connection& c, std::uint32_t slot, Clock::time_point now) {
  char buf[4096];
  for (int round = 0; round < kReadsPerEvent; ++round) {
    const ssize_t n = ::recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) {
      declareDead(slot, Detector::kFin, 0, "end of stream", now);
      return;
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      const int err = errno;
      declareDead(slot, detectorFor(err), err, "recv", now);
      return;
    }
    bool pong = false;
    int pongs_now = 0;  // immediate PONGs to answer, sent as one write
    for (ssize_t i = 0; i < n; ++i) {
      const auto byte = static_cast<unsigned char>(buf[i]);
      switch (c.parse) {
        case 0:
          if (byte == kPing) {
            ++stats_.pings_received;
            if (options_.record_pings) record(c, slot, EventKind::kPingReceived, now);
            if (c.settings.answer_pings) {
              if (c.settings.pong_delay.count() == 0)
                ++pongs_now;
              else
                pongs_.push({now + c.settings.pong_delay, slot, c.generation});
            }
          } else if (byte == kPong) {
            pong = true;
            ++stats_.pongs_received;
            if (options_.record_pings) record(c, slot, EventKind::kPongReceived, now);
          } else if (byte == kData) {
            c.parse = 1;
          } else {
            declareDead(slot, Detector::kExternal, EPROTO,
                        "unknown frame type " + std::to_string(byte), now);
            return;
          }
          break;
        case 1:
          c.remaining = static_cast<std::uint16_t>(byte << 8);
          c.parse = 2;
          break;
        case 2:
          c.remaining = static_cast<std::uint16_t>(c.remaining | byte);
          c.parse = c.remaining == 0 ? 0 : 3;
          if (c.remaining == 0 && options_.record_pings) record(c, slot, EventKind::kData, now);
          break;
        default: {
          const auto take = std::min<std::size_t>(c.remaining, static_cast<std::size_t>(n - i));
          i += static_cast<ssize_t>(take) - 1;
          c.remaining = static_cast<std::uint16_t>(c.remaining - take);
          if (c.remaining == 0) {
            c.parse = 0;
            if (options_.record_pings) record(c, slot, EventKind::kData, now);
          }
        }
      }
    }
    if (pong || !c.settings.pong_only) {
      c.alive = now;  // a sign of life: the PING sequence restarts
      c.sent = 0;
      if (c.suspected) restore(c, slot, now);
    }
    if (pongs_now > 0) {
      const std::string frame(static_cast<std::size_t>(pongs_now), kPong);
      stats_.pongs_sent += static_cast<std::uint64_t>(pongs_now);
      if (options_.record_pings)
        for (int k = 0; k < pongs_now; ++k) record(c, slot, EventKind::kPongSent, now);
      if (!write(c, slot, frame, now)) return;
    }
    if (static_cast<std::size_t>(n) < sizeof buf) return;  // drained
  }
}

void HeartbeatEngine::handleIo(std::uint32_t slot, std::uint32_t events, Clock::time_point now) {
  Connection& c = connections_[slot];
  if (events & EPOLLERR) {
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0) {
      declareDead(slot, detectorFor(err), err, "socket error", now);
      return;
    }
  }
  if (events & EPOLLOUT) {
    flush(c, slot, now);
    if (!c.open) return;
  }
  // Data first, then end of stream: recv returns 0 only after the bytes.
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) readFrames(c, slot, now);
}

void HeartbeatEngine::fireHeartbeat(std::uint32_t slot, Clock::time_point now) {
  Connection& c = connections_[slot];
  const HeartbeatSettings& s = c.settings;
  const Clock::time_point due = c.alive + s.idle + c.sent * s.interval;
  if (due > now) {  // a sign of life moved it: the entry was early
    heartbeats_.push({due, slot, c.generation});
    return;
  }
  if (c.sent >= s.count) {
    if (!s.suspect_only) {
      // Stamped when it is made, not at the batch's wake-up: a wake-up late
      // past the deadline sends the last PINGs in this same batch (each
      // due entry comes round again), and the verdict must not predate
      // their departure on the wire.
      declareDead(slot, Detector::kHeartbeat, ETIMEDOUT,
                  std::to_string(c.sent) + " unanswered pings", std::max(now, Clock::now()));
      return;
    }
    // Suspect once, then go on pinging every interval: the PING sent below
    // is number count + 1, and the sequence runs on from `alive` until a
    // sign of life resets it.
    if (!c.suspected) suspect(c, slot, now);
  }
  ++c.sent;
  if (c.suspected) {
    // A wake-up late by several intervals in a long suspicion sends one
    // PING, not a burst of one per missed interval: the next stays on the
    // grid of `alive`, after now.
    const auto behind = (now - (c.alive + s.idle)) / s.interval;
    if (behind >= c.sent) c.sent = static_cast<int>(std::min<std::int64_t>(behind, 1 << 30)) + 1;
  }
  ++stats_.pings_sent;
  if (options_.record_pings) record(c, slot, EventKind::kPingSent, now);
  const char ping = kPing;
  if (!write(c, slot, std::string_view(&ping, 1), now)) return;
  heartbeats_.push({c.alive + s.idle + c.sent * s.interval, slot, c.generation});
}

void HeartbeatEngine::suspect(Connection& c, std::uint32_t slot, Clock::time_point now) {
  c.suspected = true;
  c.suspected_at = now;
  ++stats_.suspected;
  Event e = eventOf(c, slot, EventKind::kSuspected, now);
  e.detector = Detector::kHeartbeat;
  e.error = ETIMEDOUT;
  e.tcp_state = tcpState(c.fd);
  e.text = std::to_string(c.sent) + " unanswered pings";
  log_.add(std::move(e));
}

void HeartbeatEngine::restore(Connection& c, std::uint32_t slot, Clock::time_point now) {
  c.suspected = false;
  ++stats_.restored;
  Event e = eventOf(c, slot, EventKind::kRestored, now);
  e.detector = Detector::kHeartbeat;
  e.tcp_state = tcpState(c.fd);
  char text[64];
  std::snprintf(text, sizeof text, "suspected for %.3f ms",
                std::chrono::duration<double, std::milli>(now - c.suspected_at).count());
  e.text = text;
  log_.add(std::move(e));
}

void HeartbeatEngine::firePong(std::uint32_t slot, Clock::time_point now) {
  Connection& c = connections_[slot];
  ++stats_.pongs_sent;
  if (options_.record_pings) record(c, slot, EventKind::kPongSent, now);
  const char pong = kPong;
  write(c, slot, std::string_view(&pong, 1), now);
}

void HeartbeatEngine::runOnce(Clock::time_point now) {
  // Each due entry is popped once; what it pushes back is later than `now`,
  // except a heartbeat running behind, which advances its PING count and
  // so ends within `count` rounds (a suspected one skips to its next slot
  // after now at once). The bound is a guard, not a budget.
  const std::size_t bound = 4 * (heartbeats_.size() + pongs_.size()) + 16;
  for (std::size_t k = 0; k < bound && !pongs_.empty() && pongs_.top().due <= now; ++k) {
    const TimerHeap::Entry e = pongs_.pop();
    if (live(e.slot, e.generation)) firePong(e.slot, now);
  }
  for (std::size_t k = 0; k < bound && !heartbeats_.empty() && heartbeats_.top().due <= now; ++k) {
    const TimerHeap::Entry e = heartbeats_.pop();
    if (live(e.slot, e.generation)) fireHeartbeat(e.slot, now);
  }
}

void HeartbeatEngine::loop() noexcept {
  epoll_event events[kMaxEvents];
  bool have_pwait2 = true;
  for (;;) {  // ends at stop(): the eventfd wakes the wait below
    std::optional<Clock::time_point> next;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) break;
      if (!heartbeats_.empty()) next = heartbeats_.top().due;
      if (!pongs_.empty() && (!next || pongs_.top().due < *next)) next = pongs_.top().due;
    }
    int n;
    const auto left =
        next ? std::max(Clock::duration::zero(), *next - Clock::now()) : Clock::duration::zero();
    if (have_pwait2) {
      // Nanosecond timeouts: a millisecond epoll_wait would round every
      // deadline up by up to 1 ms.
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
      timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
      n = ::epoll_pwait2(epoll_.get(), events, kMaxEvents, next ? &ts : nullptr, nullptr);
      if (n < 0 && errno == ENOSYS) {
        have_pwait2 = false;
        continue;
      }
    } else {
      const int ms = next
                         ? static_cast<int>(std::min<std::int64_t>(
                               std::chrono::ceil<std::chrono::milliseconds>(left).count(), 1 << 30))
                         : -1;
      n = ::epoll_wait(epoll_.get(), events, kMaxEvents, ms);
    }
    if (n < 0 && errno != EINTR) break;  // EBADF/EINVAL: cannot happen with our own fd

    std::lock_guard lock(mutex_);
    ++stats_.wakeups;
    const Clock::time_point now = Clock::now();
    for (int i = 0; i < n; ++i) {
      const auto slot = static_cast<std::uint32_t>(events[i].data.u64 & 0xffffffffu);
      if (slot == kWakeSlot) {
        std::uint64_t count;
        (void)!::read(wake_.get(), &count, sizeof count);
        continue;
      }
      const auto generation = static_cast<std::uint32_t>(events[i].data.u64 >> 32);
      if (live(slot, generation)) handleIo(slot, events[i].events, now);
    }
    runOnce(now);
  }
  std::lock_guard lock(mutex_);
  timespec ts{};
  if (::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0)
    final_cpu_ = std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
  thread_stopped_ = true;
}

}  // namespace deadpeer

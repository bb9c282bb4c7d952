#include "deadpeer/peer/external.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/process/args.hpp>
#include <boost/process/child.hpp>
#include <boost/process/exe.hpp>
#include <boost/process/extend.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "deadpeer/error.hpp"
#include "deadpeer/peer/line_pattern.hpp"
#include "deadpeer/topology/host.hpp"

namespace deadpeer {
namespace {

using Clock = Event::Clock;

constexpr std::chrono::seconds kReapDeadline{5};
// One read per wake: a chatty program cannot starve the other descriptors.
constexpr std::size_t kReadChunk = 64 * 1024;
// A line longer than this is cut here: its first kMaxLine bytes are the
// line, the rest up to the newline is counted and dropped, so that a program
// that never prints a newline cannot grow the buffer without bound.
constexpr std::size_t kMaxLine = ExternalPeer::kMaxLineBytes;
// Output kept in the EventLog per peer; past it lines are still matched
// against the patterns, but only counted, so a program that prints without
// pause cannot exhaust memory before the scenario's deadline.
constexpr std::size_t kMaxLoggedOutput = ExternalPeer::kMaxLoggedOutputBytes;
constexpr int kTcpClose = 7;  // TCP_CLOSE, the state of a socket that is gone
// Room for the largest netlink message the kernel sends to a reader that
// offers this much (MNL_SOCKET_BUFFER_SIZE is not a constant expression).
constexpr std::size_t kNetlinkBuffer = 32 * 1024;

Error badField(const ExternalPeerSpec& spec, std::string_view field, int err, std::string why) {
  return Error("validate", quoted("external peer", spec.name) + " field " + std::string(field), "",
               err, std::move(why));
}

LinePattern compile(const ExternalPeerSpec& spec, std::string_view field,
                    const std::string& pattern) {
  if (pattern.empty()) throw badField(spec, field, EINVAL, "is required");
  try {
    return LinePattern(pattern);
  } catch (const Error& e) {
    throw badField(spec, field, EINVAL, e.reason());
  }
}

bool isExecutableFile(const std::string& path) {
  struct stat st {};
  // access() alone says yes to root for any file with one x bit, or on
  // mounts that lie about modes; a shell also wants an x bit.
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111) != 0 &&
         ::access(path.c_str(), X_OK) == 0;
}

// Both ends O_CLOEXEC: a child forked by another thread must not hold a
// write end, or the reader would never see EOF.
std::pair<UniqueFd, UniqueFd> makePipe(const std::string& what, const std::string& where) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw Error::fromErrno("pipe2", what, where, errno);
  // The child's dup2s onto 0-2 rely on no source being one of 0-2, which
  // happens when the harness runs with a standard stream closed.
  for (int& fd : fds) {
    if (fd >= 3) continue;
    const int high = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    const int err = errno;
    ::close(fd);
    fd = high;
    if (high < 0) {
      ::close(fds[0] >= 0 ? fds[0] : fds[1]);
      throw Error::fromErrno("fcntl F_DUPFD_CLOEXEC", what, where, err);
    }
  }
  return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

void setNonBlocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

// Fills exactly one of exit_status and signal.
std::string exitText(const siginfo_t& info, Event& e) {
  if (info.si_code == CLD_EXITED) {
    e.exit_status = info.si_status;
    return "exited with status " + std::to_string(info.si_status);
  }
  e.signal = info.si_status;
  return "killed by signal " + signalName(info.si_status);
}

const char* tcpStateName(int state) {
  static const char* const names[] = {
      "?",     "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",   "TIME_WAIT",
      "CLOSE", "CLOSE_WAIT",  "LAST_ACK", "LISTEN",   "CLOSING",   "NEW_SYN_RECV"};
  return state >= 0 && state < static_cast<int>(std::size(names)) ? names[state] : "?";
}

// Runs in the forked child, before exec: system calls only (the parent may
// be multi-threaded, so nothing that allocates or locks). No
// PR_SET_PDEATHSIG: the child is born in its own PID namespace, whose init
// takes it down with the harness (ns/pidns.hpp).
struct ChildSetup : boost::process::extend::handler {
  int netns_fd;
  int in_fd, out_fd, err_fd;
  int ready_fd;        // -1 for none
  int ready_child_fd;  // where the child sees it

  template <class Executor>
  void on_exec_setup(Executor& exec) const {
    const auto fail = [&](const char* what) {
      exec.set_error(std::error_code(errno, std::system_category()), what);
      ::_exit(127);
    };
    if (::setns(netns_fd, CLONE_NEWNET) != 0) fail("setns(CLONE_NEWNET)");
    sigset_t none;
    ::sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    // The sources are all >= 3 (makePipe sees to it), so no dup2 below
    // overwrites a source still to be used: stdio first, then the
    // readiness fd, which may land on a source already copied.
    if (::dup2(in_fd, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(err_fd, 2) < 0) fail("dup2 stdio");
    if (ready_fd >= 0) {
      if (ready_fd == ready_child_fd) {
        // dup2 onto itself keeps O_CLOEXEC: clear it by hand.
        if (::fcntl(ready_fd, F_SETFD, 0) != 0) fail("fcntl readiness fd");
      } else if (::dup2(ready_fd, ready_child_fd) < 0) {
        fail("dup2 readiness fd");
      }
    }
  }
};

struct MnlDeleter {
  void operator()(mnl_socket* nl) const noexcept { mnl_socket_close(nl); }
};
using MnlSocket = std::unique_ptr<mnl_socket, MnlDeleter>;

struct TcpSocket {
  int family = AF_INET;
  int state = 0;
  IpAddress local, remote;
  std::uint16_t local_port = 0, remote_port = 0;

  auto key() const {
    return std::make_tuple(local.bytes, local_port, remote.bytes, remote_port, family);
  }
  std::string str() const {
    const auto ep = [&](const IpAddress& a, std::uint16_t p) {
      return (family == AF_INET6 ? "[" + a.str() + "]" : a.str()) + ":" + std::to_string(p);
    };
    return ep(local, local_port) + " -> " + ep(remote, remote_port);
  }
};

IpAddress fromDiag(int family, const __be32* words) {
  IpAddress a;
  a.family = family;
  std::memcpy(a.bytes.data(), words, family == AF_INET ? 4 : 16);
  return a;
}

int collect(const nlmsghdr* nlh, void* data) {
  if (nlh->nlmsg_type != SOCK_DIAG_BY_FAMILY) return MNL_CB_OK;
  if (mnl_nlmsg_get_payload_len(nlh) < sizeof(inet_diag_msg)) return MNL_CB_OK;
  const auto* msg = static_cast<const inet_diag_msg*>(mnl_nlmsg_get_payload(nlh));
  TcpSocket s;
  s.family = msg->idiag_family;
  s.state = msg->idiag_state;
  s.local = fromDiag(s.family, msg->id.idiag_src);
  s.remote = fromDiag(s.family, msg->id.idiag_dst);
  s.local_port = ntohs(msg->id.idiag_sport);
  s.remote_port = ntohs(msg->id.idiag_dport);
  static_cast<std::vector<TcpSocket>*>(data)->push_back(s);
  return MNL_CB_OK;
}

bool isAny(const IpAddress& a) {
  return std::all_of(a.bytes.begin(), a.bytes.begin() + a.size(), [](auto b) { return b == 0; });
}

}  // namespace

std::optional<std::string> findInPath(std::string_view program) {
  if (program.empty()) return std::nullopt;
  const std::string name(program);
  if (name.find('/') != std::string::npos)
    return isExecutableFile(name) ? std::optional<std::string>(name) : std::nullopt;
  // As execvp: no PATH means the default search path.
  const char* env = std::getenv("PATH");
  const std::string path = env ? env : "/bin:/usr/bin";
  std::size_t start = 0;
  for (int dirs = 0; dirs < 4096 && start <= path.size(); ++dirs) {
    const std::size_t end = std::min(path.find(':', start), path.size());
    const std::string dir = path.substr(start, end - start);
    const std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
    if (isExecutableFile(candidate)) return candidate;
    start = end + 1;
  }
  return std::nullopt;
}

void ExternalPeerSpec::validate() const {
  if (name.empty()) throw badField(*this, "name", EINVAL, "is required");
  if (argv.empty() || argv[0].empty()) throw badField(*this, "argv", EINVAL, "is required");
  if (!findInPath(argv[0])) {
    if (argv[0].find('/') == std::string::npos)
      throw badField(*this, "argv[0]", ENOENT, "\"" + argv[0] + "\" not found in PATH");
    struct stat st {};
    if (::stat(argv[0].c_str(), &st) != 0)
      throw badField(*this, "argv[0]", ENOENT, "\"" + argv[0] + "\" does not exist");
    throw badField(*this, "argv[0]", EACCES, "\"" + argv[0] + "\" is not an executable file");
  }
  if (host.empty()) throw badField(*this, "host", EINVAL, "is required");
  if (const auto* port = std::get_if<Port>(&readiness); port && port->port == 0)
    throw badField(*this, "readiness.port", EINVAL, "must be 1-65535, got 0");
  if (const auto* re = std::get_if<LineRegex>(&readiness))
    compile(*this, "readiness.pattern", re->pattern);
  if (const auto* fd = std::get_if<InheritedFd>(&readiness); fd && fd->child_fd < 3)
    throw badField(*this, "readiness.child_fd", EINVAL,
                   "must be 3 or more (0-2 are stdin, stdout and stderr), got " +
                       std::to_string(fd->child_fd));
  if (const auto* re = std::get_if<LineRegex>(&detection))
    compile(*this, "detection.pattern", re->pattern);
  if (const auto* s = std::get_if<SocketLeavesEstablished>(&detection);
      s && !s->local_port && !s->remote_port && !s->remote_address)
    throw badField(*this, "detection.socket", EINVAL,
                   "needs local_port, remote_port or remote_address, or it would watch every "
                   "socket of the host");
  if (ready_deadline.count() <= 0)
    throw badField(*this, "ready_deadline", EINVAL,
                   "must be positive, got " + std::to_string(ready_deadline.count()) + " ms");
  if (socket_poll_interval.count() <= 0)
    throw badField(*this, "socket_poll_interval", EINVAL,
                   "must be positive, got " + std::to_string(socket_poll_interval.count()) + " ms");
}

// Everything the reader thread touches, and only it, after the constructor.
struct ExternalPeer::Watch {
  std::optional<LinePattern> ready_regex;
  std::optional<LinePattern> detect_regex;
  UniqueFd out, err;  // read ends of stdout and stderr
  std::string out_partial, err_partial;
  bool out_cutting = false, err_cutting = false;  // dropping the rest of a cut line
  std::size_t logged_output = 0;  // bytes of kOutput text in the log
  UniqueFd ready;       // read end of the readiness pipe
  MnlSocket diag;       // dumps, in the host's namespace
  MnlSocket destroyed;  // destroy broadcasts, or null
  UniqueFd timer;       // the socket cadence
  UniqueFd epoll;
  bool is_ready = false;
  bool detected = false;
  bool timer_armed = false;
  unsigned seq = 0;
  std::map<decltype(TcpSocket{}.key()), TcpSocket> established;
};

ExternalPeer::ExternalPeer(ExternalPeerSpec spec, const Netns& netns, EventLog& log)
    : ExternalPeer(std::move(spec), netns, log, nullptr) {}

ExternalPeer::ExternalPeer(ExternalPeerSpec spec, Host& host, EventLog& log)
    : ExternalPeer(std::move(spec), host.netns(), log, &host) {}

ExternalPeer::ExternalPeer(ExternalPeerSpec spec, const Netns& netns, EventLog& log, Host* host)
    : spec_(std::move(spec)), where_(netns.label()), log_(log) {
  spec_.validate();
  const std::string object = quoted("external peer", spec_.name);
  auto watch = std::make_unique<Watch>();
  if (const auto* re = std::get_if<ExternalPeerSpec::LineRegex>(&spec_.readiness))
    watch->ready_regex = compile(spec_, "readiness.pattern", re->pattern);
  if (const auto* re = std::get_if<ExternalPeerSpec::LineRegex>(&spec_.detection))
    watch->detect_regex = compile(spec_, "detection.pattern", re->pattern);

  const bool needs_diag =
      std::holds_alternative<ExternalPeerSpec::Port>(spec_.readiness) ||
      std::holds_alternative<ExternalPeerSpec::SocketLeavesEstablished>(spec_.detection);
  if (needs_diag) {
    // Netlink sockets stay in the namespace they were opened in.
    NetnsGuard guard(netns);
    // CLOEXEC: the program we launch, or any other child, must not inherit it.
    watch->diag.reset(mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC));
    if (!watch->diag || mnl_socket_bind(watch->diag.get(), 0, MNL_SOCKET_AUTOPID) < 0)
      throw Error::fromErrno("open NETLINK_SOCK_DIAG", object, where_, errno);
    // sock_diag answers a dump synchronously; this bounds a lost answer.
    const timeval rcv{1, 0};
    ::setsockopt(mnl_socket_get_fd(watch->diag.get()), SOL_SOCKET, SO_RCVTIMEO, &rcv, sizeof rcv);
    // Optional: without the destroy broadcasts (old kernel, no
    // CAP_NET_ADMIN) the cadence alone still sees every change.
    MnlSocket destroyed(mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (destroyed && mnl_socket_bind(destroyed.get(), 0, MNL_SOCKET_AUTOPID) == 0) {
      bool joined = true;
      for (int group : {SKNLGRP_INET_TCP_DESTROY, SKNLGRP_INET6_TCP_DESTROY})
        joined = joined && mnl_socket_setsockopt(destroyed.get(), NETLINK_ADD_MEMBERSHIP, &group,
                                                 sizeof group) == 0;
      if (joined) watch->destroyed = std::move(destroyed);
    }
    watch->timer.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
    if (!watch->timer) throw Error::fromErrno("timerfd_create", object, where_, errno);
  }

  auto [in_read, in_write] = makePipe(object + " stdin", where_);
  auto [out_read, out_write] = makePipe(object + " stdout", where_);
  auto [err_read, err_write] = makePipe(object + " stderr", where_);
  UniqueFd ready_read, ready_write;
  int ready_child_fd = -1;
  if (const auto* fd = std::get_if<ExternalPeerSpec::InheritedFd>(&spec_.readiness)) {
    std::tie(ready_read, ready_write) = makePipe(object + " readiness fd", where_);
    ready_child_fd = fd->child_fd;
  }
  stop_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  watch->epoll.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!stop_ || !watch->epoll) throw Error::fromErrno("eventfd/epoll", object, where_, errno);

  tree_ = std::make_shared<PidNamespace>(object + " in " + where_);
  if (host != nullptr) host->own(tree_);
  ChildSetup setup;
  setup.netns_fd = netns.fd();
  setup.in_fd = in_read.get();
  setup.out_fd = out_write.get();
  setup.err_fd = err_write.get();
  setup.ready_fd = ready_write.get();
  setup.ready_child_fd = ready_child_fd;
  const std::string exe = *findInPath(spec_.argv[0]);
  const std::vector<std::string> args(spec_.argv.begin() + 1, spec_.argv.end());
  try {
    namespace bp = boost::process;
    tree_->forChildren([&] {
      bp::child child(bp::exe = exe, bp::args = args, setup);
      pid_ = child.id();
      // We reap it ourselves, through its pidfd.
      child.detach();
    });
  } catch (const std::system_error& e) {  // boost::process::process_error
    throw Error("launch", object, where_, e.code().value(), e.what());
  }
  // A child of ours cannot be recycled before we reap it: the pid is safe.
  pidfd_.reset(static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0)));
  if (!pidfd_) {
    const int err = errno;
    // No pidfd to wait on; SIGKILL cannot be blocked, so the reap is prompt.
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    throw Error::fromErrno("pidfd_open", object, where_, err);
  }
  stdin_ = std::move(in_write);
  watch->out = std::move(out_read);
  watch->err = std::move(err_read);
  watch->ready = std::move(ready_read);
  setNonBlocking(watch->out.get());
  setNonBlocking(watch->err.get());
  if (watch->ready) setNonBlocking(watch->ready.get());
  watch_ = std::move(watch);
  try {
    const auto add = [&](int fd) {
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.fd = fd;
      if (::epoll_ctl(watch_->epoll.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
        throw Error::fromErrno("epoll_ctl", object, where_, errno);
    };
    for (int fd : {watch_->out.get(), watch_->err.get(), pidfd_.get(), stop_.get(),
                   watch_->ready.get(), watch_->timer.get()})
      if (fd >= 0) add(fd);
    if (watch_->destroyed) add(mnl_socket_get_fd(watch_->destroyed.get()));
    reader_ = std::thread([this] { run(); });
  } catch (...) {
    ::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);
    pollfd gone{pidfd_.get(), POLLIN, 0};
    if (::poll(&gone, 1, 5000) == 1) ::waitpid(pid_, nullptr, WNOHANG);
    throw;
  }
}

ExternalPeer::~ExternalPeer() {
  stopping_ = true;
  // Through the pidfd: if the reader already reaped it, the pid may be
  // someone else's now, and the pidfd knows.
  if (pidfd_) ::syscall(SYS_pidfd_send_signal, pidfd_.get(), SIGKILL, nullptr, 0);
  const std::uint64_t one = 1;
  if (stop_) [[maybe_unused]]
    auto n = ::write(stop_.get(), &one, sizeof one);
  if (reader_.joinable()) reader_.join();
  // What the program forked or daemonised; its init can finish now that
  // the program itself is reaped.
  if (tree_) tree_->kill(PidNamespace::kKillDeadline, "the peer was stopped");
}

// `destroyed` is set before the reader starts and never changed after.
bool ExternalPeer::hearsSocketDestruction() const noexcept {
  return watch_ && watch_->destroyed != nullptr;
}

void ExternalPeer::writeInput(std::string_view text) {
  const std::string object = quoted("external peer", spec_.name);
  if (!stdin_) throw Error("write stdin", object, where_, EBADF, "input was closed");
  // A program that exited makes the write fail with EPIPE; keep SIGPIPE
  // from ending the harness, and take back the one it raised.
  sigset_t pipe_only, old;
  ::sigemptyset(&pipe_only);
  ::sigaddset(&pipe_only, SIGPIPE);
  ::pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
  int err = 0;
  for (int tries = 0; tries < 1024 && !text.empty(); ++tries) {
    const ssize_t n = ::write(stdin_.get(), text.data(), text.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      err = errno;
      break;
    }
    text.remove_prefix(static_cast<std::size_t>(n));
  }
  if (err == EPIPE) {
    const timespec zero{0, 0};
    ::sigtimedwait(&pipe_only, nullptr, &zero);
  }
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (err != 0) throw Error::fromErrno("write stdin", object, where_, err);
  if (!text.empty()) throw Error("write stdin", object, where_, EAGAIN, "the pipe did not drain");
}

Event ExternalPeer::waitReady(std::chrono::milliseconds deadline) const {
  const auto seen = log_.waitFor(
      [&](const Event& e) {
        return e.peer == spec_.name &&
               (e.kind == EventKind::kReady || e.kind == EventKind::kExited);
      },
      deadline);
  const std::string object = quoted("external peer", spec_.name);
  if (!seen)
    throw Error("wait ready", object, where_, ETIMEDOUT,
                "not ready within " + std::to_string(deadline.count()) +
                    " ms; last output: " + lastLines(5));
  if (seen->kind == EventKind::kExited)
    throw Error("wait ready", object, where_, ECHILD,
                seen->text + " before it was ready; last output: " + lastLines(5));
  return *seen;
}

std::string ExternalPeer::lastLines(std::size_t count) const {
  std::vector<std::string> lines;
  for (const Event& e : log_.events())
    if (e.peer == spec_.name && e.kind == EventKind::kOutput) lines.push_back(e.text);
  if (lines.empty()) return "(none)";
  std::string text;
  for (std::size_t i = lines.size() > count ? lines.size() - count : 0; i < lines.size(); ++i)
    text += (text.empty() ? "" : " | ") + lines[i];
  return text;
}

void ExternalPeer::run() noexcept {
  Watch& w = *watch_;
  // Past this, nobody waits for readiness any more: stop looking for it.
  const auto ready_end = Clock::now() + spec_.ready_deadline;
  const auto event = [&](EventKind kind, Clock::time_point at, std::string text) {
    Event e;
    e.at = at;
    e.kind = kind;
    e.peer = spec_.name;
    e.text = std::move(text);
    return e;
  };
  const auto markReady = [&](Clock::time_point at, std::string why) {
    if (w.is_ready) return;
    w.is_ready = true;
    log_.add(event(EventKind::kReady, at, std::move(why)));
  };
  const auto detect = [&](Clock::time_point at, std::string why, int error, int tcp_state,
                          const Event* exit = nullptr) {
    if (w.detected || stopping_) return;
    w.detected = true;
    Event e = event(EventKind::kDetected, at, std::move(why));
    e.detector = Detector::kExternal;
    e.error = error;
    e.tcp_state = tcp_state;
    if (exit != nullptr) {
      e.exit_status = exit->exit_status;
      e.signal = exit->signal;
    }
    log_.add(std::move(e));
  };
  const auto onLine = [&](std::string line, Clock::time_point at) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (w.logged_output + line.size() <= kMaxLoggedOutput) {
      w.logged_output += line.size();
      log_.add(event(EventKind::kOutput, at, line));
    } else {
      dropped_output_ += line.size() + 1;
    }
    if (w.ready_regex && w.ready_regex->matches(line)) markReady(at, line);
    if (w.detect_regex && w.detect_regex->matches(line)) detect(at, line, 0, 0);
  };
  // Splits what was read into lines of at most kMaxLine bytes. Returns
  // false at EOF or on an error.
  const auto readStream = [&](UniqueFd& fd, std::string& partial, bool& cutting) {
    if (!fd) return false;
    char buf[4096];
    bool open = true;
    for (std::size_t total = 0; total < kReadChunk;) {
      const ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      if (n <= 0) {
        open = false;
        break;
      }
      total += static_cast<std::size_t>(n);
      const auto at = Clock::now();
      std::string_view data(buf, static_cast<std::size_t>(n));
      while (!data.empty()) {
        const std::size_t nl = data.find('\n');
        const std::string_view piece = data.substr(0, nl);
        if (cutting) {
          dropped_output_ += piece.size();
        } else if (const std::size_t room = kMaxLine - partial.size(); piece.size() > room) {
          partial.append(piece.substr(0, room));
          dropped_output_ += piece.size() - room;
          onLine(std::move(partial), at);
          partial.clear();
          cutting = true;
        } else {
          partial.append(piece);
          if (nl != std::string_view::npos) {
            onLine(std::move(partial), at);
            partial.clear();
          }
        }
        if (nl == std::string_view::npos) break;
        cutting = false;
        data.remove_prefix(nl + 1);
      }
    }
    if (!open) {
      if (!partial.empty()) onLine(std::move(partial), Clock::now());
      partial.clear();
      cutting = false;
      ::epoll_ctl(w.epoll.get(), EPOLL_CTL_DEL, fd.get(), nullptr);
      fd.reset();
    }
    return open;
  };
  const auto socketsOpen = [&] {
    return (std::holds_alternative<ExternalPeerSpec::Port>(spec_.readiness) && !w.is_ready &&
            Clock::now() < ready_end) ||
           (std::holds_alternative<ExternalPeerSpec::SocketLeavesEstablished>(spec_.detection) &&
            !w.detected);
  };
  const auto armTimer = [&] {
    if (!w.timer) return;
    const bool want = socketsOpen() && !stopping_;
    if (want == w.timer_armed) return;
    const auto ns = std::chrono::nanoseconds(spec_.socket_poll_interval).count();
    const timespec every{static_cast<time_t>(ns / 1'000'000'000),
                         static_cast<long>(ns % 1'000'000'000)};
    itimerspec spec{};
    if (want) spec = itimerspec{every, every};
    ::timerfd_settime(w.timer.get(), 0, &spec, nullptr);
    w.timer_armed = want;
  };
  // One dump of the host's TCP sockets per family.
  const auto dump = [&](std::vector<TcpSocket>& out) {
    mnl_socket* nl = w.diag.get();
    const unsigned portid = mnl_socket_get_portid(nl);
    for (int family : {AF_INET, AF_INET6}) {
      char buf[kNetlinkBuffer];
      nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
      nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
      nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
      nlh->nlmsg_seq = ++w.seq;
      auto* req =
          static_cast<inet_diag_req_v2*>(mnl_nlmsg_put_extra_header(nlh, sizeof(inet_diag_req_v2)));
      req->sdiag_family = static_cast<std::uint8_t>(family);
      req->sdiag_protocol = IPPROTO_TCP;
      req->idiag_states = ~0u;
      if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) return false;
      int ret = MNL_CB_OK;
      for (int parts = 0; parts < 100000 && ret > MNL_CB_STOP; ++parts) {
        const ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        ret = mnl_cb_run(buf, static_cast<std::size_t>(n), w.seq, portid, collect, &out);
      }
      if (ret < 0) return false;
    }
    return true;
  };
  const auto checkSockets = [&] {
    if (!w.diag || !socketsOpen()) return;
    std::vector<TcpSocket> sockets;
    if (!dump(sockets)) return;  // transient: the next wake tries again
    const auto at = Clock::now();
    if (const auto* port = std::get_if<ExternalPeerSpec::Port>(&spec_.readiness);
        port && !w.is_ready)
      for (const TcpSocket& s : sockets)
        if (s.state == TCP_LISTEN && s.local_port == port->port &&
            (!port->address || *port->address == s.local || isAny(s.local))) {
          markReady(at, "listening on " + s.str());
          break;
        }
    const auto* leave = std::get_if<ExternalPeerSpec::SocketLeavesEstablished>(&spec_.detection);
    if (!leave || w.detected) return;
    const auto matches = [&](const TcpSocket& s) {
      return s.state != TCP_LISTEN && (!leave->local_port || *leave->local_port == s.local_port) &&
             (!leave->remote_port || *leave->remote_port == s.remote_port) &&
             (!leave->remote_address || *leave->remote_address == s.remote);
    };
    std::map<decltype(TcpSocket{}.key()), const TcpSocket*> now;
    for (const TcpSocket& s : sockets)
      if (matches(s)) now[s.key()] = &s;
    for (const auto& [key, was] : w.established) {
      const auto it = now.find(key);
      if (it == now.end()) {
        detect(at, "socket " + was.str() + " left ESTABLISHED: gone", 0, kTcpClose);
        return;
      }
      if (it->second->state != TCP_ESTABLISHED) {
        detect(at, "socket " + was.str() + " left ESTABLISHED: " + tcpStateName(it->second->state),
               0, it->second->state);
        return;
      }
    }
    for (const auto& [key, s] : now)
      if (s->state == TCP_ESTABLISHED) w.established.emplace(key, *s);
  };
  const auto reap = [&](bool wait) {
    siginfo_t info{};
    const int options = WEXITED | (wait ? 0 : WNOHANG);
    if (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_.get()), &info, options) !=
            0 ||
        info.si_pid == 0)
      return false;
    const auto at = Clock::now();
    // What it printed before it died comes first.
    readStream(w.out, w.out_partial, w.out_cutting);
    readStream(w.err, w.err_partial, w.err_cutting);
    Event e = event(EventKind::kExited, at, "");
    e.text = exitText(info, e);
    // Killed with its host (a reboot's take-down) or its tree (a fault):
    // that is the harness's doing, never the program's detection.
    const std::optional<std::string> killed = tree_->killedBecause();
    if (killed && !killed->empty()) e.text += " (" + *killed + ")";
    log_.add(e);
    if (std::holds_alternative<ExternalPeerSpec::Exit>(spec_.detection) && !killed)
      detect(at, e.text, 0, 0, &e);
    return true;
  };

  // Bounded by the process: the loop ends when it is reaped, or when the
  // destructor asks, which then waits at most kReapDeadline for the reap.
  for (;;) {
    armTimer();
    epoll_event events[8];
    const int n = ::epoll_wait(w.epoll.get(), events, 8, 1000);
    if (n < 0 && errno != EINTR) break;
    bool out = false, err = false, ready = false, sockets_changed = false, exited = false;
    bool stop = false;
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == w.out.get()) {
        out = true;
      } else if (fd == w.err.get()) {
        err = true;
      } else if (fd == w.ready.get()) {
        ready = true;
      } else if (fd == w.timer.get()) {
        std::uint64_t ticks;
        [[maybe_unused]] auto r = ::read(fd, &ticks, sizeof ticks);
        sockets_changed = true;
      } else if (w.destroyed && fd == mnl_socket_get_fd(w.destroyed.get())) {
        char buf[kNetlinkBuffer];
        for (int msgs = 0; msgs < 1024 && ::recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0; ++msgs) {
        }
        sockets_changed = true;
      } else if (fd == pidfd_.get()) {
        exited = true;
      } else if (fd == stop_.get()) {
        stop = true;
      }
    }
    // The socket table is read before the output that woke us is published:
    // once a caller sees a line (or the readiness it signals), every socket
    // the program had when it printed it has been seen, so a connection it
    // announced cannot leave ESTABLISHED unnoticed.
    if (out || err || ready || sockets_changed || exited) checkSockets();
    if (out) readStream(w.out, w.out_partial, w.out_cutting);
    if (err) readStream(w.err, w.err_partial, w.err_cutting);
    if (ready && w.ready) {
      char buf[256];
      const ssize_t got = ::read(w.ready.get(), buf, sizeof buf);
      if (got > 0) {
        markReady(
            Clock::now(),
            "wrote to fd " +
                std::to_string(std::get<ExternalPeerSpec::InheritedFd>(spec_.readiness).child_fd));
      }
      if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
        ::epoll_ctl(w.epoll.get(), EPOLL_CTL_DEL, w.ready.get(), nullptr);
        w.ready.reset();
      }
    }
    if (exited && reap(false)) return;
    if (stop) break;
  }
  // Asked to stop: the destructor sent SIGKILL; reap it within the deadline.
  pollfd pfd{pidfd_.get(), POLLIN, 0};
  const auto end = Clock::now() + kReapDeadline;
  for (int tries = 0; tries < 64; ++tries) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(end - Clock::now()).count();
    if (left <= 0) break;
    const int r = ::poll(&pfd, 1, static_cast<int>(left));
    if (r > 0) {
      reap(true);
      return;
    }
    if (r == 0 || errno != EINTR) break;
  }
  reap(false);
}

}  // namespace deadpeer

#include "deadpeer/net/rtnl.hpp"

#include <fcntl.h>
#include <netlink/errno.h>
#include <netlink/handlers.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include "deadpeer/error.hpp"

namespace deadpeer {
namespace {

// libnl folds kernel errnos into its own codes (nl_syserr2nlerr); this is the
// way back, so messages read like the kernel's ("File exists").
constexpr std::array<std::pair<int, int>, 16> kNlToErrno{{
    {NLE_EXIST, EEXIST},
    {NLE_NOADDR, EADDRNOTAVAIL},
    {NLE_OBJ_NOTFOUND, ENOENT},
    {NLE_INTR, EINTR},
    {NLE_AGAIN, EAGAIN},
    {NLE_BAD_SOCK, EBADF},
    {NLE_INVAL, EINVAL},
    {NLE_NOACCESS, EACCES},
    {NLE_NOMEM, ENOMEM},
    {NLE_AF_NOSUPPORT, EAFNOSUPPORT},
    {NLE_PROTO_MISMATCH, EPROTONOSUPPORT},
    {NLE_OPNOTSUPP, EOPNOTSUPP},
    {NLE_PERM, EPERM},
    {NLE_BUSY, EBUSY},
    {NLE_RANGE, ERANGE},
    {NLE_NODEV, ENODEV},
}};

int recordKernelError(sockaddr_nl*, nlmsgerr* err, void* arg) {
  *static_cast<int*>(arg) = -err->error;
  return NL_STOP;  // libnl then returns its own code for err->error, as by default
}

}  // namespace

int errnoOfNlError(int nl_error) noexcept {
  const int code = nl_error < 0 ? -nl_error : nl_error;
  for (const auto& [nle, err] : kNlToErrno)
    if (nle == code) return err;
  return 0;
}

Rtnl::Rtnl(const Netns& ns) : where_(ns.label()) {
  if (ns.isMachineNamespace())
    throw Error("open rtnetlink", "", where_, EPERM,
                "refusing to modify the machine's own network namespace");
  netns_.reset(::fcntl(ns.fd(), F_DUPFD_CLOEXEC, 0));
  if (!netns_) throw Error::fromErrno("dup", "netns fd", where_, errno);
  sock_.reset(nl_socket_alloc());
  if (!sock_) throw Error("nl_socket_alloc", "", where_, ENOMEM, std::strerror(ENOMEM));
  nl_socket_modify_err_cb(sock_.get(), NL_CB_CUSTOM, recordKernelError, kernel_errno_.get());
  const int rc = runIn(ns, [&] { return nl_connect(sock_.get(), NETLINK_ROUTE); });
  check(rc, "connect", "NETLINK_ROUTE socket");
}

void Rtnl::check(int nl_result, std::string_view op, std::string_view object) const {
  const int kernel = std::exchange(*kernel_errno_, 0);
  if (nl_result >= 0) return;
  const int err = kernel != 0 ? kernel : errnoOfNlError(nl_result);
  throw Error(std::string(op), std::string(object), where_, err,
              err != 0 ? std::strerror(err) : nl_geterror(nl_result));
}

}  // namespace deadpeer

namespace deadpeer {

void Rtnl::waitUntil(std::initializer_list<int> groups,
                     const std::function<std::string()>& not_ready, std::string_view op,
                     std::chrono::milliseconds deadline) const {
  using Clock = std::chrono::steady_clock;
  const auto end = Clock::now() + deadline;
  NlSockPtr events(nl_socket_alloc());
  if (!events)
    throw Error("nl_socket_alloc", "events socket", where_, ENOMEM, std::strerror(ENOMEM));
  {
    NetnsGuard guard(netns_.get(), where_);
    check(nl_connect(events.get(), NETLINK_ROUTE), "connect", "events socket");
  }
  for (int group : groups)
    check(nl_socket_add_membership(events.get(), group), "subscribe",
          "group " + std::to_string(group));
  const int fd = nl_socket_get_fd(events.get());

  std::string missing;
  // Every pass after the first is woken by a notification; the deadline
  // ends the wait, and the pass bound only backs it up.
  for (int pass = 0; pass < 100000; ++pass) {
    missing = not_ready();
    if (missing.empty()) return;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(end - Clock::now());
    if (left.count() <= 0) break;
    pollfd pfd{fd, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) < 0 && errno != EINTR)
      throw Error::fromErrno("poll", "events socket", where_, errno);
    char drain[8192];
    for (int reads = 0; reads < 1024 && ::recv(fd, drain, sizeof drain, MSG_DONTWAIT) > 0;
         ++reads) {
    }
  }
  throw Error(std::string(op), missing, where_, ETIMEDOUT,
              "still not ready after " + std::to_string(deadline.count()) + " ms");
}

}  // namespace deadpeer

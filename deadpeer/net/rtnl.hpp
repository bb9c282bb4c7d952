// net: rtnetlink through libnl-3-route.
//
// Rtnl is one NETLINK_ROUTE socket bound to one namespace. It is opened under
// a NetnsGuard and stays bound to that namespace for its whole life, so
// requests made through it from any thread act in that namespace. Every
// request waits for the kernel's acknowledgement (libnl's nl_send_sync).
//
// Ownership: libnl objects live in std::unique_ptr with libnl's own free
// function as deleter (NlPtr). Failures become deadpeer::Error carrying the
// rtnetlink operation, the object, the namespace label and the errno.
//
// Threading: one Rtnl must not be used by two threads at once; the harness
// gives each host its own.
#pragma once

#include <netlink/addr.h>
#include <netlink/route/link.h>
#include <netlink/socket.h>

#include <chrono>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include "deadpeer/fd.hpp"
#include "deadpeer/ns/netns.hpp"

namespace deadpeer {

template <class T, void (*Free)(T*)>
struct NlFree {
  void operator()(T* p) const noexcept {
    if (p != nullptr) Free(p);
  }
};
template <class T, void (*Free)(T*)>
using NlPtr = std::unique_ptr<T, NlFree<T, Free>>;

using NlSockPtr = NlPtr<nl_sock, nl_socket_free>;
using NlAddrPtr = NlPtr<nl_addr, nl_addr_put>;
using LinkPtr = NlPtr<rtnl_link, rtnl_link_put>;

// The errno that libnl's code stands for, or 0 when it has none.
int errnoOfNlError(int nl_error) noexcept;

class Rtnl {
 public:
  // Opens the socket inside `ns`. Refuses the machine's own namespace: the
  // harness never changes it.
  explicit Rtnl(const Netns& ns);
  Rtnl(const Rtnl&) = delete;
  Rtnl& operator=(const Rtnl&) = delete;

  nl_sock* sock() const noexcept { return sock_.get(); }
  // The namespace's label, for messages ("host h1").
  const std::string& where() const noexcept { return where_; }
  // A descriptor of the namespace, for IFLA_NET_NS_FD.
  int netnsFd() const noexcept { return netns_.get(); }

  // Throws Error(op, object, where(), errno) when `nl_result` < 0.
  void check(int nl_result, std::string_view op, std::string_view object) const;

  // Waits on rtnetlink notifications of `groups` (RTNLGRP_*) until
  // `not_ready` returns "" (it returns what is still missing otherwise). The
  // subscription is made before the first call, so no change is missed, and
  // each further call follows a notification: no polling on a timer. Throws
  // Error(op, <what is missing>, ETIMEDOUT) at the deadline.
  void waitUntil(std::initializer_list<int> groups, const std::function<std::string()>& not_ready,
                 std::string_view op, std::chrono::milliseconds deadline) const;

 private:
  // The errno in the kernel's last NLMSG_ERROR, which libnl would otherwise
  // fold into its own coarser codes (ENOTCONN becomes "Unspecific failure").
  std::unique_ptr<int> kernel_errno_ = std::make_unique<int>(0);
  NlSockPtr sock_;
  UniqueFd netns_;
  std::string where_;
};

}  // namespace deadpeer

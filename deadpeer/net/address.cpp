#include "deadpeer/net/address.hpp"

#include <arpa/inet.h>
#include <linux/if_addr.h>
#include <netlink/cache.h>
#include <netlink/route/addr.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>

#include "deadpeer/error.hpp"
#include "deadpeer/net/link.hpp"

namespace deadpeer {
namespace {

using AddrPtr = NlPtr<rtnl_addr, rtnl_addr_put>;
using CachePtr = NlPtr<nl_cache, nl_cache_free>;

Error badAddress(std::string_view text, std::string why) {
  return Error("parse", quoted("IP address", text), "", EINVAL, std::move(why));
}

}  // namespace

IpAddress IpAddress::parse(std::string_view text) {
  const std::string s(text);
  IpAddress a;
  if (::inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET;
    return a;
  }
  if (::inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
    a.family = AF_INET6;
    return a;
  }
  throw badAddress(text, "not an IPv4 or IPv6 address");
}

IpAddress IpAddress::v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  IpAddress ip;
  ip.family = AF_INET;
  ip.bytes[0] = a;
  ip.bytes[1] = b;
  ip.bytes[2] = c;
  ip.bytes[3] = d;
  return ip;
}

std::string IpAddress::str() const {
  char buf[INET6_ADDRSTRLEN];
  ::inet_ntop(family, bytes.data(), buf, sizeof buf);
  return buf;
}

IpPrefix IpPrefix::parse(std::string_view text) {
  if (text == "default") return IpPrefix{IpAddress::v4(0, 0, 0, 0), 0};
  const auto slash = text.find('/');
  IpPrefix p;
  p.address = IpAddress::parse(text.substr(0, slash));
  const int max = p.address.family == AF_INET ? 32 : 128;
  if (slash == std::string_view::npos) {
    p.length = max;
    return p;
  }
  const std::string_view len = text.substr(slash + 1);
  const auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), p.length);
  if (ec != std::errc() || end != len.data() + len.size() || len.empty() || p.length < 0 ||
      p.length > max)
    throw badAddress(text, "prefix length must be 0.." + std::to_string(max));
  return p;
}

std::string IpPrefix::str() const { return address.str() + "/" + std::to_string(length); }

NlAddrPtr toNlAddr(const IpAddress& address) {
  NlAddrPtr a(nl_addr_build(address.family, address.bytes.data(), address.size()));
  if (!a) throw Error("nl_addr_build", address.str(), "", ENOMEM, "out of memory");
  return a;
}

socklen_t toSockaddr(const IpAddress& address, std::uint16_t port, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof out);
  if (address.family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&out);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, address.bytes.data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  std::memcpy(&sin6->sin6_addr, address.bytes.data(), 16);
  return sizeof(sockaddr_in6);
}

NlAddrPtr toNlAddr(const IpPrefix& prefix) {
  NlAddrPtr a = toNlAddr(prefix.address);
  nl_addr_set_prefixlen(a.get(), prefix.length);
  return a;
}

Address::Address(const Rtnl& rtnl, std::string link, IpPrefix prefix)
    : Address(rtnl, link, getLink(rtnl, link).ifindex, prefix) {}

Address::Address(const Rtnl& rtnl, std::string link, int ifindex, IpPrefix prefix)
    : rtnl_(&rtnl), link_(std::move(link)), ifindex_(ifindex), prefix_(prefix) {
  AddrPtr addr(rtnl_addr_alloc());
  if (!addr) throw Error("rtnl_addr_alloc", prefix_.str(), rtnl.where(), ENOMEM, "out of memory");
  NlAddrPtr local = toNlAddr(prefix_);
  rtnl_addr_set_ifindex(addr.get(), ifindex_);
  rtnl_addr_set_family(addr.get(), prefix_.address.family);
  rtnl.check(rtnl_addr_set_local(addr.get(), local.get()), "RTM_NEWADDR", prefix_.str());
  rtnl.check(rtnl_addr_add(rtnl.sock(), addr.get(), NLM_F_CREATE | NLM_F_EXCL), "RTM_NEWADDR",
             prefix_.str() + " on " + quoted("link", link_));
}

Address::Address(Address&& other) noexcept
    : rtnl_(std::exchange(other.rtnl_, nullptr)),
      link_(std::move(other.link_)),
      ifindex_(other.ifindex_),
      prefix_(other.prefix_) {}

Address::~Address() {
  if (rtnl_ == nullptr) return;
  AddrPtr addr(rtnl_addr_alloc());
  if (!addr) return;
  NlAddrPtr local(
      nl_addr_build(prefix_.address.family, prefix_.address.bytes.data(), prefix_.address.size()));
  if (!local) return;
  nl_addr_set_prefixlen(local.get(), prefix_.length);
  rtnl_addr_set_ifindex(addr.get(), ifindex_);
  rtnl_addr_set_family(addr.get(), prefix_.address.family);
  if (rtnl_addr_set_local(addr.get(), local.get()) < 0) return;
  (void)rtnl_addr_delete(rtnl_->sock(), addr.get(), 0);
}

namespace {

// Every address of `family` in the namespace, or only those on `ifindex`.
std::vector<AddressInfo> dumpAddresses(const Rtnl& rtnl, int ifindex, int family,
                                       std::string_view what) {
  nl_cache* raw = nullptr;
  rtnl.check(rtnl_addr_alloc_cache(rtnl.sock(), &raw), "RTM_GETADDR", what);
  CachePtr cache(raw);
  std::vector<AddressInfo> out;
  for (nl_object* o = nl_cache_get_first(cache.get()); o != nullptr; o = nl_cache_get_next(o)) {
    auto* a = reinterpret_cast<rtnl_addr*>(o);
    if ((ifindex != 0 && rtnl_addr_get_ifindex(a) != ifindex) || rtnl_addr_get_family(a) != family)
      continue;
    nl_addr* local = rtnl_addr_get_local(a);
    if (local == nullptr) continue;
    AddressInfo info;
    info.prefix.address.family = family;
    std::memcpy(info.prefix.address.bytes.data(), nl_addr_get_binary_addr(local),
                nl_addr_get_len(local));
    info.prefix.length = rtnl_addr_get_prefixlen(a);
    info.tentative = (rtnl_addr_get_flags(a) & IFA_F_TENTATIVE) != 0;
    info.dad_failed = (rtnl_addr_get_flags(a) & IFA_F_DADFAILED) != 0;
    out.push_back(info);
  }
  return out;
}

}  // namespace

std::vector<AddressInfo> listAddresses(const Rtnl& rtnl, std::string_view link, int family) {
  return dumpAddresses(rtnl, getLink(rtnl, link).ifindex, family, quoted("link", link));
}

std::string addressesNotUsable(const Rtnl& rtnl) {
  for (const auto& a : dumpAddresses(rtnl, 0, AF_INET6, "IPv6 addresses")) {
    if (a.dad_failed)
      throw Error("DAD", a.prefix.str(), rtnl.where(), EADDRINUSE,
                  "duplicate address detected on the link");
    if (a.tentative) return a.prefix.str() + " tentative";
  }
  return {};
}

void waitAddressesUsable(const Rtnl& rtnl, std::chrono::milliseconds deadline) {
  rtnl.waitUntil(
      {RTNLGRP_IPV6_IFADDR}, [&] { return addressesNotUsable(rtnl); }, "wait for IPv6 DAD",
      deadline);
}

}  // namespace deadpeer

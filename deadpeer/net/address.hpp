// net/address: IP addresses on links, IPv4 and IPv6.
//
// An IPv6 address is tentative until the kernel's DAD worker has run: only
// then has the host joined the address's solicited-node multicast group, and
// a neighbour solicitation sent to it before that is dropped (the sender
// retries after 1 s). That happens even with IFA_F_NODAD, which merely hides
// it, so addresses are added plainly; hosts disable DAD in their namespace
// (accept_dad=0) so that the worker finishes at once, and
// waitAddressesUsable() waits for it on rtnetlink events.
//
// Threading: as Rtnl.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "deadpeer/net/rtnl.hpp"

namespace deadpeer {

struct IpAddress {
  int family = AF_INET;  // AF_INET or AF_INET6
  std::array<std::uint8_t, 16> bytes{};

  // "198.18.0.1" or "fd00::1"; throws Error naming the text otherwise.
  static IpAddress parse(std::string_view text);
  static IpAddress v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d);
  std::size_t size() const noexcept { return family == AF_INET ? 4 : 16; }
  std::string str() const;
  bool operator==(const IpAddress&) const = default;
};

struct IpPrefix {
  IpAddress address;
  int length = 0;

  // "198.18.0.1/24", "fd00::1/64", "default"/"0.0.0.0/0"; a bare address is
  // a host prefix (/32 or /128).
  static IpPrefix parse(std::string_view text);
  std::string str() const;
  bool operator==(const IpPrefix&) const = default;
};

NlAddrPtr toNlAddr(const IpAddress& address);
// The socket address of address:port, for bind() and connect(); returns its
// length.
socklen_t toSockaddr(const IpAddress& address, std::uint16_t port, sockaddr_storage& out);
NlAddrPtr toNlAddr(const IpPrefix& prefix);

// An address on a link, removed again by the destructor.
class Address {
 public:
  Address(const Rtnl& rtnl, std::string link, IpPrefix prefix);
  // The same, for a caller that knows the link's index already.
  Address(const Rtnl& rtnl, std::string link, int ifindex, IpPrefix prefix);
  ~Address();
  Address(Address&& other) noexcept;
  Address& operator=(Address&&) = delete;
  Address(const Address&) = delete;

  const IpPrefix& prefix() const noexcept { return prefix_; }
  const std::string& link() const noexcept { return link_; }
  void release() noexcept { rtnl_ = nullptr; }

 private:
  const Rtnl* rtnl_;
  std::string link_;
  int ifindex_ = 0;
  IpPrefix prefix_;
};

struct AddressInfo {
  IpPrefix prefix;
  bool tentative = false;   // IPv6 DAD worker has not run yet
  bool dad_failed = false;  // another host on the link has it
};

// The addresses of one family on a link, as the kernel reports them
// (RTM_GETADDR), link-local ones included.
std::vector<AddressInfo> listAddresses(const Rtnl& rtnl, std::string_view link, int family);

}  // namespace deadpeer

namespace deadpeer {

// Waits until no IPv6 address in the namespace is tentative. A failed DAD
// (a duplicate) is an Error at once, EADDRINUSE.
void waitAddressesUsable(const Rtnl& rtnl, std::chrono::milliseconds deadline);
// The check behind it: "" when all are usable, else the first that is not.
std::string addressesNotUsable(const Rtnl& rtnl);

}  // namespace deadpeer

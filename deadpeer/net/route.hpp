// net/route: routes in a namespace's main table.
//
// Unicast routes (via a gateway, or on a link), including the default route,
// and the three reject types the fault module uses: blackhole (silent drop),
// unreachable (ICMP host unreachable) and prohibit (ICMP administratively
// prohibited).
//
// Threading: as Rtnl.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "deadpeer/net/address.hpp"
#include "deadpeer/net/rtnl.hpp"

namespace deadpeer {

enum class RouteType { kUnicast, kBlackhole, kUnreachable, kProhibit };

std::string_view routeTypeName(RouteType type) noexcept;

struct RouteSpec {
  RouteType type = RouteType::kUnicast;
  IpPrefix destination;              // 0.0.0.0/0 or ::/0 is the default route
  std::optional<IpAddress> gateway;  // unicast only
  std::string device;                // unicast: the outgoing link, "" to let the kernel pick

  static RouteSpec via(IpPrefix destination, IpAddress gateway, std::string device = {});
  static RouteSpec reject(RouteType type, IpPrefix destination);
  std::string str() const;  // "blackhole 198.18.2.0/24", "default via 198.18.1.254 dev eth0"
};

class Route {
 public:
  Route(const Rtnl& rtnl, RouteSpec spec);
  ~Route();
  Route(Route&& other) noexcept;
  Route& operator=(Route&&) = delete;
  Route(const Route&) = delete;

  const RouteSpec& spec() const noexcept { return spec_; }
  void release() noexcept { rtnl_ = nullptr; }

 private:
  const Rtnl* rtnl_;
  RouteSpec spec_;
};

struct RouteInfo {
  RouteType type = RouteType::kUnicast;
  IpPrefix destination;
  std::optional<IpAddress> gateway;
  int ifindex = 0;
};

// The main table's routes of one family (RTM_GETROUTE), kernel routes included.
std::vector<RouteInfo> listRoutes(const Rtnl& rtnl, int family);

}  // namespace deadpeer

#include "deadpeer/net/route.hpp"

#include <linux/rtnetlink.h>
#include <netlink/cache.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include "deadpeer/error.hpp"
#include "deadpeer/net/link.hpp"

namespace deadpeer {
namespace {

using RoutePtr = NlPtr<rtnl_route, rtnl_route_put>;
using CachePtr = NlPtr<nl_cache, nl_cache_free>;

struct TypeRow {
  RouteType type;
  std::uint8_t rtn;
  std::string_view name;
};
constexpr std::array<TypeRow, 4> kTypes{{
    {RouteType::kUnicast, RTN_UNICAST, "unicast"},
    {RouteType::kBlackhole, RTN_BLACKHOLE, "blackhole"},
    {RouteType::kUnreachable, RTN_UNREACHABLE, "unreachable"},
    {RouteType::kProhibit, RTN_PROHIBIT, "prohibit"},
}};

const TypeRow& rowOf(RouteType type) {
  for (const auto& row : kTypes)
    if (row.type == type) return row;
  return kTypes[0];
}

// The libnl object for `spec`; adding and deleting describe it the same way.
RoutePtr buildRoute(const Rtnl& rtnl, const RouteSpec& spec) {
  RoutePtr route(rtnl_route_alloc());
  if (!route) throw Error("rtnl_route_alloc", spec.str(), rtnl.where(), ENOMEM, "out of memory");
  const int family = spec.destination.address.family;
  rtnl_route_set_family(route.get(), static_cast<std::uint8_t>(family));
  rtnl_route_set_table(route.get(), RT_TABLE_MAIN);
  rtnl_route_set_protocol(route.get(), RTPROT_STATIC);
  rtnl_route_set_type(route.get(), rowOf(spec.type).rtn);
  NlAddrPtr dst = toNlAddr(spec.destination);
  rtnl.check(rtnl_route_set_dst(route.get(), dst.get()), "RTM_NEWROUTE", spec.str());
  if (spec.type != RouteType::kUnicast) return route;

  rtnl_route_set_scope(route.get(), spec.gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  if (nh == nullptr)
    throw Error("rtnl_route_nh_alloc", spec.str(), rtnl.where(), ENOMEM, "out of memory");
  rtnl_route_add_nexthop(route.get(), nh);  // the route owns it from here
  if (spec.gateway) {
    if (spec.gateway->family != family)
      throw Error("RTM_NEWROUTE", spec.str(), rtnl.where(), EINVAL,
                  "gateway and destination are of different families");
    NlAddrPtr gw = toNlAddr(*spec.gateway);
    rtnl_route_nh_set_gateway(nh, gw.get());
  }
  if (!spec.device.empty()) rtnl_route_nh_set_ifindex(nh, getLink(rtnl, spec.device).ifindex);
  return route;
}

}  // namespace

std::string_view routeTypeName(RouteType type) noexcept { return rowOf(type).name; }

RouteSpec RouteSpec::via(IpPrefix destination, IpAddress gateway, std::string device) {
  RouteSpec s;
  s.destination = destination;
  s.gateway = gateway;
  s.device = std::move(device);
  return s;
}

RouteSpec RouteSpec::reject(RouteType type, IpPrefix destination) {
  RouteSpec s;
  s.type = type;
  s.destination = destination;
  return s;
}

std::string RouteSpec::str() const {
  std::string text;
  if (type != RouteType::kUnicast) text = std::string(routeTypeName(type)) + " ";
  text += destination.length == 0 ? std::string("default") : destination.str();
  if (gateway) text += " via " + gateway->str();
  if (!device.empty()) text += " dev " + device;
  return text;
}

Route::Route(const Rtnl& rtnl, RouteSpec spec) : rtnl_(&rtnl), spec_(std::move(spec)) {
  RoutePtr route = buildRoute(rtnl, spec_);
  rtnl.check(rtnl_route_add(rtnl.sock(), route.get(), NLM_F_CREATE | NLM_F_EXCL), "RTM_NEWROUTE",
             quoted("route", spec_.str()));
}

Route::Route(Route&& other) noexcept
    : rtnl_(std::exchange(other.rtnl_, nullptr)), spec_(std::move(other.spec_)) {}

Route::~Route() {
  if (rtnl_ == nullptr) return;
  try {
    RoutePtr route = buildRoute(*rtnl_, spec_);
    (void)rtnl_route_delete(rtnl_->sock(), route.get(), 0);
  } catch (const Error&) {
    // The device is gone, and the kernel removed the route with it.
  }
}

std::vector<RouteInfo> listRoutes(const Rtnl& rtnl, int family) {
  nl_cache* raw = nullptr;
  rtnl.check(rtnl_route_alloc_cache(rtnl.sock(), family, 0, &raw), "RTM_GETROUTE", "routes");
  CachePtr cache(raw);
  std::vector<RouteInfo> out;
  for (nl_object* o = nl_cache_get_first(cache.get()); o != nullptr; o = nl_cache_get_next(o)) {
    auto* r = reinterpret_cast<rtnl_route*>(o);
    if (rtnl_route_get_table(r) != RT_TABLE_MAIN) continue;
    RouteInfo info;
    for (const auto& row : kTypes)
      if (row.rtn == rtnl_route_get_type(r)) info.type = row.type;
    nl_addr* dst = rtnl_route_get_dst(r);
    info.destination.address.family = family;
    if (dst != nullptr) {
      std::memcpy(info.destination.address.bytes.data(), nl_addr_get_binary_addr(dst),
                  nl_addr_get_len(dst));
      info.destination.length = static_cast<int>(nl_addr_get_prefixlen(dst));
    }
    if (rtnl_route_get_nnexthops(r) > 0) {
      rtnl_nexthop* nh = rtnl_route_nexthop_n(r, 0);
      info.ifindex = rtnl_route_nh_get_ifindex(nh);
      if (nl_addr* gw = rtnl_route_nh_get_gateway(nh)) {
        IpAddress ip;
        ip.family = family;
        std::memcpy(ip.bytes.data(), nl_addr_get_binary_addr(gw), nl_addr_get_len(gw));
        info.gateway = ip;
      }
    }
    out.push_back(info);
  }
  return out;
}

}  // namespace deadpeer

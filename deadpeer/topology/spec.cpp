#include "deadpeer/topology/spec.hpp"

#include <net/if.h>

#include <cerrno>
#include <cstdio>
#include <set>

#include "deadpeer/error.hpp"

namespace deadpeer {
namespace {

constexpr int kRouterNumber = 254;
constexpr int kProxyNumber = 253;

EndSpec hostEnd(std::string node, std::string link, int segment, int number) {
  return EndSpec{std::move(node),
                 std::move(link),
                 planMac(segment, number),
                 {planPrefix(AF_INET, segment, number), planPrefix(AF_INET6, segment, number)}};
}

// The default routes of a host whose gateway is the router on `segment`.
void addDefaultRoutes(TopologySpec& spec, const std::string& node, const std::string& link,
                      int segment) {
  for (int family : {AF_INET, AF_INET6}) {
    IpPrefix any;  // 0.0.0.0/0 or ::/0
    any.address.family = family;
    spec.routes.push_back(
        {node, RouteSpec::via(any, planAddress(family, segment, kRouterNumber), link)});
  }
}

void attachToSwitch(TopologySpec& spec, const std::string& sw, const std::string& host, int segment,
                    int number) {
  spec.wires.push_back(WireSpec{EndSpec{sw, host, {}, {}}, hostEnd(host, "eth0", segment, number)});
}

Error specError(const TopologySpec& spec, std::string what) {
  return Error("validate", quoted("topology", spec.name), "", EINVAL, std::move(what));
}

}  // namespace

IpAddress planAddress(int family, int segment, int number) {
  if (family == AF_INET)
    return IpAddress::v4(198, 18, static_cast<std::uint8_t>(segment),
                         static_cast<std::uint8_t>(number));
  char text[48];
  std::snprintf(text, sizeof text, "fd00:0:0:%d::%d", segment, number);
  return IpAddress::parse(text);
}

IpPrefix planPrefix(int family, int segment, int number) {
  return IpPrefix{planAddress(family, segment, number), family == AF_INET ? 24 : 64};
}

MacAddress planMac(int segment, int number) {
  return MacAddress{{0x02, 0xde, 0xad, 0x00, static_cast<std::uint8_t>(segment),
                     static_cast<std::uint8_t>(number)}};
}

TopologySpec TopologySpec::twoHosts() {
  TopologySpec spec{"two-hosts", {{"h1"}, {"h2"}}, {}, {}};
  spec.wires.push_back(WireSpec{hostEnd("h1", "eth0", 1, 1), hostEnd("h2", "eth0", 1, 2)});
  return spec;
}

TopologySpec TopologySpec::routed() {
  TopologySpec spec{"routed", {{"h1"}, {"r1", NodeKind::kRouter}, {"h2"}}, {}, {}};
  spec.wires.push_back(
      WireSpec{hostEnd("h1", "eth0", 1, 1), hostEnd("r1", "eth0", 1, kRouterNumber)});
  spec.wires.push_back(
      WireSpec{hostEnd("r1", "eth1", 2, kRouterNumber), hostEnd("h2", "eth0", 2, 2)});
  addDefaultRoutes(spec, "h1", "eth0", 1);
  addDefaultRoutes(spec, "h2", "eth0", 2);
  return spec;
}

TopologySpec TopologySpec::switched() {
  TopologySpec spec{"switched", {{"s1", NodeKind::kSwitch}, {"h1"}, {"h2"}}, {}, {}};
  attachToSwitch(spec, "s1", "h1", 1, 1);
  attachToSwitch(spec, "s1", "h2", 1, 2);
  return spec;
}

TopologySpec TopologySpec::proxied() {
  // p1 is a Host, not a Router: with forwarding off, even a route added by
  // hand would not carry h1's packets to h2; only an L4 relay in p1 does.
  TopologySpec spec{"proxied", {{"h1"}, {"p1"}, {"h2"}}, {}, {}};
  spec.wires.push_back(
      WireSpec{hostEnd("h1", "eth0", 1, 1), hostEnd("p1", "eth0", 1, kProxyNumber)});
  spec.wires.push_back(
      WireSpec{hostEnd("p1", "eth1", 2, kProxyNumber), hostEnd("h2", "eth0", 2, 2)});
  return spec;
}

TopologySpec TopologySpec::manyClients(int clients) {
  TopologySpec spec{"many-clients", {{"s1", NodeKind::kSwitch}, {"server"}}, {}, {}};
  if (clients < 1 || clients > 252)
    throw specError(spec, "clients must be 1..252, got " + std::to_string(clients));
  attachToSwitch(spec, "s1", "server", 1, 1);
  for (int i = 1; i <= clients; ++i) {
    const std::string name = "c" + std::to_string(i);
    spec.nodes.push_back({name});
    attachToSwitch(spec, "s1", name, 1, i + 1);
  }
  return spec;
}

TopologySpec TopologySpec::named(std::string_view name, int clients) {
  if (name == "two-hosts") return twoHosts();
  if (name == "routed") return routed();
  if (name == "switched") return switched();
  if (name == "proxied") return proxied();
  if (name == "many-clients") return manyClients(clients);
  throw Error("topology", quoted("name", name), "", EINVAL,
              "unknown; expected two-hosts, routed, switched, proxied or many-clients");
}

const NodeSpec* TopologySpec::find(std::string_view node) const noexcept {
  for (const auto& n : nodes)
    if (n.name == node) return &n;
  return nullptr;
}

void TopologySpec::validate() const {
  std::set<std::string> names;
  for (const auto& n : nodes) {
    if (n.name.empty() || n.name.size() >= IFNAMSIZ)
      throw specError(*this, "node name \"" + n.name + "\" must be 1.." +
                                 std::to_string(IFNAMSIZ - 1) + " characters");
    if (!names.insert(n.name).second)
      throw specError(*this, "node \"" + n.name + "\" is listed twice");
  }
  std::set<std::pair<std::string, std::string>> links;
  for (const auto& w : wires) {
    for (const EndSpec* e : {&w.a, &w.b}) {
      const NodeSpec* n = find(e->node);
      if (n == nullptr) throw specError(*this, "wire end on unknown node \"" + e->node + "\"");
      if (e->link.empty() || e->link.size() >= IFNAMSIZ)
        throw specError(*this, "link name \"" + e->link + "\" on " + e->node + " must be 1.." +
                                   std::to_string(IFNAMSIZ - 1) + " characters");
      if (!links.insert({e->node, e->link}).second)
        throw specError(*this, "link \"" + e->link + "\" on " + e->node + " is wired twice");
      if (n->kind == NodeKind::kSwitch && (e->mac || !e->addresses.empty()))
        throw specError(*this, "switch port \"" + e->link + "\" on " + e->node +
                                   " cannot have a MAC or addresses");
    }
    if (find(w.a.node)->kind == NodeKind::kSwitch && find(w.b.node)->kind == NodeKind::kSwitch)
      throw specError(*this, "wire between two switches is not supported");
    if (find(w.b.node)->kind == NodeKind::kSwitch)
      throw specError(*this, "a switch must be end a of its wire (" + w.b.node + ")");
  }
  for (const auto& r : routes) {
    const NodeSpec* n = find(r.node);
    if (n == nullptr || n->kind == NodeKind::kSwitch)
      throw specError(*this, "route " + r.route.str() + " on unknown host \"" + r.node + "\"");
    if (!r.route.device.empty() && !links.count({r.node, r.route.device}))
      throw specError(*this, "route " + r.route.str() + " on " + r.node + " uses unknown link \"" +
                                 r.route.device + "\"");
  }
}

}  // namespace deadpeer

// topology/spec: a topology as data.
//
// A TopologySpec lists nodes (hosts, routers, switches), wires (veth pairs)
// and routes. The standard shapes are generated here, and validate()
// checks any spec before a single namespace is made.
//
// Address plan (private ranges only: 198.18.0.0/15 and fd00::/8):
//   - L2 segment s (1, 2, ...) is 198.18.s.0/24 and fd00:0:0:s::/64;
//   - the node numbered k on a segment is 198.18.s.k and fd00:0:0:s::k
//     (the IPv6 suffix spells the same digits); routers are k = 254, and
//     the L4 proxy of the proxied shape is k = 253 on both its segments;
//   - that interface's MAC is 02:de:ad:00:ss:kk (s and k in hex), so a
//     rebuilt host comes back with the same addresses and the same MAC.
//
// Threading: plain data.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "deadpeer/net/address.hpp"
#include "deadpeer/net/link.hpp"
#include "deadpeer/net/route.hpp"

namespace deadpeer {

enum class NodeKind { kHost, kRouter, kSwitch };

struct NodeSpec {
  std::string name;
  NodeKind kind = NodeKind::kHost;
};

// One end of a wire. On a switch the end is a bridge port and carries no
// MAC or addresses of its own.
struct EndSpec {
  std::string node;
  std::string link;
  std::optional<MacAddress> mac;
  std::vector<IpPrefix> addresses;
};

struct WireSpec {
  EndSpec a;
  EndSpec b;
};

struct RouteEntry {
  std::string node;
  RouteSpec route;  // route.device names the link it leaves by
};

struct TopologySpec {
  std::string name;
  std::vector<NodeSpec> nodes;
  std::vector<WireSpec> wires;
  std::vector<RouteEntry> routes;

  // h1 -- h2 on one veth.
  static TopologySpec twoHosts();
  // h1 -- r1 -- h2, each host with a default route via the router.
  static TopologySpec routed();
  // h1 -- s1 -- h2.
  static TopologySpec switched();
  // c1..cN -- s1 -- server; 1 <= clients <= 252.
  static TopologySpec manyClients(int clients);
  // h1 -- p1 -- h2: p1 is a plain host (no forwarding) on segment 1 with h1
  // and on segment 2 with h2, and there are no routes, so h1 and h2 cannot
  // reach each other at L3: only a proxy running in p1, relaying at L4,
  // joins them, as in REFERENCE.md's "L4 proxy in the path" row.
  static TopologySpec proxied();
  // By name: "two-hosts", "routed", "switched", "proxied", "many-clients"
  // (with `clients`).
  static TopologySpec named(std::string_view name, int clients = 0);

  const NodeSpec* find(std::string_view node) const noexcept;
  // Throws Error naming the first problem: duplicate or over-long names,
  // wires to unknown nodes, addresses or MACs on switch ports, switch-to-switch
  // wires, routes on unknown nodes or links.
  void validate() const;
};

// The address plan above.
IpAddress planAddress(int family, int segment, int number);
IpPrefix planPrefix(int family, int segment, int number);
MacAddress planMac(int segment, int number);

}  // namespace deadpeer

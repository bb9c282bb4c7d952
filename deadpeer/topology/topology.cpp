#include "deadpeer/topology/topology.hpp"

#include <algorithm>
#include <cerrno>
#include <exception>
#include <future>

#include <linux/rtnetlink.h>

#include "deadpeer/error.hpp"

namespace deadpeer {

// Linkwatch handles veth carrier changes as urgent events, within
// milliseconds; a second is already a broken kernel.
constexpr std::chrono::milliseconds kReadyDeadline{5000};

Topology::Topology(TopologySpec spec) : spec_(std::move(spec)) {
  spec_.validate();
  // Members are RAII: if anything below throws, the destructor of each node
  // and wire made so far runs, and nothing is left.
  try {
    createNodes();
    wires_.reserve(spec_.wires.size());
    for (const auto& w : spec_.wires) plumb(wires_.emplace_back(Wire{&w, std::nullopt}));
    for (const auto& r : spec_.routes) host(r.node).addRoute(r.route);
    waitReady({});
  } catch (...) {
    wires_.clear();
    throw;
  }
}

Topology::~Topology() {
  // A wire dies with either namespace; deleting each one here would only
  // add synchronous RCU waits to teardown.
  for (auto& w : wires_)
    if (w.veth) w.veth->release();
}

namespace {

std::unique_ptr<Host> makeHost(const NodeSpec& node) {
  if (node.kind == NodeKind::kRouter) return std::make_unique<Router>(node.name);
  return std::make_unique<Host>(node.name);
}

}  // namespace

void Topology::createNodes() {
  // Nodes are independent, and most of a node's cost is the kernel setting
  // up its namespace, which runs concurrently for different namespaces; so
  // nodes are made in parallel, a bounded batch at a time.
  struct Made {
    std::unique_ptr<Host> host;
    std::unique_ptr<Switch> sw;
  };
  constexpr std::size_t kBatch = 8;
  std::exception_ptr failure;
  for (std::size_t first = 0; first < spec_.nodes.size(); first += kBatch) {
    std::vector<std::future<Made>> batch;
    const std::size_t last = std::min(first + kBatch, spec_.nodes.size());
    for (std::size_t i = first; i < last; ++i) {
      batch.push_back(std::async(std::launch::async, [&node = spec_.nodes[i]] {
        Made made;
        if (node.kind == NodeKind::kSwitch)
          made.sw = std::make_unique<Switch>(node.name);
        else
          made.host = makeHost(node);
        return made;
      }));
    }
    // Collect every result, so that nodes made beside a failure are owned
    // (and so freed) too.
    for (std::size_t i = first; i < last; ++i) {
      try {
        Made made = batch[i - first].get();
        if (made.sw) switches_.emplace(spec_.nodes[i].name, std::move(made.sw));
        if (made.host) hosts_.emplace(spec_.nodes[i].name, std::move(made.host));
      } catch (...) {
        if (!failure) failure = std::current_exception();
      }
    }
    if (failure) std::rethrow_exception(failure);
  }
}

Host& Topology::host(std::string_view name) const {
  if (auto it = hosts_.find(name); it != hosts_.end()) return *it->second;
  throw Error("find", quoted("host", name), quoted("topology", spec_.name), ENOENT,
              spec_.find(name) != nullptr ? "host is down" : "no such host");
}

Switch& Topology::switchNode(std::string_view name) const {
  if (auto it = switches_.find(name); it != switches_.end()) return *it->second;
  throw Error("find", quoted("switch", name), quoted("topology", spec_.name), ENOENT,
              "no such switch");
}

IpAddress Topology::address(std::string_view host, int family) const {
  for (const auto& w : spec_.wires)
    for (const EndSpec* e : {&w.a, &w.b})
      if (e->node == host)
        for (const auto& p : e->addresses)
          if (p.address.family == family) return p.address;
  throw Error("find", quoted("address of host", host), quoted("topology", spec_.name),
              EADDRNOTAVAIL, family == AF_INET ? "no IPv4 address" : "no IPv6 address");
}

const Rtnl& Topology::rtnlOf(const std::string& node) const {
  if (auto it = switches_.find(node); it != switches_.end()) return it->second->rtnl();
  return host(node).rtnl();
}

void Topology::plumb(Wire& wire) {
  const WireSpec& w = *wire.spec;
  VethEnd a{w.a.link, w.a.mac, true, 0};
  if (auto it = switches_.find(w.a.node); it != switches_.end())
    a.master = it->second->bridge().ifindex();
  wire.veth.emplace(rtnlOf(w.a.node), a, rtnlOf(w.b.node), VethEnd{w.b.link, w.b.mac, true, 0});
  configureEnd(w.a);
  configureEnd(w.b);
}

void Topology::configureEnd(const EndSpec& end) {
  if (end.addresses.empty()) return;
  Host& h = host(end.node);
  const int ifindex = getLink(h.rtnl(), end.link).ifindex;
  for (const auto& p : end.addresses) h.addAddress(end.link, ifindex, p);
}

void Topology::addRoutes(const std::string& node, std::string_view link) {
  for (const auto& r : spec_.routes)
    if (r.node == node && r.route.device == link) host(node).addRoute(r.route);
}

void Topology::rebuild(std::string_view name) {
  takeDown(name);
  bringUp(name);
}

void Topology::takeDown(std::string_view name) {
  auto it = hosts_.find(name);
  if (it == hosts_.end())
    throw Error("take down", quoted("host", name), quoted("topology", spec_.name), ENOENT,
                spec_.find(name) != nullptr ? "host is already down" : "no such host");

  // 1. Cut every wire of the host first, so that nothing it does from here
  //    on (sockets closing, FINs, RSTs) can reach anyone. RTM_DELLINK returns
  //    once both ends are unregistered: the far ends' names are free again,
  //    and the far hosts' addresses and routes on them are gone.
  for (auto& w : wires_) {
    if (w.spec->a.node != name && w.spec->b.node != name) continue;
    w.veth.reset();
    for (const EndSpec* e : {&w.spec->a, &w.spec->b})
      if (e->node != name && hosts_.count(e->node)) host(e->node).forgetLink(e->link);
  }

  // 2. Drop the namespace: sockets still open in it have no link left, and
  //    the kernel frees it when the last of them closes.
  hosts_.erase(it);
}

void Topology::bringUp(std::string_view name) {
  const NodeSpec* node = spec_.find(name);
  if (node == nullptr || node->kind == NodeKind::kSwitch)
    throw Error("bring up", quoted("host", name), quoted("topology", spec_.name), ENOENT,
                "no such host");
  if (hosts_.count(name))
    throw Error("bring up", quoted("host", name), quoted("topology", spec_.name), EEXIST,
                "host is already up");
  hosts_.emplace(node->name, makeHost(*node));

  // Plumb its wires again, with the same names, MACs and addresses, then the
  // routes that ride on them, on both ends.
  std::vector<Wire*> plumbed;
  for (auto& w : wires_) {
    if (w.veth || (w.spec->a.node != name && w.spec->b.node != name)) continue;
    plumb(w);
    for (const EndSpec* e : {&w.spec->a, &w.spec->b})
      if (hosts_.count(e->node)) addRoutes(e->node, e->link);
    plumbed.push_back(&w);
  }
  waitReady(plumbed);
}

std::vector<Topology::LinkEnd> Topology::linksOf(std::string_view name) const {
  std::vector<LinkEnd> out;
  for (const auto& w : spec_.wires) {
    if (w.a.node == name) out.push_back({w.a.node, w.a.link});
    if (w.b.node == name) out.push_back({w.b.node, w.b.link});
  }
  return out;
}

std::vector<Topology::LinkEnd> Topology::farEndsOf(std::string_view name) const {
  std::vector<LinkEnd> out;
  for (const auto& w : spec_.wires) {
    if (w.a.node == name) out.push_back({w.b.node, w.b.link});
    if (w.b.node == name) out.push_back({w.a.node, w.a.link});
  }
  return out;
}

const Netns& Topology::netnsOf(std::string_view node) const {
  if (auto it = switches_.find(node); it != switches_.end()) return it->second->netns();
  return host(node).netns();
}

bool Topology::isUp(std::string_view name) const { return hosts_.count(name) != 0; }

void Topology::waitReady(const std::vector<Wire*>& only) {
  std::map<std::string, std::vector<std::string>, std::less<>> links;
  for (auto& w : wires_) {
    if (!only.empty() && std::find(only.begin(), only.end(), &w) == only.end()) continue;
    for (const EndSpec* e : {&w.spec->a, &w.spec->b}) links[e->node].push_back(e->link);
  }
  for (const auto& [node, names] : links)
    waitTrafficReady(rtnlOf(node), names, hosts_.count(node) != 0, kReadyDeadline);
}

}  // namespace deadpeer

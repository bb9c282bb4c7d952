// topology: builds a TopologySpec into live namespaces, and tears it down.
//
// Building is all-or-nothing: if any step fails, everything made so far is
// undone before the Error propagates. Teardown closes the namespaces; the
// kernel frees links, addresses and routes with them, off the caller's path.
//
// rebuild(host) is the reboot primitive (takeDown, then bringUp): the host's
// wires are deleted (synchronously, so their names are free again at once),
// its namespace and every socket bound to it are dropped, and a fresh
// namespace comes back with the same links, addresses, MACs and routes. Nodes on the other end of
// its wires get their side re-plumbed too. Since the MAC is unchanged, peers' neighbour entries
// stay valid, and the switch learns the new port on the first frame: the host is reachable at once.
//
// If rebuild() throws, the topology is left partly plumbed; destroying it
// still frees everything.
//
// Threading: one thread at a time.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "deadpeer/topology/host.hpp"
#include "deadpeer/topology/spec.hpp"

namespace deadpeer {

class Topology {
 public:
  explicit Topology(TopologySpec spec);
  ~Topology();
  Topology(const Topology&) = delete;
  Topology& operator=(const Topology&) = delete;

  const TopologySpec& spec() const noexcept { return spec_; }
  // Hosts and routers; throws Error for an unknown name.
  Host& host(std::string_view name) const;
  Switch& switchNode(std::string_view name) const;
  // The first address of `family` on the host's first wire.
  IpAddress address(std::string_view host, int family) const;

  // takeDown() then bringUp(): the reboot primitive.
  void rebuild(std::string_view host);

  // One end of a wire: a link of a node.
  struct LinkEnd {
    std::string node;
    std::string link;
  };
  // The host's own ends of its wires, and the far end of each, in the same
  // order (the far end may be a switch port).
  std::vector<LinkEnd> linksOf(std::string_view host) const;
  std::vector<LinkEnd> farEndsOf(std::string_view host) const;
  // The namespace of any node, host or switch.
  const Netns& netnsOf(std::string_view node) const;
  // A crash: cuts the host's wires, then drops its namespace. Until
  // bringUp(), host(name) throws ("host is down").
  void takeDown(std::string_view host);
  // Rebuilds a host taken down: same links, MACs, addresses and routes, on
  // both ends of each of its wires, ready to carry traffic on return.
  void bringUp(std::string_view host);
  bool isUp(std::string_view host) const;

 private:
  struct Wire {
    const WireSpec* spec;
    std::optional<Veth> veth;
  };

  void createNodes();
  const Rtnl& rtnlOf(const std::string& node) const;
  void plumb(Wire& wire);
  void configureEnd(const EndSpec& end);
  void addRoutes(const std::string& node, std::string_view link);
  // Waits until the links of `only` (all wires when empty) carry traffic.
  void waitReady(const std::vector<Wire*>& only);

  TopologySpec spec_;
  std::map<std::string, std::unique_ptr<Host>, std::less<>> hosts_;
  std::map<std::string, std::unique_ptr<Switch>, std::less<>> switches_;
  std::vector<Wire> wires_;
};

}  // namespace deadpeer

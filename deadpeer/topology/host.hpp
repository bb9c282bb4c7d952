// topology/host: the nodes of a topology.
//
// A Host is a network namespace with its own rtnetlink socket, its loopback
// up, IPv6 DAD off, and the addresses and routes placed in it. A Router is a
// Host that forwards IPv4 and IPv6. A Switch is a bridge alone in a namespace
// of its own; hosts reach it over veth pairs whose switch ends are its ports.
//
// A Host owns the processes started in it: each program's PID namespace (its
// tree, ns/pidns.hpp) is handed to the host with own(), and destroying the
// host (trial end, or a reboot's take-down) kills every tree still alive,
// waiting at most PidNamespace::kKillDeadline for each.
//
// Teardown: a node hands every object inside it to its namespace and closes
// the namespace; the kernel frees the rest asynchronously, off our hot path.
// Links that cross to another namespace are not a node's: Topology owns them.
//
// Threading: a node is used by one thread at a time, except own(), which is
// safe from any thread.
#pragma once

#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "deadpeer/net/address.hpp"
#include "deadpeer/net/link.hpp"
#include "deadpeer/net/route.hpp"
#include "deadpeer/net/rtnl.hpp"
#include "deadpeer/ns/netns.hpp"
#include "deadpeer/ns/pidns.hpp"

namespace deadpeer {

class Host {
 public:
  explicit Host(std::string name) : Host(std::move(name), "host", false) {}
  virtual ~Host();
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  const std::string& name() const noexcept { return name_; }
  const Netns& netns() const noexcept { return netns_; }
  const Rtnl& rtnl() const noexcept { return rtnl_; }

  void addAddress(const std::string& link, const IpPrefix& prefix);
  void addAddress(const std::string& link, int ifindex, const IpPrefix& prefix);
  void addRoute(const RouteSpec& route);
  // The link is gone (its veth peer was deleted), and the kernel removed its
  // addresses and routes with it: stop owning them.
  void forgetLink(std::string_view link) noexcept;

  // The addresses this host was given, in the order given.
  std::vector<IpPrefix> addresses() const;

  // The processes of a program started in this host: they die with it.
  void own(std::shared_ptr<PidNamespace> tree);
  // The trees it owns that still run.
  std::vector<std::shared_ptr<PidNamespace>> trees() const;

 protected:
  Host(std::string name, std::string_view role, bool forwarding);

 private:
  std::string name_;
  Netns netns_;
  Rtnl rtnl_;
  // Lists, because the RAII types move but never assign.
  std::list<Address> addresses_;
  std::list<Route> routes_;
  mutable std::mutex trees_mutex_;
  std::vector<std::weak_ptr<PidNamespace>> trees_;
};

class Router : public Host {
 public:
  explicit Router(std::string name) : Host(std::move(name), "router", true) {}
};

class Switch {
 public:
  explicit Switch(std::string name);
  ~Switch();
  Switch(const Switch&) = delete;
  Switch& operator=(const Switch&) = delete;

  const std::string& name() const noexcept { return name_; }
  const Netns& netns() const noexcept { return netns_; }
  const Rtnl& rtnl() const noexcept { return rtnl_; }
  const Bridge& bridge() const noexcept { return bridge_; }

 private:
  std::string name_;
  Netns netns_;
  Rtnl rtnl_;
  Bridge bridge_;
};

}  // namespace deadpeer

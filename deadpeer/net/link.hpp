// net/link: links in one namespace (veth pairs, bridges, bridge ports), their
// state (up/down) and their MAC address.
//
// Each RAII type creates its kernel object in the constructor, after the
// kernel's ack, and deletes it in the destructor. A destructor never throws
// and tolerates an object that is already gone (a veth dies with its peer's
// namespace). release() hands the object to its namespace: it is freed when
// the namespace is, which is how a whole topology is torn down in one step.
//
// Threading: as Rtnl; a link object uses the Rtnl it was made with, which
// must outlive it.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "deadpeer/net/rtnl.hpp"

namespace deadpeer {

struct MacAddress {
  std::array<std::uint8_t, 6> bytes{};
  // "02:de:ad:00:01:02"; throws Error on anything else.
  static MacAddress parse(std::string_view text);
  std::string str() const;
  bool operator==(const MacAddress&) const = default;
};

// What the kernel says about one link (RTM_GETLINK).
struct LinkInfo {
  int ifindex = 0;
  std::string name;
  std::string kind;  // "veth", "bridge", ... or "" for lo
  bool admin_up = false;
  bool lower_up = false;  // carrier
  MacAddress mac;
  int master = 0;  // ifindex of the bridge it is a port of, 0 when none
  unsigned mtu = 0;
  bool oper_up = false;  // IF_OPER_UP: linkwatch has seen the carrier
  std::string qdisc;     // "noop" until linkwatch activates the TX queue
};

std::optional<LinkInfo> findLink(const Rtnl& rtnl, std::string_view name);
// As findLink, but a missing link is an Error (RTM_GETLINK ...: No such device).
LinkInfo getLink(const Rtnl& rtnl, std::string_view name);

void setLinkUp(const Rtnl& rtnl, std::string_view name, bool up);

// A new link's carrier, its TX queue and, on a bridge, its port state are
// switched on later by the kernel's linkwatch worker; until then frames are
// dropped and a first SYN costs a 1 s retransmission. This waits on rtnetlink
// link events until every named link is operationally up, its qdisc is
// active, and, if it is a bridge port, it forwards. Throws Error with
// ETIMEDOUT naming the first link still not ready at the deadline.
void waitLinksReady(const Rtnl& rtnl, const std::vector<std::string>& links,
                    std::chrono::milliseconds deadline);
// waitLinksReady, and then also waitAddressesUsable for the namespace's IPv6
// addresses: what a link needs before a first packet on it gets through.
void waitTrafficReady(const Rtnl& rtnl, const std::vector<std::string>& links, bool addresses,
                      std::chrono::milliseconds deadline);

// The check behind waitLinksReady: "" when all are ready, else the first
// link that is not and why.
std::string linksNotReady(const Rtnl& rtnl, const std::vector<std::string>& links);
void setLinkMac(const Rtnl& rtnl, std::string_view name, const MacAddress& mac);

// One end of a veth pair as it is created.
struct VethEnd {
  std::string name;
  std::optional<MacAddress> mac;
  bool up = true;
  // Only for the end in the creating namespace: enslave it to this bridge
  // (an ifindex there) in the same request.
  int master = 0;
};

// A veth pair whose end `a` is in `a_ns` and end `b` in `b_ns`; both ends are
// created where they belong in one RTM_NEWLINK, so no interface ever appears
// in any other namespace. The destructor deletes end a, and the kernel
// deletes b with it.
class Veth {
 public:
  Veth(const Rtnl& a_ns, VethEnd a, const Rtnl& b_ns, VethEnd b);
  ~Veth();
  Veth(Veth&& other) noexcept;
  Veth& operator=(Veth&&) = delete;
  Veth(const Veth&) = delete;

  const std::string& nameA() const noexcept { return a_name_; }
  const std::string& nameB() const noexcept { return b_name_; }
  void release() noexcept { rtnl_ = nullptr; }

 private:
  const Rtnl* rtnl_;
  std::string a_name_;
  std::string b_name_;
};

// A Linux bridge, created up, with STP off so that ports forward at once.
class Bridge {
 public:
  Bridge(const Rtnl& rtnl, std::string name, std::optional<MacAddress> mac = {});
  ~Bridge();
  Bridge(Bridge&& other) noexcept;
  Bridge& operator=(Bridge&&) = delete;
  Bridge(const Bridge&) = delete;

  const std::string& name() const noexcept { return name_; }
  int ifindex() const noexcept { return ifindex_; }
  void release() noexcept { rtnl_ = nullptr; }

 private:
  const Rtnl* rtnl_;
  std::string name_;
  int ifindex_ = 0;
};

// An existing link made a port of a bridge; the destructor detaches it.
class BridgePort {
 public:
  BridgePort(const Rtnl& rtnl, const Bridge& bridge, std::string port);
  ~BridgePort();
  BridgePort(BridgePort&& other) noexcept;
  BridgePort& operator=(BridgePort&&) = delete;
  BridgePort(const BridgePort&) = delete;

  const std::string& name() const noexcept { return port_; }
  void release() noexcept { rtnl_ = nullptr; }

 private:
  const Rtnl* rtnl_;
  std::string port_;
};

}  // namespace deadpeer

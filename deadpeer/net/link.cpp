#include "deadpeer/net/link.hpp"

#include <linux/if.h>
#include <linux/if_arp.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/veth.h>

#include <linux/if_bridge.h>
#include <netlink/cache.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "deadpeer/error.hpp"
#include "deadpeer/net/address.hpp"

namespace deadpeer {
namespace {

NlAddrPtr macToNl(const MacAddress& mac) {
  return NlAddrPtr(nl_addr_build(AF_LLC, mac.bytes.data(), mac.bytes.size()));
}

// The kernel's dev_valid_name(), checked before libnl gets the name:
// rtnl_link_set_name() would silently cut a long one to 15 characters.
void checkLinkName(const Rtnl& rtnl, std::string_view kind, std::string_view name) {
  std::string why;
  if (name.empty() || name == "." || name == "..")
    why = "not a valid interface name";
  else if (name.size() >= IFNAMSIZ)
    why = "interface names are at most " + std::to_string(IFNAMSIZ - 1) + " characters";
  else if (name.find_first_of("/: \t\n") != std::string_view::npos)
    why = "interface names cannot contain '/', ':' or white space";
  if (!why.empty()) throw Error("RTM_NEWLINK", quoted(kind, name), rtnl.where(), EINVAL, why);
}

LinkPtr allocLink(const Rtnl& rtnl, std::string_view what) {
  LinkPtr link(rtnl_link_alloc());
  if (!link)
    throw Error("rtnl_link_alloc", std::string(what), rtnl.where(), ENOMEM, "out of memory");
  return link;
}

// A change addressed by name: RTM_NEWLINK without NLM_F_CREATE on an
// existing link, which the kernel finds by IFLA_IFNAME; one round trip,
// no lookup of the index first.
void changeLink(const Rtnl& rtnl, std::string_view name, rtnl_link* changes,
                std::string_view what) {
  const std::string object = quoted("link", name) + " " + std::string(what);
  checkLinkName(rtnl, "link", name);
  rtnl_link_set_name(changes, std::string(name).c_str());
  rtnl.check(rtnl_link_add(rtnl.sock(), changes, 0), "RTM_NEWLINK", object);
}

void deleteLinkQuietly(const Rtnl& rtnl, const std::string& name) noexcept {
  LinkPtr link(rtnl_link_alloc());
  if (!link) return;
  rtnl_link_set_name(link.get(), name.c_str());
  // Already gone is fine: a veth dies with its peer's namespace.
  (void)rtnl_link_delete(rtnl.sock(), link.get());
}

}  // namespace

MacAddress MacAddress::parse(std::string_view text) {
  MacAddress mac;
  unsigned b[6];
  char tail;
  const std::string s(text);
  if (std::sscanf(s.c_str(), "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
                  &tail) != 6 ||
      s.size() != 17)
    throw Error("parse", quoted("MAC address", text), "", EINVAL,
                "expected six hex octets such as 02:de:ad:00:00:01");
  for (int i = 0; i < 6; ++i) mac.bytes[i] = static_cast<std::uint8_t>(b[i]);
  return mac;
}

std::string MacAddress::str() const {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2],
                bytes[3], bytes[4], bytes[5]);
  return buf;
}

std::optional<LinkInfo> findLink(const Rtnl& rtnl, std::string_view name) {
  rtnl_link* raw = nullptr;
  const int rc = rtnl_link_get_kernel(rtnl.sock(), 0, std::string(name).c_str(), &raw);
  LinkPtr link(raw);
  if (rc == -NLE_NODEV || rc == -NLE_OBJ_NOTFOUND) return std::nullopt;
  rtnl.check(rc, "RTM_GETLINK", quoted("link", name));
  LinkInfo info;
  info.ifindex = rtnl_link_get_ifindex(link.get());
  info.name = rtnl_link_get_name(link.get());
  if (const char* kind = rtnl_link_get_type(link.get())) info.kind = kind;
  const unsigned flags = rtnl_link_get_flags(link.get());
  info.admin_up = (flags & IFF_UP) != 0;
  info.lower_up = (flags & IFF_LOWER_UP) != 0;
  if (nl_addr* a = rtnl_link_get_addr(link.get()); a != nullptr && nl_addr_get_len(a) == 6) {
    const auto* p = static_cast<const std::uint8_t*>(nl_addr_get_binary_addr(a));
    for (int i = 0; i < 6; ++i) info.mac.bytes[i] = p[i];
  }
  info.master = rtnl_link_get_master(link.get());
  info.mtu = rtnl_link_get_mtu(link.get());
  info.oper_up = rtnl_link_get_operstate(link.get()) == IF_OPER_UP;
  if (const char* q = rtnl_link_get_qdisc(link.get())) info.qdisc = q;
  return info;
}

LinkInfo getLink(const Rtnl& rtnl, std::string_view name) {
  if (auto info = findLink(rtnl, name)) return *info;
  throw Error("RTM_GETLINK", quoted("link", name), rtnl.where(), ENODEV, "No such device");
}

void setLinkUp(const Rtnl& rtnl, std::string_view name, bool up) {
  LinkPtr changes = allocLink(rtnl, name);
  if (up)
    rtnl_link_set_flags(changes.get(), IFF_UP);
  else
    rtnl_link_unset_flags(changes.get(), IFF_UP);
  changeLink(rtnl, name, changes.get(), up ? "up" : "down");
}

void setLinkMac(const Rtnl& rtnl, std::string_view name, const MacAddress& mac) {
  LinkPtr changes = allocLink(rtnl, name);
  NlAddrPtr addr = macToNl(mac);
  rtnl_link_set_addr(changes.get(), addr.get());
  changeLink(rtnl, name, changes.get(), "address " + mac.str());
}

namespace {

using CachePtr = NlPtr<nl_cache, nl_cache_free>;

// The bridge port state of every port in the namespace (AF_BRIDGE dump).
std::vector<std::pair<int, int>> bridgePortStates(const Rtnl& rtnl) {
  nl_cache* raw = nullptr;
  rtnl.check(rtnl_link_alloc_cache(rtnl.sock(), AF_BRIDGE, &raw), "RTM_GETLINK", "bridge ports");
  CachePtr cache(raw);
  std::vector<std::pair<int, int>> out;
  for (nl_object* o = nl_cache_get_first(cache.get()); o != nullptr; o = nl_cache_get_next(o)) {
    auto* l = reinterpret_cast<rtnl_link*>(o);
    out.emplace_back(rtnl_link_get_ifindex(l), rtnl_link_bridge_get_port_state(l));
  }
  return out;
}

// Empty when the link is ready, else what is still missing.
std::string notReady(const Rtnl& rtnl, const std::string& name) {
  const LinkInfo info = getLink(rtnl, name);
  if (!info.oper_up) return "not operationally up";
  if (info.qdisc.empty() || info.qdisc == "noop") return "TX queue not activated";
  if (info.master != 0 && info.kind != "bridge") {
    for (const auto& [ifindex, state] : bridgePortStates(rtnl))
      if (ifindex == info.ifindex && state != BR_STATE_FORWARDING)
        return "bridge port state " + std::to_string(state) + ", not forwarding";
  }
  return {};
}

}  // namespace

std::string linksNotReady(const Rtnl& rtnl, const std::vector<std::string>& links) {
  for (const auto& name : links)
    if (std::string why = notReady(rtnl, name); !why.empty())
      return quoted("link", name) + " " + why;
  return {};
}

void waitLinksReady(const Rtnl& rtnl, const std::vector<std::string>& links,
                    std::chrono::milliseconds deadline) {
  rtnl.waitUntil(
      {RTNLGRP_LINK}, [&] { return linksNotReady(rtnl, links); }, "wait for link ready", deadline);
}

void waitTrafficReady(const Rtnl& rtnl, const std::vector<std::string>& links, bool addresses,
                      std::chrono::milliseconds deadline) {
  rtnl.waitUntil(
      {RTNLGRP_LINK, RTNLGRP_IPV6_IFADDR},
      [&] {
        std::string missing = linksNotReady(rtnl, links);
        if (missing.empty() && addresses) missing = addressesNotUsable(rtnl);
        return missing;
      },
      "wait for traffic ready", deadline);
}

Veth::Veth(const Rtnl& a_ns, VethEnd a, const Rtnl& b_ns, VethEnd b)
    : rtnl_(&a_ns), a_name_(a.name), b_name_(b.name) {
  const std::string object =
      quoted("veth", a.name) + " (peer \"" + b.name + "\" in " + b_ns.where() + ")";
  checkLinkName(a_ns, "veth", a.name);
  checkLinkName(b_ns, "veth", b.name);
  LinkPtr link(rtnl_link_veth_alloc());
  if (!link) throw Error("rtnl_link_veth_alloc", object, a_ns.where(), ENOMEM, "out of memory");
  LinkPtr peer(rtnl_link_veth_get_peer(link.get()));

  auto describe = [](rtnl_link* l, const VethEnd& end) {
    rtnl_link_set_name(l, end.name.c_str());
    if (end.mac) {
      NlAddrPtr addr = macToNl(*end.mac);
      rtnl_link_set_addr(l, addr.get());
    }
  };
  describe(link.get(), a);
  describe(peer.get(), b);
  // Only end a can be created up: the kernel opens the peer before the two
  // ends know each other, and veth_open() then fails with ENOTCONN.
  if (a.up) rtnl_link_set_flags(link.get(), IFF_UP);
  if (a.master != 0) rtnl_link_set_master(link.get(), a.master);
  rtnl_link_set_ns_fd(peer.get(), b_ns.netnsFd());

  a_ns.check(rtnl_link_add(a_ns.sock(), link.get(), NLM_F_CREATE | NLM_F_EXCL), "RTM_NEWLINK",
             object);
  if (!b.up) return;
  try {
    setLinkUp(b_ns, b.name, true);
  } catch (...) {
    deleteLinkQuietly(a_ns, a.name);
    throw;
  }
}

Veth::Veth(Veth&& other) noexcept
    : rtnl_(std::exchange(other.rtnl_, nullptr)),
      a_name_(std::move(other.a_name_)),
      b_name_(std::move(other.b_name_)) {}

Veth::~Veth() {
  if (rtnl_ != nullptr) deleteLinkQuietly(*rtnl_, a_name_);
}

Bridge::Bridge(const Rtnl& rtnl, std::string name, std::optional<MacAddress> mac)
    : rtnl_(&rtnl), name_(std::move(name)) {
  const std::string object = quoted("bridge", name_);
  checkLinkName(rtnl, "bridge", name_);
  LinkPtr link(rtnl_link_bridge_alloc());
  if (!link) throw Error("rtnl_link_bridge_alloc", object, rtnl.where(), ENOMEM, "out of memory");
  rtnl_link_set_name(link.get(), name_.c_str());
  if (mac) {
    NlAddrPtr addr = macToNl(*mac);
    rtnl_link_set_addr(link.get(), addr.get());
  }
  rtnl_link_set_flags(link.get(), IFF_UP);
  rtnl.check(rtnl_link_add(rtnl.sock(), link.get(), NLM_F_CREATE | NLM_F_EXCL), "RTM_NEWLINK",
             object);
  try {
    ifindex_ = getLink(rtnl, name_).ifindex;
  } catch (...) {
    deleteLinkQuietly(rtnl, name_);
    throw;
  }
}

Bridge::Bridge(Bridge&& other) noexcept
    : rtnl_(std::exchange(other.rtnl_, nullptr)),
      name_(std::move(other.name_)),
      ifindex_(other.ifindex_) {}

Bridge::~Bridge() {
  if (rtnl_ != nullptr) deleteLinkQuietly(*rtnl_, name_);
}

BridgePort::BridgePort(const Rtnl& rtnl, const Bridge& bridge, std::string port)
    : rtnl_(&rtnl), port_(std::move(port)) {
  const int slave = getLink(rtnl, port_).ifindex;
  rtnl.check(rtnl_link_enslave_ifindex(rtnl.sock(), bridge.ifindex(), slave), "RTM_NEWLINK",
             quoted("link", port_) + " master " + quoted("bridge", bridge.name()));
}

BridgePort::BridgePort(BridgePort&& other) noexcept
    : rtnl_(std::exchange(other.rtnl_, nullptr)), port_(std::move(other.port_)) {}

BridgePort::~BridgePort() {
  if (rtnl_ == nullptr) return;
  try {
    if (auto info = findLink(*rtnl_, port_); info && info->master != 0)
      (void)rtnl_link_release_ifindex(rtnl_->sock(), info->ifindex);
  } catch (const Error&) {
    // The port's namespace is going away; nothing is left to detach.
  }
}

}  // namespace deadpeer

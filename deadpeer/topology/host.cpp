#include "deadpeer/topology/host.hpp"

#include <algorithm>

#include "deadpeer/ns/sysctl.hpp"

namespace deadpeer {
namespace {

Netns createNamed(std::string_view role, const std::string& name,
                  const std::function<void()>& inside = {}) {
  return Netns::create(std::string(role) + " " + name, inside);
}

}  // namespace

Host::Host(std::string name, std::string_view role, bool forwarding)
    : name_(std::move(name)),
      netns_(createNamed(role, name_,
                         [&, where = std::string(role) + " " + name_] {
                           // New links inherit "default", and DAD then completes
                           // at once (see net/address.hpp); "all" is 0 already.
                           // keep_addr_on_down holds if "all" or the link's own
                           // value is set: a link that goes down keeps its IPv6
                           // addresses, as with an unplugged cable (the
                           // kernel's default flushes them).
                           writeSysctlHere("net.ipv6.conf.default.accept_dad", "0", where);
                           writeSysctlHere("net.ipv6.conf.all.keep_addr_on_down", "1", where);
                           if (forwarding) {
                             writeSysctlHere("net.ipv4.ip_forward", "1", where);
                             writeSysctlHere("net.ipv6.conf.all.forwarding", "1", where);
                           }
                         })),
      rtnl_(netns_) {
  setLinkUp(rtnl_, "lo", true);
}

Host::~Host() {
  // Its processes first: a reboot's take-down is every process dying too.
  // Every init is signalled before any is waited on, so they die together.
  const auto alive = trees();
  const std::string why = "host " + name_ + " taken down";
  for (const auto& tree : alive) tree->kill(std::chrono::milliseconds(0), why);
  for (const auto& tree : alive) tree->kill(PidNamespace::kKillDeadline, why);
  // The namespace takes everything in it down when it is freed.
  for (auto& a : addresses_) a.release();
  for (auto& r : routes_) r.release();
}

void Host::addAddress(const std::string& link, const IpPrefix& prefix) {
  addresses_.emplace_back(rtnl_, link, prefix);
}

void Host::addAddress(const std::string& link, int ifindex, const IpPrefix& prefix) {
  addresses_.emplace_back(rtnl_, link, ifindex, prefix);
}

void Host::addRoute(const RouteSpec& route) { routes_.emplace_back(rtnl_, route); }

void Host::forgetLink(std::string_view link) noexcept {
  for (auto& a : addresses_)
    if (a.link() == link) a.release();
  addresses_.remove_if([&](const Address& a) { return a.link() == link; });
  for (auto& r : routes_)
    if (r.spec().device == link) r.release();
  routes_.remove_if([&](const Route& r) { return r.spec().device == link; });
}

std::vector<IpPrefix> Host::addresses() const {
  std::vector<IpPrefix> out;
  out.reserve(addresses_.size());
  for (const auto& a : addresses_) out.push_back(a.prefix());
  return out;
}

void Host::own(std::shared_ptr<PidNamespace> tree) {
  const std::lock_guard lock(trees_mutex_);
  std::erase_if(trees_, [](const auto& t) { return t.expired(); });
  trees_.push_back(std::move(tree));
}

std::vector<std::shared_ptr<PidNamespace>> Host::trees() const {
  const std::lock_guard lock(trees_mutex_);
  std::vector<std::shared_ptr<PidNamespace>> out;
  for (const auto& t : trees_)
    if (auto tree = t.lock(); tree && tree->alive()) out.push_back(std::move(tree));
  return out;
}

Switch::Switch(std::string name)
    : name_(std::move(name)),
      netns_(createNamed("switch", name_)),
      rtnl_(netns_),
      bridge_(rtnl_, "br0") {}

Switch::~Switch() { bridge_.release(); }

}  // namespace deadpeer

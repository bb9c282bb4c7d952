#include "deadpeer/net/filter.hpp"

#include <arpa/inet.h>
#include <linux/pkt_cls.h>
#include <linux/tc_act/tc_gact.h>
#include <netlink/cache.h>
#include <netlink/route/act/gact.h>
#include <netlink/route/action.h>
#include <netlink/route/classifier.h>
#include <netlink/route/cls/u32.h>
#include <netlink/route/tc.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <utility>

#include "deadpeer/error.hpp"

namespace deadpeer {
namespace {

using ClsPtr = NlPtr<rtnl_cls, rtnl_cls_put>;
using ActPtr = NlPtr<rtnl_act, rtnl_act_put>;
using CachePtr = NlPtr<nl_cache, nl_cache_free>;

// u32 handles are htid:hash:node in 12, 8 and 12 bits. Tables the kernel
// makes for each priority's root have htids from 0x800 up; those a filter
// makes for itself are picked from below that.
constexpr std::uint32_t kFirstRootHtid = 0x800;
constexpr std::uint32_t htidOf(std::uint32_t handle) { return handle >> 20; }
constexpr bool isTable(std::uint32_t handle) { return handle != 0 && (handle & 0xfffff) == 0; }

// Where the fields are, from the start of the network header.
struct Layout {
  int source;       // address
  int destination;  // address
  int protocol;     // IPv4 protocol / IPv6 next header, one byte
  int transport;    // fixed transport offset (IPv6); IPv4 computes it from IHL
};
constexpr Layout kIpv4{12, 16, 9, 0};
constexpr Layout kIpv6{8, 24, 6, 40};

struct ProtocolName {
  std::uint16_t protocol;
  std::string_view name;
};
constexpr ProtocolName kProtocols[] = {
    {ETH_P_IP, "ip"}, {ETH_P_IPV6, "ipv6"}, {ETH_P_ALL, "all"}, {ETH_P_ARP, "arp"}};

std::string protocolText(std::uint16_t protocol) {
  for (const auto& row : kProtocols)
    if (row.protocol == protocol) return std::string(row.name);
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%04x", protocol);
  return buf;
}

// tc's sprint_u32_handle(): "800:", "800::801", "1:2:3".
std::string u32HandleText(std::uint32_t handle) {
  char buf[32];
  const unsigned htid = handle >> 20, hash = (handle >> 12) & 0xff, node = handle & 0xfff;
  std::string text;
  if (htid != 0) {
    std::snprintf(buf, sizeof buf, "%x:", htid);
    text += buf;
  }
  if (hash != 0) {
    std::snprintf(buf, sizeof buf, "%x", hash);
    text += buf;
  }
  if (node != 0) {
    std::snprintf(buf, sizeof buf, ":%x", node);
    text += buf;
  }
  return text.empty() ? "none" : text;
}

std::string filterObject(const U32FilterSpec& spec) {
  return "u32 filter pref " + std::to_string(spec.priority) + " (parent " + spec.parent.str() +
         ") on " + quoted("link", spec.link);
}

// A deletion's result still goes through check(), which clears the errno the
// Rtnl recorded from the kernel's answer; left there, it would be reported
// with the socket's next failure.
void quietly(const Rtnl& rtnl, int nl_result) noexcept {
  try {
    rtnl.check(nl_result, "", "");
  } catch (...) {
  }
}

// Whether an ENOENT was the kernel lacking `kind`. If the probe cannot run,
// the kernel's own answer stands.
bool kindMissing(TcFamily family, std::string_view kind) noexcept {
  try {
    return !tcKindAvailable(family, kind);
  } catch (...) {
    return false;
  }
}

void validate(const Rtnl& rtnl, const U32FilterSpec& spec, const std::string& object) {
  auto refuse = [&](const std::string& why) {
    throw Error("RTM_NEWTFILTER", object, rtnl.where(), EINVAL, why);
  };
  if (spec.protocol != ETH_P_IP && spec.protocol != ETH_P_IPV6)
    refuse("protocol must be ip or ipv6, got " + protocolText(spec.protocol));
  if (spec.priority == 0)
    refuse("a priority is needed (1..65535): the filter owns it, so the kernel may not pick one");
  if (spec.parent.value == 0) refuse("a parent qdisc is needed");
  if (spec.drop == (spec.flowid.value != 0))
    refuse("give either a flowid or drop, not " + std::string(spec.drop ? "both" : "neither"));
  const int family = spec.protocol == ETH_P_IP ? AF_INET : AF_INET6;
  for (const auto* prefix : {&spec.match.source, &spec.match.destination}) {
    if (!*prefix) continue;
    const IpPrefix& p = **prefix;
    if (p.address.family != family)
      refuse("address " + p.str() + " is not " + protocolText(spec.protocol));
    if (p.length < 0 || p.length > static_cast<int>(p.address.size()) * 8)
      refuse("prefix length out of range in " + p.str());
  }
}

ClsPtr newNode(const Rtnl& rtnl, int ifindex, const U32FilterSpec& spec,
               const std::string& object) {
  ClsPtr cls(rtnl_cls_alloc());
  if (!cls) throw Error("rtnl_cls_alloc", object, rtnl.where(), ENOMEM, "out of memory");
  rtnl_tc* tc = TC_CAST(cls.get());
  rtnl_tc_set_ifindex(tc, ifindex);
  rtnl_tc_set_parent(tc, spec.parent.value);
  rtnl_cls_set_prio(cls.get(), spec.priority);
  rtnl_cls_set_protocol(cls.get(), spec.protocol);
  rtnl.check(rtnl_tc_set_kind(tc, "u32"), "rtnl_tc_set_kind", object);
  return cls;
}

// Keys for the words of `prefix` at `offset`; words past the prefix length
// need none (libnl's own helper shifts by 32 for a /0, which C leaves
// undefined).
void addPrefixKeys(const Rtnl& rtnl, rtnl_cls* cls, const IpPrefix& prefix, int offset,
                   const std::string& object) {
  for (int word = 0; word * 32 < prefix.length; ++word) {
    const int bits = std::min(32, prefix.length - word * 32);
    const std::uint32_t mask = bits == 32 ? 0xffffffffu : ~(0xffffffffu >> bits);
    std::uint32_t value = 0;
    for (int i = 0; i < 4; ++i) value = (value << 8) | prefix.address.bytes[word * 4 + i];
    rtnl.check(rtnl_u32_add_key(cls, htonl(value & mask), htonl(mask), offset + word * 4, 0),
               "rtnl_u32_add_key", object);
  }
}

// The keys on fields of the IP header; `first_fragment` for a filter that
// also matches ports, which only an IPv4 packet's first fragment carries.
void addNetworkKeys(const Rtnl& rtnl, rtnl_cls* cls, const U32FilterSpec& spec, bool first_fragment,
                    const std::string& object) {
  const Layout& at = spec.protocol == ETH_P_IP ? kIpv4 : kIpv6;
  if (spec.match.source) addPrefixKeys(rtnl, cls, *spec.match.source, at.source, object);
  if (spec.match.destination)
    addPrefixKeys(rtnl, cls, *spec.match.destination, at.destination, object);
  if (spec.match.protocol)
    rtnl.check(rtnl_u32_add_key_uint8(cls, *spec.match.protocol, 0xff, at.protocol, 0),
               "rtnl_u32_add_key", object);
  if (first_fragment && spec.protocol == ETH_P_IP)  // fragment offset (13 bits at 6) == 0
    rtnl.check(rtnl_u32_add_key_uint16(cls, 0, 0x1fff, 6, 0), "rtnl_u32_add_key", object);
  // A node needs a selector even with no keys (it then matches every packet).
  rtnl.check(rtnl_u32_set_flags(cls, 0), "rtnl_u32_set_flags", object);
}

// The node that decides: into the class, or dropped.
void setVerdict(const Rtnl& rtnl, rtnl_cls* cls, const U32FilterSpec& spec,
                const std::string& object) {
  // Without TERMINAL a matching node without a link does nothing.
  rtnl.check(rtnl_u32_set_flags(cls, TC_U32_TERMINAL), "rtnl_u32_set_flags", object);
  if (!spec.drop) {
    rtnl.check(rtnl_u32_set_classid(cls, spec.flowid.value), "rtnl_u32_set_classid", object);
    return;
  }
  ActPtr act(rtnl_act_alloc());
  if (!act) throw Error("rtnl_act_alloc", object, rtnl.where(), ENOMEM, "out of memory");
  rtnl.check(rtnl_tc_set_kind(TC_CAST(act.get()), "gact"), "rtnl_tc_set_kind", object);
  rtnl.check(rtnl_gact_set_action(act.get(), TC_ACT_SHOT), "rtnl_gact_set_action", object);
  rtnl.check(rtnl_u32_add_action(cls, act.get()), "rtnl_u32_add_action", object);  // takes a ref
}

std::vector<FilterInfo> filtersAt(const Rtnl& rtnl, int ifindex, TcHandle parent,
                                  std::string_view link) {
  nl_cache* raw = nullptr;
  rtnl.check(rtnl_cls_alloc_cache(rtnl.sock(), ifindex, parent.value, &raw), "RTM_GETTFILTER",
             "filters at " + parent.str() + " on " + quoted("link", link));
  CachePtr cache(raw);
  std::vector<FilterInfo> out;
  for (nl_object* o = nl_cache_get_first(cache.get()); o != nullptr; o = nl_cache_get_next(o)) {
    auto* cls = reinterpret_cast<rtnl_cls*>(o);
    rtnl_tc* tc = TC_CAST(cls);
    FilterInfo info;
    info.parent = TcHandle{rtnl_tc_get_parent(tc)};
    info.protocol = rtnl_cls_get_protocol(cls);
    info.priority = rtnl_cls_get_prio(cls);
    if (const char* kind = rtnl_tc_get_kind(tc)) info.kind = kind;
    info.handle = rtnl_tc_get_handle(tc);
    if (info.kind == "u32" && info.handle != 0) {
      std::uint32_t classid = 0;
      if (rtnl_u32_get_classid(cls, &classid) == 0) info.flowid = TcHandle{classid};
      std::uint32_t value = 0, mask = 0;
      int offset = 0, offmask = 0;
      for (std::uint8_t i = 0; rtnl_u32_get_key(cls, i, &value, &mask, &offset, &offmask) == 0; ++i)
        info.keys.push_back(U32Key{value, mask, offset, offmask != 0});
      for (rtnl_act* a = rtnl_u32_get_action(cls); a != nullptr; a = rtnl_act_next(a))
        if (const char* kind = rtnl_tc_get_kind(TC_CAST(a))) info.actions.emplace_back(kind);
    }
    out.push_back(std::move(info));
  }
  return out;
}

std::vector<FilterInfo> filtersOf(const Rtnl& rtnl, int ifindex, std::string_view link) {
  // Filters hang on qdiscs, on classes, and on clsact's two hooks; each is
  // dumped by its own parent.
  std::vector<TcHandle> parents;
  for (const auto& q : listQdiscs(rtnl, link)) {
    if (q.kind == "clsact") {
      parents.push_back(TcHandle::clsactIngress());
      parents.push_back(TcHandle::clsactEgress());
    } else if (q.handle.value != 0) {
      parents.push_back(q.handle);
    }
  }
  for (const auto& c : listClasses(rtnl, link)) parents.push_back(c.classid);
  std::vector<FilterInfo> out;
  for (TcHandle parent : parents)
    for (auto& f : filtersAt(rtnl, ifindex, parent, link)) out.push_back(std::move(f));
  return out;
}

// A hash table id no u32 filter on the link uses. The kernel shares u32
// tables among all priorities on a qdisc and its classes, so the whole link
// is looked at.
std::uint32_t freeHashTable(const Rtnl& rtnl, int ifindex, const U32FilterSpec& spec,
                            const std::string& object) {
  std::vector<std::uint32_t> used;
  for (const auto& f : filtersOf(rtnl, ifindex, spec.link))
    if (f.kind == "u32" && isTable(f.handle)) used.push_back(htidOf(f.handle));
  for (std::uint32_t htid = 1; htid < kFirstRootHtid; ++htid)
    if (std::find(used.begin(), used.end(), htid) == used.end()) return htid;
  throw Error("RTM_NEWTFILTER", object, rtnl.where(), EBUSY, "every u32 hash table id is in use");
}

// Deletes everything at the filter's priority, in the order the kernel
// accepts: nodes in the filter's own tables (which unbinds the class), nodes
// in the root table (which unlinks the tables), the tables, and the priority
// itself. Each step tolerates what is already gone: deleting the last node
// can make the kernel drop the whole priority by itself.
void removePriority(const Rtnl& rtnl, int ifindex, const U32FilterSpec& spec) noexcept {
  try {
    std::vector<FilterInfo> mine;
    for (auto& f : filtersAt(rtnl, ifindex, spec.parent, spec.link))
      if (f.priority == spec.priority) mine.push_back(std::move(f));
    auto remove = [&](std::uint32_t handle) {
      ClsPtr cls(rtnl_cls_alloc());
      if (!cls) return;
      rtnl_tc* tc = TC_CAST(cls.get());
      rtnl_tc_set_ifindex(tc, ifindex);
      rtnl_tc_set_parent(tc, spec.parent.value);
      rtnl_cls_set_prio(cls.get(), spec.priority);
      rtnl_cls_set_protocol(cls.get(), spec.protocol);
      if (handle != 0) rtnl_tc_set_handle(tc, handle);
      quietly(rtnl, rtnl_cls_delete(rtnl.sock(), cls.get(), 0));
    };
    auto own_table = [](std::uint32_t h) { return htidOf(h) != 0 && htidOf(h) < kFirstRootHtid; };
    for (const auto& f : mine)
      if (!isTable(f.handle) && f.handle != 0 && own_table(f.handle)) remove(f.handle);
    for (const auto& f : mine)
      if (!isTable(f.handle) && f.handle != 0 && !own_table(f.handle)) remove(f.handle);
    for (const auto& f : mine)
      if (isTable(f.handle) && own_table(f.handle)) remove(f.handle);
    remove(0);
  } catch (...) {
    // The link or the qdisc is gone, and the filters with it.
  }
}

}  // namespace

std::string FlowMatch::str() const {
  std::string text;
  auto add = [&](const std::string& word) { text += (text.empty() ? "" : " ") + word; };
  if (source) add("src " + source->str());
  if (destination) add("dst " + destination->str());
  if (protocol) add("proto " + std::to_string(*protocol));
  if (source_port) add("sport " + std::to_string(*source_port));
  if (destination_port) add("dport " + std::to_string(*destination_port));
  return text.empty() ? "all" : text;
}

std::string U32FilterSpec::str() const {
  return "u32 parent " + parent.str() + " pref " + std::to_string(priority) + " protocol " +
         protocolText(protocol) + " " + match.str() +
         (drop ? std::string(" action drop") : " flowid " + flowid.str());
}

U32Filter::U32Filter(const Rtnl& rtnl, U32FilterSpec spec) : rtnl_(&rtnl), spec_(std::move(spec)) {
  const std::string object = filterObject(spec_);
  validate(rtnl, spec_, object);
  ifindex_ = tcLinkIndex(rtnl, spec_.link, "RTM_NEWTFILTER", object);
  for (const auto& f : filtersAt(rtnl, ifindex_, spec_.parent, spec_.link))
    if (f.priority == spec_.priority)
      throw Error("RTM_NEWTFILTER", object, rtnl.where(), EEXIST,
                  "priority " + std::to_string(spec_.priority) +
                      " is in use; a U32Filter owns its whole priority");

  auto add = [&](rtnl_cls* cls) {
    try {
      rtnl.check(rtnl_cls_add(rtnl.sock(), cls, NLM_F_CREATE | NLM_F_EXCL), "RTM_NEWTFILTER",
                 object);
    } catch (const Error& e) {
      // The kernel says ENOENT for a missing classifier or action module as
      // for a missing parent; the probe tells which.
      if (e.sysErrno() == ENOENT) {
        if (kindMissing(TcFamily::kClassifier, "u32"))
          throw unsupportedTcKind("RTM_NEWTFILTER", object, rtnl.where(), TcFamily::kClassifier,
                                  "u32");
        if (spec_.drop && kindMissing(TcFamily::kAction, "gact"))
          throw unsupportedTcKind("RTM_NEWTFILTER", object, rtnl.where(), TcFamily::kAction,
                                  "gact");
      }
      throw;
    }
  };

  const bool ports = spec_.match.source_port || spec_.match.destination_port;
  try {
    if (!ports) {
      ClsPtr node = newNode(rtnl, ifindex_, spec_, object);
      addNetworkKeys(rtnl, node.get(), spec_, false, object);
      setVerdict(rtnl, node.get(), spec_, object);
      add(node.get());
      return;
    }
    const std::uint32_t table = freeHashTable(rtnl, ifindex_, spec_, object) << 20;

    // 1. The filter's own table, reached only through the jump below.
    ClsPtr ht = newNode(rtnl, ifindex_, spec_, object);
    rtnl_tc_set_handle(TC_CAST(ht.get()), table);
    rtnl.check(rtnl_u32_set_divisor(ht.get(), 1), "rtnl_u32_set_divisor", object);
    add(ht.get());

    // 2. The ports, counted from the transport header.
    ClsPtr ports_node = newNode(rtnl, ifindex_, spec_, object);
    rtnl.check(rtnl_u32_set_hashtable(ports_node.get(), table), "rtnl_u32_set_hashtable", object);
    if (spec_.match.source_port)
      rtnl.check(rtnl_u32_add_key_uint16(ports_node.get(), *spec_.match.source_port, 0xffff, 0, 0),
                 "rtnl_u32_add_key", object);
    if (spec_.match.destination_port)
      rtnl.check(
          rtnl_u32_add_key_uint16(ports_node.get(), *spec_.match.destination_port, 0xffff, 2, 0),
          "rtnl_u32_add_key", object);
    setVerdict(rtnl, ports_node.get(), spec_, object);
    add(ports_node.get());

    // 3. Last, so the filter takes effect whole: the IP header fields, and
    // the jump past the IP header (IHL * 4 for IPv4: the 16-bit word at 0,
    // masked to IHL and shifted right by 6; a fixed 40 for IPv6).
    ClsPtr jump = newNode(rtnl, ifindex_, spec_, object);
    addNetworkKeys(rtnl, jump.get(), spec_, true, object);
    if (spec_.protocol == ETH_P_IP)
      rtnl.check(rtnl_u32_set_selector(jump.get(), 0, 0x0f00, 6, 0, TC_U32_EAT),
                 "rtnl_u32_set_selector", object);
    else
      rtnl.check(rtnl_u32_set_selector(jump.get(), 0, 0, 0, kIpv6.transport, TC_U32_EAT),
                 "rtnl_u32_set_selector", object);
    rtnl.check(rtnl_u32_set_link(jump.get(), table), "rtnl_u32_set_link", object);
    add(jump.get());
  } catch (...) {
    removePriority(rtnl, ifindex_, spec_);
    throw;
  }
}

U32Filter::U32Filter(U32Filter&& other) noexcept
    : rtnl_(std::exchange(other.rtnl_, nullptr)),
      spec_(std::move(other.spec_)),
      ifindex_(other.ifindex_) {}

U32Filter::~U32Filter() {
  if (rtnl_ != nullptr) removePriority(*rtnl_, ifindex_, spec_);
}

bool FilterInfo::isHashTable() const noexcept { return kind == "u32" && isTable(handle); }

std::string FilterInfo::str() const {
  std::string text = "filter parent " + parent.str() + " protocol " + protocolText(protocol) +
                     " pref " + std::to_string(priority) + " " + kind;
  if (handle == 0) return text;
  if (kind != "u32") {
    char buf[16];
    std::snprintf(buf, sizeof buf, " fh %#x", handle);
    text += buf;
  } else {
    text += " fh " + u32HandleText(handle);
  }
  if (isHashTable()) return text + " ht";
  if (flowid) text += " flowid " + flowid->str();
  for (const auto& action : actions) text += " action " + action;
  for (const auto& key : keys) {
    char buf[64];
    std::snprintf(buf, sizeof buf, " match %08x/%08x at %s%d", ntohl(key.value), ntohl(key.mask),
                  key.nexthdr ? "nexthdr+" : "", key.offset);
    text += buf;
  }
  return text;
}

std::vector<FilterInfo> listFilters(const Rtnl& rtnl, std::string_view link) {
  return filtersOf(
      rtnl, tcLinkIndex(rtnl, link, "RTM_GETTFILTER", "filters on " + quoted("link", link)), link);
}

std::string tcSnapshot(const Rtnl& rtnl, std::string_view link) {
  std::string text;
  for (const auto& q : listQdiscs(rtnl, link)) text += q.str() + "\n";
  for (const auto& c : listClasses(rtnl, link)) text += c.str() + "\n";
  for (const auto& f : listFilters(rtnl, link)) text += f.str() + "\n";
  return text;
}

}  // namespace deadpeer

// net/filter: u32 filters that pick one flow's packets out of a link's
// traffic, and the listing of a link's filters.
//
// A U32Filter matches IPv4 or IPv6 packets by source and destination prefix,
// IP protocol and source and destination port (any of them, or none), and
// sends them to an htb class (where the fault module has put a
// `pfifo limit 0` leaf), or drops them itself with a gact action where the
// kernel has act_gact (this machine's does not).
//
// Ports are found where the transport header really starts. For IPv4 the
// filter is built as tc's "link ... offset at 0 mask 0f00 shift 6 eat"
// recipe: a node in the priority's root hash table matches the IP header
// fields and the first fragment (a later fragment has no ports), then jumps
// IHL * 4 bytes ahead into a hash table of the filter's own, where a second
// node matches the ports; packets with IP options are matched too. IPv6 has
// no header length field, so the jump is a fixed 40 bytes: ports are matched
// only when the transport header follows the fixed header directly (no
// extension headers), as Linux sends TCP and UDP. Without ports the filter is
// a single node.
//
// A U32Filter owns its whole priority on its parent: the constructor refuses
// a priority already in use (EEXIST), and the destructor deletes the nodes
// it made, its hash table and the priority itself, in the order the kernel
// accepts (nodes before the table they link to), so nothing it made is left
// behind even when other priorities share the qdisc's u32 tables. The
// destructor never throws and tolerates the link or qdisc being gone.
//
// Threading: as Rtnl; a filter uses the Rtnl it was made with, which must
// outlive it. The owner of a qdisc must not add filters at one priority from
// two threads at once (the free-table choice is not atomic).
#pragma once

#include <linux/if_ether.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "deadpeer/net/address.hpp"
#include "deadpeer/net/qdisc.hpp"
#include "deadpeer/net/rtnl.hpp"

namespace deadpeer {

// Which packets of a flow; an empty match takes every packet of the
// filter's protocol.
struct FlowMatch {
  std::optional<IpPrefix> source;
  std::optional<IpPrefix> destination;
  std::optional<std::uint8_t> protocol;  // IPPROTO_TCP, IPPROTO_UDP, ...
  std::optional<std::uint16_t> source_port;
  std::optional<std::uint16_t> destination_port;

  // "src 198.18.1.1/32 proto 6 dport 5001", "all"
  std::string str() const;
};

struct U32FilterSpec {
  std::string link;
  TcHandle parent;                    // the qdisc (1:), or a clsact hook
  std::uint16_t priority = 0;         // 1..65535, and the filter's alone
  std::uint16_t protocol = ETH_P_IP;  // ETH_P_IP or ETH_P_IPV6
  FlowMatch match;
  TcHandle flowid;    // the class matched packets go to, or
  bool drop = false;  // drop them with a gact action (needs act_gact)

  // "u32 parent 1: pref 10 protocol ip dport 5001 flowid 1:2"
  std::string str() const;
};

class U32Filter {
 public:
  U32Filter(const Rtnl& rtnl, U32FilterSpec spec);
  ~U32Filter();
  U32Filter(U32Filter&& other) noexcept;
  U32Filter& operator=(U32Filter&&) = delete;
  U32Filter(const U32Filter&) = delete;

  const U32FilterSpec& spec() const noexcept { return spec_; }
  void release() noexcept { rtnl_ = nullptr; }

 private:
  const Rtnl* rtnl_;
  U32FilterSpec spec_;
  int ifindex_ = 0;
};

// One 32-bit u32 key: (word at offset & mask) == value, in network order as
// the kernel holds them; `nexthdr` offsets count from the jump target.
struct U32Key {
  std::uint32_t value = 0;
  std::uint32_t mask = 0;
  int offset = 0;
  bool nexthdr = false;
};

// What the kernel says about one filter (RTM_GETTFILTER). A priority shows
// as a line with handle 0 of its own, and a u32 hash table as a line with a
// handle of the form "1:", as in tc. libnl 3.7 gives no access to a u32
// node's link or jump offset, so a jumping node shows only its keys.
struct FilterInfo {
  TcHandle parent;
  std::uint16_t protocol = 0;
  std::uint16_t priority = 0;
  std::string kind;
  std::uint32_t handle = 0;
  std::optional<TcHandle> flowid;
  std::vector<U32Key> keys;
  std::vector<std::string> actions;  // kinds: "gact", "mirred"

  bool isHashTable() const noexcept;  // u32 "fh 1:"
  // Like `tc filter show dev X`, one object per line, without counters:
  //   filter parent 1: protocol ip pref 10 u32
  //   filter parent 1: protocol ip pref 10 u32 fh 1: ht
  //   filter parent 1: protocol ip pref 10 u32 fh 1::800 flowid 1:2 match 00001389/0000ffff at 0
  std::string str() const;
};

// Every filter on the link: on each qdisc, on each class, and on both clsact
// hooks, in that order.
std::vector<FilterInfo> listFilters(const Rtnl& rtnl, std::string_view link);

// The link's qdiscs, classes and filters, one str() line each: what the
// fault module compares before a fault and after its undo.
std::string tcSnapshot(const Rtnl& rtnl, std::string_view link);

inline bool classifierAvailable(std::string_view kind) {
  return tcKindAvailable(TcFamily::kClassifier, kind);
}
inline bool tcActionAvailable(std::string_view kind) {
  return tcKindAvailable(TcFamily::kAction, kind);
}

}  // namespace deadpeer

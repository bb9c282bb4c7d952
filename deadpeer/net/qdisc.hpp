// net/qdisc: traffic-control qdiscs and htb classes on the links of one
// namespace, and the probe that tells which tc kinds this kernel has.
//
// The fault module builds its packet-dropping faults from these: a root
// `pfifo limit 0` makes every packet a link sends vanish (a crashed host), and
// a root htb whose default passes traffic, with one class whose leaf is
// `pfifo limit 0`, is where u32 filters (net/filter) steer a single flow to
// be dropped.
//
// Each RAII type creates its kernel object in the constructor, after the
// kernel's ack, and deletes it in the destructor; destroy them in reverse
// order of creation (filters, then leaf qdiscs, then classes, then the root).
// A Qdisc only ever takes the place of the kernel's default qdisc (the one
// with handle 0:, such as a veth's noqueue or an htb class's implicit pfifo),
// which is all `tc qdisc replace` would do there: the request carries
// NLM_F_CREATE|NLM_F_EXCL and always a handle, and the kernel then grafts it
// over its default but refuses (EEXIST) when another qdisc is in the slot.
// Without a handle the kernel would replace that other qdisc too, and so
// would NLM_F_REPLACE; the destructor could not put it back. Deleting ours
// makes the kernel reattach its default (noqueue on a veth), so the listing
// after the destructor equals the listing before the constructor. A
// destructor never throws and tolerates an object already gone with its link
// or parent; release() leaves the object to its namespace.
//
// A kind the kernel lacks (sch_netem here) is answered ENOENT by the kernel,
// the same errno as a missing parent; constructors tell the two apart with
// the probe and report the former as EOPNOTSUPP, "unsupported: sch_netem not
// available in this kernel".
//
// Threading: as Rtnl; an object uses the Rtnl it was made with, which must
// outlive it. A handle chosen here is free when it is chosen; a second writer
// taking it first makes the constructor fail (EEXIST), never clobber.
// tcKindAvailable() and its wrappers may be called from any thread: each
// answer is probed once per process, under a mutex.
#pragma once

#include <linux/pkt_sched.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "deadpeer/error.hpp"
#include "deadpeer/net/rtnl.hpp"

namespace deadpeer {

// A tc handle or class id, major:minor, written in hex as tc writes it:
// "1:" (a qdisc), "1:2" (a class), "root", "ffff:fff1" (ingress/clsact).
struct TcHandle {
  std::uint32_t value = 0;  // 0 ("none"): let the kernel choose

  static constexpr TcHandle of(std::uint16_t major, std::uint16_t minor = 0) {
    return TcHandle{(std::uint32_t{major} << 16) | minor};
  }
  static constexpr TcHandle root() { return TcHandle{TC_H_ROOT}; }
  // Where ingress and clsact qdiscs sit.
  static constexpr TcHandle ingress() { return TcHandle{TC_H_INGRESS}; }
  // clsact's two filter hooks.
  static constexpr TcHandle clsactIngress() {
    return TcHandle{TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS)};
  }
  static constexpr TcHandle clsactEgress() {
    return TcHandle{TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS)};
  }
  // "1:", "1:2", ":2", "root", "ingress", "none"; throws Error otherwise.
  static TcHandle parse(std::string_view text);

  std::uint16_t major() const noexcept { return static_cast<std::uint16_t>(value >> 16); }
  std::uint16_t minor() const noexcept { return static_cast<std::uint16_t>(value & 0xffff); }
  std::string str() const;
  bool operator==(const TcHandle&) const = default;
};

// A rate in bits per second. Signed, so that a negative rate read from a
// scenario reaches validation and is refused by name instead of wrapping.
struct BitRate {
  std::int64_t bits_per_second = 0;

  static constexpr BitRate bps(std::int64_t n) { return BitRate{n}; }
  static constexpr BitRate kbit(std::int64_t n) { return BitRate{n * 1000}; }
  static constexpr BitRate mbit(std::int64_t n) { return BitRate{n * 1000 * 1000}; }
  static constexpr BitRate gbit(std::int64_t n) { return BitRate{n * 1000 * 1000 * 1000}; }
  std::string str() const;  // as tc: "1Mbit", "1500Kbit", "12bit"
  bool operator==(const BitRate&) const = default;
};

// ---- qdisc kinds ---------------------------------------------------------------

struct PfifoSpec {
  std::uint32_t limit_packets = 1000;  // 0: every packet is dropped
};
struct BfifoSpec {
  std::uint32_t limit_bytes = 1000 * 1500;
};
struct HtbSpec {
  // Unclassified packets go to class <handle major>:default_class. If there
  // is no such class they are sent unshaped (htb's direct queue), which is
  // how the fault module lets every other flow pass.
  std::uint16_t default_class = 1;
};
struct TbfSpec {
  BitRate rate;
  std::uint32_t burst_bytes = 0;
  // The queue: limit_bytes if set, else what `rate` drains in `latency`
  // plus the burst (libnl's rule).
  std::uint32_t limit_bytes = 0;
  std::chrono::microseconds latency{0};
};
struct NetemSpec {
  std::chrono::microseconds delay{0};
  std::chrono::microseconds jitter{0};
  double loss_percent = 0;  // 0..100
  std::uint32_t limit_packets = 1000;
};
struct ClsactSpec {};
struct IngressSpec {};

using QdiscOptions =
    std::variant<PfifoSpec, BfifoSpec, HtbSpec, TbfSpec, NetemSpec, ClsactSpec, IngressSpec>;

// "pfifo", "htb", ... for the alternative held.
std::string_view qdiscKind(const QdiscOptions& options) noexcept;

struct QdiscSpec {
  std::string link;
  // root, a class id (1:2), or TcHandle::ingress(). ingress and clsact always
  // sit at ffff:fff1, so for them the default root means ffff:fff1, as in tc.
  TcHandle parent = TcHandle::root();
  TcHandle handle;  // none: the first free one from 8001:, as the kernel would pick
  QdiscOptions options = PfifoSpec{};

  std::string_view kind() const noexcept { return qdiscKind(options); }
  // tc's words: "pfifo root limit 0p", "htb 1: root default 0x2".
  std::string str() const;
};

class Qdisc {
 public:
  Qdisc(const Rtnl& rtnl, QdiscSpec spec);
  ~Qdisc();
  Qdisc(Qdisc&& other) noexcept;
  Qdisc& operator=(Qdisc&&) = delete;
  Qdisc(const Qdisc&) = delete;

  const QdiscSpec& spec() const noexcept { return spec_; }
  // The handle the qdisc has, chosen here if the spec left it none.
  TcHandle handle() const noexcept { return handle_; }
  void release() noexcept { rtnl_ = nullptr; }

 private:
  const Rtnl* rtnl_;
  QdiscSpec spec_;
  int ifindex_ = 0;
  TcHandle handle_;
};

// ---- htb classes ---------------------------------------------------------------

struct HtbClassSpec {
  std::string link;
  TcHandle parent;   // the htb qdisc (1:) or a parent class (1:1)
  TcHandle classid;  // 1:2; its major must be the qdisc's
  BitRate rate;
  std::optional<BitRate> ceil;  // = rate when absent

  std::string str() const;  // "htb 1:2 parent 1: rate 1Gbit ceil 1Gbit"
};

// An htb class; the kernel gives it an implicit pfifo leaf until a Qdisc is
// put at its class id.
class TrafficClass {
 public:
  TrafficClass(const Rtnl& rtnl, HtbClassSpec spec);
  ~TrafficClass();
  TrafficClass(TrafficClass&& other) noexcept;
  TrafficClass& operator=(TrafficClass&&) = delete;
  TrafficClass(const TrafficClass&) = delete;

  const HtbClassSpec& spec() const noexcept { return spec_; }
  void release() noexcept { rtnl_ = nullptr; }

 private:
  const Rtnl* rtnl_;
  HtbClassSpec spec_;
  int ifindex_ = 0;
};

// ---- listing -------------------------------------------------------------------

// What the kernel says about one qdisc (RTM_GETQDISC). Options are filled for
// the kinds this module makes; other kinds show kind, handle and parent.
struct QdiscInfo {
  std::string kind;
  TcHandle handle;
  TcHandle parent;
  std::optional<std::uint32_t> limit;          // pfifo: packets; bfifo, tbf: bytes; netem: packets
  std::optional<std::uint16_t> default_class;  // htb
  std::optional<std::uint32_t> rate2quantum;   // htb
  std::optional<BitRate> rate;                 // tbf
  std::optional<std::uint32_t> burst_bytes;    // tbf
  std::optional<std::chrono::microseconds> delay, jitter;  // netem
  std::optional<double> loss_percent;                      // netem

  // Like a line of `tc qdisc show dev X`, without the counters that change
  // by themselves (refcnt, statistics), so that snapshots compare as text:
  //   qdisc noqueue 0: root
  //   qdisc pfifo 8001: root limit 0p
  //   qdisc htb 1: root r2q 10 default 0x1
  std::string str() const;
};

struct ClassInfo {
  std::string kind;
  TcHandle classid;
  TcHandle parent;  // root for a top-level htb class, as tc shows it
  std::optional<BitRate> rate, ceil;

  // "class htb 1:2 root rate 1Gbit ceil 1Gbit"
  std::string str() const;
};

// The link's qdiscs in the kernel's order (root first), ingress/clsact
// included; implicit default leaves of classes are not shown, as in tc.
std::vector<QdiscInfo> listQdiscs(const Rtnl& rtnl, std::string_view link);
std::vector<ClassInfo> listClasses(const Rtnl& rtnl, std::string_view link);

// ---- what the kernel has -------------------------------------------------------

enum class TcFamily { kQdisc, kClassifier, kAction };

// The module that provides `kind`: "sch_netem", "cls_u32", "act_gact".
std::string tcModuleName(TcFamily family, std::string_view kind);

// Whether the kernel knows `kind`. Probed once per process and kind in a
// scratch namespace (a qdisc on its lo, a filter on an ingress qdisc there, a
// standalone action), by the kernel's own test: ENOENT means unknown, any
// other answer, even a refusal of the empty options the probe sends, means
// the kind exists. Throws Error if no scratch namespace can be made (the
// answer is then not cached).
bool tcKindAvailable(TcFamily family, std::string_view kind);
inline bool qdiscKindAvailable(std::string_view kind) {
  return tcKindAvailable(TcFamily::kQdisc, kind);
}

// The Error a constructor throws for a kind the kernel lacks: EOPNOTSUPP,
// "unsupported: <module> not available in this kernel".
Error unsupportedTcKind(std::string op, std::string object, std::string where, TcFamily family,
                        std::string_view kind);

// The ifindex of `link`, or Error(op, object, ENODEV) naming the operation
// the caller was about to make.
int tcLinkIndex(const Rtnl& rtnl, std::string_view link, std::string_view op,
                std::string_view object);

}  // namespace deadpeer

#include "deadpeer/net/qdisc.hpp"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/attr.h>
#include <netlink/cache.h>
#include <netlink/msg.h>
#include <netlink/route/class.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/fifo.h>
#include <netlink/route/qdisc/htb.h>
#include <netlink/route/qdisc/netem.h>
#include <netlink/route/qdisc/tbf.h>
#include <netlink/route/tc.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <utility>

#include "deadpeer/net/link.hpp"
#include "deadpeer/ns/netns.hpp"

namespace deadpeer {
namespace {

using QdiscPtr = NlPtr<rtnl_qdisc, rtnl_qdisc_put>;
using ClassPtr = NlPtr<rtnl_class, rtnl_class_put>;
using CachePtr = NlPtr<nl_cache, nl_cache_free>;
using MsgPtr = NlPtr<nl_msg, nlmsg_free>;

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

std::string hex(unsigned value) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%x", value);
  return buf;
}

// tc prints a qdisc's handle as its major alone, "0:" for a default qdisc.
std::string qdiscHandleText(TcHandle h) { return hex(h.major()) + ":"; }

// tc's placement words: "root" or "parent 1:2".
std::string placement(TcHandle parent) {
  return parent == TcHandle::root() ? "root" : "parent " + parent.str();
}

// tc's sprint_size, for sizes that are exact multiples: "10Kb", "1600b".
std::string sizeText(std::uint64_t bytes) {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) == 0)
    return std::to_string(bytes / (1024 * 1024)) + "Mb";
  if (bytes >= 1024 && bytes % 1024 == 0) return std::to_string(bytes / 1024) + "Kb";
  return std::to_string(bytes) + "b";
}

std::string timeText(std::chrono::microseconds t) {
  const auto us = t.count();
  if (us != 0 && us % 1000000 == 0) return std::to_string(us / 1000000) + "s";
  if (us != 0 && us % 1000 == 0) return std::to_string(us / 1000) + "ms";
  return std::to_string(us) + "us";
}

std::string percentText(double percent) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g%%", percent);
  return buf;
}

// netem's probabilities are fractions of 2^32 - 1.
std::uint32_t probabilityOf(double percent) {
  return static_cast<std::uint32_t>(std::llround(percent / 100.0 * 4294967295.0));
}
double percentOf(std::uint32_t probability) {
  return std::round(probability / 4294967295.0 * 100.0 * 1e6) / 1e6;
}

TcHandle effectiveParent(const QdiscSpec& spec) {
  const bool ingress_kind = std::holds_alternative<ClsactSpec>(spec.options) ||
                            std::holds_alternative<IngressSpec>(spec.options);
  return ingress_kind && spec.parent == TcHandle::root() ? TcHandle::ingress() : spec.parent;
}

std::string qdiscObject(const QdiscSpec& spec) {
  std::string text = "qdisc " + std::string(spec.kind());
  if (spec.handle.value != 0) text += " " + qdiscHandleText(spec.handle);
  return text + " " + placement(effectiveParent(spec)) + " on " + quoted("link", spec.link);
}

std::string classObject(const HtbClassSpec& spec) {
  return "htb class " + spec.classid.str() + " (parent " + spec.parent.str() + ") on " +
         quoted("link", spec.link);
}

// A destructor has no one to tell, but its result still goes through
// check(): that clears the errno the Rtnl recorded from the kernel's answer,
// which would otherwise be reported with the socket's next failure.
void quietly(const Rtnl& rtnl, int nl_result) noexcept {
  try {
    rtnl.check(nl_result, "", "");
  } catch (...) {
  }
}

// The byte rate libnl wants, from a rate already validated as positive.
std::uint64_t bytesPerSecond(BitRate rate) {
  return static_cast<std::uint64_t>(rate.bits_per_second) / 8;
}

// Refuses what the kernel would refuse less clearly, or what libnl would
// silently truncate, before anything is sent.
void validate(const Rtnl& rtnl, const QdiscSpec& spec, const std::string& object) {
  auto refuse = [&](const std::string& why) {
    throw Error("RTM_NEWQDISC", object, rtnl.where(), EINVAL, why);
  };
  if (spec.handle.minor() != 0)
    refuse("a qdisc handle has no minor number, got " + spec.handle.str());
  std::visit(Overloaded{
                 [&](const PfifoSpec& s) {
                   if (s.limit_packets > INT_MAX)
                     refuse("pfifo limit is at most " + std::to_string(INT_MAX) + " packets");
                 },
                 [&](const BfifoSpec& s) {
                   if (s.limit_bytes > INT_MAX)
                     refuse("bfifo limit is at most " + std::to_string(INT_MAX) + " bytes");
                 },
                 [&](const HtbSpec&) {},
                 [&](const TbfSpec& s) {
                   if (s.rate.bits_per_second < 8)
                     refuse("tbf rate must be at least 8bit, got " + s.rate.str());
                   if (bytesPerSecond(s.rate) > INT_MAX)
                     refuse("tbf rate is at most " + BitRate::bps(INT_MAX * 8LL).str());
                   if (s.burst_bytes == 0 || s.burst_bytes > INT_MAX)
                     refuse("tbf burst must be 1.." + std::to_string(INT_MAX) + " bytes");
                   if (s.latency.count() < 0)
                     refuse("tbf latency must not be negative, got " + timeText(s.latency));
                   if (s.limit_bytes == 0 && s.latency.count() == 0)
                     refuse("tbf needs a limit or a latency");
                   if (s.limit_bytes > INT_MAX || s.latency.count() > INT_MAX)
                     refuse("tbf limit or latency too large");
                 },
                 [&](const NetemSpec& s) {
                   if (s.delay.count() < 0 || s.jitter.count() < 0)
                     refuse("netem delay and jitter must not be negative");
                   if (s.delay.count() > INT_MAX || s.jitter.count() > INT_MAX)
                     refuse("netem delay and jitter are at most " +
                            timeText(std::chrono::microseconds(INT_MAX)));
                   if (!(s.loss_percent >= 0 && s.loss_percent <= 100))
                     refuse("netem loss must be 0..100 %, got " + percentText(s.loss_percent));
                   if (s.limit_packets > INT_MAX) refuse("netem limit too large");
                 },
                 [&](const ClsactSpec&) {},
                 [&](const IngressSpec&) {},
             },
             spec.options);
  const TcHandle parent = effectiveParent(spec);
  if ((spec.kind() == "clsact" || spec.kind() == "ingress") && parent != TcHandle::ingress())
    refuse(std::string(spec.kind()) + " sits only at " + TcHandle::ingress().str());
}

QdiscPtr buildQdisc(const Rtnl& rtnl, const QdiscSpec& spec, TcHandle handle, int ifindex,
                    const std::string& object) {
  QdiscPtr q(rtnl_qdisc_alloc());
  if (!q) throw Error("rtnl_qdisc_alloc", object, rtnl.where(), ENOMEM, "out of memory");
  rtnl_tc* tc = TC_CAST(q.get());
  rtnl_tc_set_ifindex(tc, ifindex);
  rtnl_tc_set_parent(tc, effectiveParent(spec).value);
  rtnl_tc_set_handle(tc, handle.value);
  // The kind first: libnl allocates the kind's option data with it, and its
  // option setters abort the process on a qdisc without that data.
  rtnl.check(rtnl_tc_set_kind(tc, std::string(spec.kind()).c_str()), "rtnl_tc_set_kind", object);
  std::visit(Overloaded{
                 [&](const PfifoSpec& s) {
                   rtnl.check(rtnl_qdisc_fifo_set_limit(q.get(), static_cast<int>(s.limit_packets)),
                              "rtnl_qdisc_fifo_set_limit", object);
                 },
                 [&](const BfifoSpec& s) {
                   rtnl.check(rtnl_qdisc_fifo_set_limit(q.get(), static_cast<int>(s.limit_bytes)),
                              "rtnl_qdisc_fifo_set_limit", object);
                 },
                 [&](const HtbSpec& s) {
                   rtnl.check(rtnl_htb_set_defcls(q.get(), s.default_class), "rtnl_htb_set_defcls",
                              object);
                 },
                 [&](const TbfSpec& s) {
                   rtnl_qdisc_tbf_set_rate(q.get(), static_cast<int>(bytesPerSecond(s.rate)),
                                           static_cast<int>(s.burst_bytes), 0);
                   if (s.limit_bytes != 0)
                     rtnl_qdisc_tbf_set_limit(q.get(), static_cast<int>(s.limit_bytes));
                   else
                     rtnl.check(rtnl_qdisc_tbf_set_limit_by_latency(
                                    q.get(), static_cast<int>(s.latency.count())),
                                "rtnl_qdisc_tbf_set_limit_by_latency", object);
                 },
                 [&](const NetemSpec& s) {
                   rtnl_netem_set_limit(q.get(), static_cast<int>(s.limit_packets));
                   rtnl_netem_set_delay(q.get(), static_cast<int>(s.delay.count()));
                   rtnl_netem_set_jitter(q.get(), static_cast<int>(s.jitter.count()));
                   rtnl_netem_set_loss(q.get(), static_cast<int>(probabilityOf(s.loss_percent)));
                 },
                 [&](const ClsactSpec&) {},
                 [&](const IngressSpec&) {},
             },
             spec.options);
  return q;
}

// Whether an ENOENT was the kernel not knowing `kind`, rather than a missing
// parent. If the probe cannot run, the kernel's own answer stands.
bool kindMissing(TcFamily family, std::string_view kind) noexcept {
  try {
    return !tcKindAvailable(family, kind);
  } catch (...) {
    return false;
  }
}

// How the options of each kind this module makes are read from libnl's
// object and written as tc writes them; other kinds list without options.
struct ListedKind {
  std::string_view kind;
  void (*read)(rtnl_qdisc*, QdiscInfo&);
  void (*write)(const QdiscInfo&, std::string&);
};

void readFifo(rtnl_qdisc* q, QdiscInfo& info) {
  if (const int limit = rtnl_qdisc_fifo_get_limit(q); limit >= 0)
    info.limit = static_cast<std::uint32_t>(limit);
}
void readHtb(rtnl_qdisc* q, QdiscInfo& info) {
  info.default_class = static_cast<std::uint16_t>(rtnl_htb_get_defcls(q));
  info.rate2quantum = rtnl_htb_get_rate2quantum(q);
}
void readTbf(rtnl_qdisc* q, QdiscInfo& info) {
  if (const int rate = rtnl_qdisc_tbf_get_rate(q); rate >= 0)
    info.rate = BitRate::bps(std::int64_t{rate} * 8);
  if (const int burst = rtnl_qdisc_tbf_get_rate_bucket(q); burst >= 0)
    info.burst_bytes = static_cast<std::uint32_t>(burst);
  if (const int limit = rtnl_qdisc_tbf_get_limit(q); limit >= 0)
    info.limit = static_cast<std::uint32_t>(limit);
}
void readNetem(rtnl_qdisc* q, QdiscInfo& info) {
  if (const int limit = rtnl_netem_get_limit(q); limit >= 0)
    info.limit = static_cast<std::uint32_t>(limit);
  info.delay = std::chrono::microseconds(rtnl_netem_get_delay(q));
  info.jitter = std::chrono::microseconds(rtnl_netem_get_jitter(q));
  info.loss_percent = percentOf(static_cast<std::uint32_t>(rtnl_netem_get_loss(q)));
}

void writePfifo(const QdiscInfo& info, std::string& text) {
  if (info.limit) text += " limit " + std::to_string(*info.limit) + "p";
}
void writeBfifo(const QdiscInfo& info, std::string& text) {
  if (info.limit) text += " limit " + sizeText(*info.limit);
}
void writeHtb(const QdiscInfo& info, std::string& text) {
  char buf[48];
  std::snprintf(buf, sizeof buf, " r2q %u default %#x", info.rate2quantum.value_or(0),
                unsigned{info.default_class.value_or(0)});
  text += buf;
}
void writeTbf(const QdiscInfo& info, std::string& text) {
  // tc shows the latency the limit stands for; the limit itself is what the
  // kernel holds, and compares exactly.
  if (info.rate) text += " rate " + info.rate->str();
  if (info.burst_bytes) text += " burst " + sizeText(*info.burst_bytes);
  if (info.limit) text += " limit " + sizeText(*info.limit);
}
void writeNetem(const QdiscInfo& info, std::string& text) {
  if (info.limit) text += " limit " + std::to_string(*info.limit);
  if (info.delay && info.delay->count() != 0) {
    text += " delay " + timeText(*info.delay);
    if (info.jitter && info.jitter->count() != 0) text += " " + timeText(*info.jitter);
  }
  if (info.loss_percent && *info.loss_percent != 0)
    text += " loss " + percentText(*info.loss_percent);
}

constexpr ListedKind kListedKinds[] = {
    {"pfifo", readFifo, writePfifo}, {"bfifo", readFifo, writeBfifo},  {"htb", readHtb, writeHtb},
    {"tbf", readTbf, writeTbf},      {"netem", readNetem, writeNetem},
};

const ListedKind* listedKind(std::string_view kind) {
  for (const auto& row : kListedKinds)
    if (row.kind == kind) return &row;
  return nullptr;
}

std::vector<QdiscInfo> qdiscsOf(const Rtnl& rtnl, int ifindex, std::string_view link) {
  nl_cache* raw = nullptr;
  rtnl.check(rtnl_qdisc_alloc_cache(rtnl.sock(), &raw), "RTM_GETQDISC",
             "qdiscs on " + quoted("link", link));
  CachePtr cache(raw);
  std::vector<QdiscInfo> out;
  for (nl_object* o = nl_cache_get_first(cache.get()); o != nullptr; o = nl_cache_get_next(o)) {
    auto* q = reinterpret_cast<rtnl_qdisc*>(o);
    rtnl_tc* tc = TC_CAST(q);
    if (rtnl_tc_get_ifindex(tc) != ifindex) continue;
    QdiscInfo info;
    if (const char* kind = rtnl_tc_get_kind(tc)) info.kind = kind;
    info.handle = TcHandle{rtnl_tc_get_handle(tc)};
    info.parent = TcHandle{rtnl_tc_get_parent(tc)};
    if (const ListedKind* row = listedKind(info.kind)) row->read(q, info);
    out.push_back(std::move(info));
  }
  return out;
}

// A handle for a spec that leaves it to the kernel. The request must carry
// one all the same: without a handle, NLM_F_CREATE|NLM_F_EXCL makes the
// kernel replace whatever qdisc sits at the parent, someone else's too
// (6.18 does; `tc qdisc add dev X root pfifo` replaces an htb there), while
// with one it refuses unless the kernel's default is there. ingress and
// clsact are always ffff:; others get the first free one from 8001:, where
// the kernel's own choices start.
TcHandle freeHandle(const Rtnl& rtnl, const QdiscSpec& spec, int ifindex,
                    const std::string& object) {
  if (effectiveParent(spec) == TcHandle::ingress()) return TcHandle::of(0xffff);
  const auto taken = qdiscsOf(rtnl, ifindex, spec.link);
  for (std::uint32_t major = 0x8001; major < 0xffff; ++major) {
    const TcHandle h = TcHandle::of(static_cast<std::uint16_t>(major));
    if (std::none_of(taken.begin(), taken.end(), [&](const QdiscInfo& q) { return q.handle == h; }))
      return h;
  }
  throw Error("RTM_NEWQDISC", object, rtnl.where(), EBUSY, "every qdisc handle is in use");
}

}  // namespace

// ---- TcHandle, BitRate ---------------------------------------------------------

TcHandle TcHandle::parse(std::string_view text) {
  if (text == "root") return root();
  if (text == "none") return TcHandle{};
  if (text == "ingress" || text == "clsact") return ingress();
  auto fail = [&]() -> TcHandle {
    throw Error("parse", quoted("tc handle", text), "", EINVAL,
                "expected major:minor in hex such as 1: or 1:2, or root");
  };
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) return fail();
  auto number = [&](std::string_view part, std::uint32_t& out) {
    if (part.empty()) return true;  // "1:" and ":2" leave a part out
    if (part.size() > 4) return false;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), out, 16);
    return ec == std::errc() && end == part.data() + part.size();
  };
  std::uint32_t major = 0, minor = 0;
  if (!number(text.substr(0, colon), major) || !number(text.substr(colon + 1), minor) ||
      text.size() == 1)
    return fail();
  return of(static_cast<std::uint16_t>(major), static_cast<std::uint16_t>(minor));
}

std::string TcHandle::str() const {
  // tc's print_tc_classid().
  if (*this == root()) return "root";
  if (value == 0) return "none";
  if (major() == 0) return ":" + hex(minor());
  if (minor() == 0) return hex(major()) + ":";
  return hex(major()) + ":" + hex(minor());
}

std::string BitRate::str() const {
  // tc's print_rate(): the largest unit that leaves no remainder below 1000
  // of it.
  static constexpr const char* kUnits[] = {"", "K", "M", "G", "T"};
  const bool negative = bits_per_second < 0;
  std::uint64_t rate = negative ? 0 - static_cast<std::uint64_t>(bits_per_second)
                                : static_cast<std::uint64_t>(bits_per_second);
  std::size_t i = 0;
  for (; i + 1 < std::size(kUnits); ++i) {
    if (rate < 1000) break;
    if (rate % 1000 != 0 && rate < 1000 * 1000) break;
    rate /= 1000;
  }
  return (negative ? "-" : "") + std::to_string(rate) + kUnits[i] + "bit";
}

// ---- Qdisc ---------------------------------------------------------------------

std::string_view qdiscKind(const QdiscOptions& options) noexcept {
  static constexpr std::string_view kKinds[] = {"pfifo", "bfifo",  "htb",    "tbf",
                                                "netem", "clsact", "ingress"};
  static_assert(std::size(kKinds) == std::variant_size_v<QdiscOptions>);
  return kKinds[options.index()];
}

std::string QdiscSpec::str() const {
  std::string text(kind());
  if (handle.value != 0) text += " " + qdiscHandleText(handle);
  text += " " + placement(effectiveParent(*this));
  std::visit(
      Overloaded{
          [&](const PfifoSpec& s) { text += " limit " + std::to_string(s.limit_packets) + "p"; },
          [&](const BfifoSpec& s) { text += " limit " + sizeText(s.limit_bytes); },
          [&](const HtbSpec& s) { text += " default " + hex(s.default_class); },
          [&](const TbfSpec& s) {
            text += " rate " + s.rate.str() + " burst " + sizeText(s.burst_bytes);
            text += s.limit_bytes != 0 ? " limit " + sizeText(s.limit_bytes)
                                       : " latency " + timeText(s.latency);
          },
          [&](const NetemSpec& s) {
            text += " limit " + std::to_string(s.limit_packets) + " delay " + timeText(s.delay) +
                    " " + timeText(s.jitter) + " loss " + percentText(s.loss_percent);
          },
          [&](const ClsactSpec&) {},
          [&](const IngressSpec&) {},
      },
      options);
  return text;
}

Qdisc::Qdisc(const Rtnl& rtnl, QdiscSpec spec) : rtnl_(&rtnl), spec_(std::move(spec)) {
  const std::string object = qdiscObject(spec_);
  validate(rtnl, spec_, object);
  ifindex_ = tcLinkIndex(rtnl, spec_.link, "RTM_NEWQDISC", object);
  handle_ = spec_.handle.value != 0 ? spec_.handle : freeHandle(rtnl, spec_, ifindex_, object);
  QdiscPtr q = buildQdisc(rtnl, spec_, handle_, ifindex_, object);
  try {
    // NLM_F_EXCL with a handle: takes the place of the kernel's default
    // qdisc, and of nothing else (see the header).
    rtnl.check(rtnl_qdisc_add(rtnl.sock(), q.get(), NLM_F_CREATE | NLM_F_EXCL), "RTM_NEWQDISC",
               object);
  } catch (const Error& e) {
    if (e.sysErrno() == ENOENT && kindMissing(TcFamily::kQdisc, spec_.kind()))
      throw unsupportedTcKind("RTM_NEWQDISC", object, rtnl.where(), TcFamily::kQdisc, spec_.kind());
    throw;
  }
}

Qdisc::Qdisc(Qdisc&& other) noexcept
    : rtnl_(std::exchange(other.rtnl_, nullptr)),
      spec_(std::move(other.spec_)),
      ifindex_(other.ifindex_),
      handle_(other.handle_) {}

Qdisc::~Qdisc() {
  if (rtnl_ == nullptr) return;
  QdiscPtr q(rtnl_qdisc_alloc());
  if (!q) return;
  rtnl_tc* tc = TC_CAST(q.get());
  rtnl_tc_set_ifindex(tc, ifindex_);
  rtnl_tc_set_parent(tc, effectiveParent(spec_).value);
  rtnl_tc_set_handle(tc, handle_.value);
  // Already gone is fine: with its link, or with the class or qdisc above it.
  // The kernel reattaches its default qdisc in our place.
  quietly(*rtnl_, rtnl_qdisc_delete(rtnl_->sock(), q.get()));
}

// ---- TrafficClass --------------------------------------------------------------

std::string HtbClassSpec::str() const {
  return "htb " + classid.str() + " parent " + parent.str() + " rate " + rate.str() + " ceil " +
         ceil.value_or(rate).str();
}

TrafficClass::TrafficClass(const Rtnl& rtnl, HtbClassSpec spec)
    : rtnl_(&rtnl), spec_(std::move(spec)) {
  const std::string object = classObject(spec_);
  auto refuse = [&](const std::string& why) {
    throw Error("RTM_NEWTCLASS", object, rtnl.where(), EINVAL, why);
  };
  // htb refuses a zero rate, and libnl would truncate a negative one into a
  // huge one: both are refused here, by name.
  if (spec_.rate.bits_per_second < 8) refuse("rate must be at least 8bit, got " + spec_.rate.str());
  if (spec_.ceil && spec_.ceil->bits_per_second < 8)
    refuse("ceil must be at least 8bit, got " + spec_.ceil->str());
  if (spec_.classid.major() == 0 || spec_.classid.minor() == 0)
    refuse("a class id needs a major and a minor number, got " + spec_.classid.str());
  ifindex_ = tcLinkIndex(rtnl, spec_.link, "RTM_NEWTCLASS", object);

  ClassPtr c(rtnl_class_alloc());
  if (!c) throw Error("rtnl_class_alloc", object, rtnl.where(), ENOMEM, "out of memory");
  rtnl_tc* tc = TC_CAST(c.get());
  rtnl_tc_set_ifindex(tc, ifindex_);
  rtnl_tc_set_parent(tc, spec_.parent.value);
  rtnl_tc_set_handle(tc, spec_.classid.value);
  rtnl.check(rtnl_tc_set_kind(tc, "htb"), "rtnl_tc_set_kind", object);
  rtnl.check(rtnl_htb_set_rate64(c.get(), bytesPerSecond(spec_.rate)), "rtnl_htb_set_rate64",
             object);
  rtnl.check(rtnl_htb_set_ceil64(c.get(), bytesPerSecond(spec_.ceil.value_or(spec_.rate))),
             "rtnl_htb_set_ceil64", object);
  try {
    rtnl.check(rtnl_class_add(rtnl.sock(), c.get(), NLM_F_CREATE | NLM_F_EXCL), "RTM_NEWTCLASS",
               object);
  } catch (const Error& e) {
    if (e.sysErrno() == ENOENT && kindMissing(TcFamily::kQdisc, "htb"))
      throw unsupportedTcKind("RTM_NEWTCLASS", object, rtnl.where(), TcFamily::kQdisc, "htb");
    throw;
  }
}

TrafficClass::TrafficClass(TrafficClass&& other) noexcept
    : rtnl_(std::exchange(other.rtnl_, nullptr)),
      spec_(std::move(other.spec_)),
      ifindex_(other.ifindex_) {}

TrafficClass::~TrafficClass() {
  if (rtnl_ == nullptr) return;
  ClassPtr c(rtnl_class_alloc());
  if (!c) return;
  rtnl_tc* tc = TC_CAST(c.get());
  rtnl_tc_set_ifindex(tc, ifindex_);
  rtnl_tc_set_parent(tc, spec_.parent.value);
  rtnl_tc_set_handle(tc, spec_.classid.value);
  // Already gone with its link or qdisc is fine. A filter still steering
  // into the class makes htb refuse (EBUSY): filters go first.
  quietly(*rtnl_, rtnl_class_delete(rtnl_->sock(), c.get()));
}

// ---- listing -------------------------------------------------------------------

std::string QdiscInfo::str() const {
  std::string text = "qdisc " + kind + " " + qdiscHandleText(handle) + " " + placement(parent);
  if (const ListedKind* row = listedKind(kind)) row->write(*this, text);
  return text;
}

std::string ClassInfo::str() const {
  std::string text = "class " + kind + " " + classid.str() + " " + placement(parent);
  if (rate) text += " rate " + rate->str();
  if (ceil) text += " ceil " + ceil->str();
  return text;
}

std::vector<QdiscInfo> listQdiscs(const Rtnl& rtnl, std::string_view link) {
  return qdiscsOf(
      rtnl, tcLinkIndex(rtnl, link, "RTM_GETQDISC", "qdiscs on " + quoted("link", link)), link);
}

std::vector<ClassInfo> listClasses(const Rtnl& rtnl, std::string_view link) {
  const std::string object = "classes on " + quoted("link", link);
  const int ifindex = tcLinkIndex(rtnl, link, "RTM_GETTCLASS", object);
  nl_cache* raw = nullptr;
  rtnl.check(rtnl_class_alloc_cache(rtnl.sock(), ifindex, &raw), "RTM_GETTCLASS", object);
  CachePtr cache(raw);
  std::vector<ClassInfo> out;
  for (nl_object* o = nl_cache_get_first(cache.get()); o != nullptr; o = nl_cache_get_next(o)) {
    auto* c = reinterpret_cast<rtnl_class*>(o);
    rtnl_tc* tc = TC_CAST(c);
    ClassInfo info;
    if (const char* kind = rtnl_tc_get_kind(tc)) info.kind = kind;
    info.classid = TcHandle{rtnl_tc_get_handle(tc)};
    info.parent = TcHandle{rtnl_tc_get_parent(tc)};
    if (info.kind == "htb") {
      std::uint64_t rate = 0, ceil = 0;
      if (rtnl_htb_get_rate64(c, &rate) == 0)
        info.rate = BitRate::bps(static_cast<std::int64_t>(rate * 8));
      if (rtnl_htb_get_ceil64(c, &ceil) == 0)
        info.ceil = BitRate::bps(static_cast<std::int64_t>(ceil * 8));
    }
    out.push_back(std::move(info));
  }
  return out;
}

// ---- what the kernel has -------------------------------------------------------

std::string tcModuleName(TcFamily family, std::string_view kind) {
  static constexpr std::pair<TcFamily, std::string_view> kPrefixes[] = {
      {TcFamily::kQdisc, "sch_"}, {TcFamily::kClassifier, "cls_"}, {TcFamily::kAction, "act_"}};
  for (const auto& [f, prefix] : kPrefixes)
    if (f == family) return std::string(prefix) + std::string(kind);
  return std::string(kind);
}

Error unsupportedTcKind(std::string op, std::string object, std::string where, TcFamily family,
                        std::string_view kind) {
  return Error(std::move(op), std::move(object), std::move(where), EOPNOTSUPP,
               "unsupported: " + tcModuleName(family, kind) + " not available in this kernel");
}

int tcLinkIndex(const Rtnl& rtnl, std::string_view link, std::string_view op,
                std::string_view object) {
  if (link.empty())
    throw Error(std::string(op), std::string(object), rtnl.where(), EINVAL, "no link named");
  if (auto info = findLink(rtnl, link)) return info->ifindex;
  throw Error(std::string(op), std::string(object), rtnl.where(), ENODEV, "No such device");
}

namespace {

// One bare request, a header and TCA_KIND only: the kernel looks the kind up
// before it reads any options, so one shape of request probes every kind.
int sendKindProbe(const Rtnl& rtnl, int type, const tcmsg& header, std::string_view kind) {
  MsgPtr msg(nlmsg_alloc_simple(type, NLM_F_CREATE | NLM_F_EXCL));
  if (!msg) return -NLE_NOMEM;
  tcmsg copy = header;
  if (int rc = nlmsg_append(msg.get(), &copy, sizeof copy, NLMSG_ALIGNTO); rc < 0) return rc;
  if (int rc = nla_put_string(msg.get(), TCA_KIND, std::string(kind).c_str()); rc < 0) return rc;
  return nl_send_sync(rtnl.sock(), msg.release());  // frees the message
}

// A u32 filter matching everything, with one action of `kind` and no action
// options. Actions are probed inside a filter, as they are used: a
// standalone RTM_NEWACTION needs CAP_NET_ADMIN in the initial user namespace
// and is refused (EPERM) under `unshare -Urn`, where filters are not.
int sendActionProbe(const Rtnl& rtnl, const tcmsg& header, std::string_view kind) {
  MsgPtr msg(nlmsg_alloc_simple(RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL));
  if (!msg) return -NLE_NOMEM;
  tcmsg copy = header;
  tc_u32_sel selector{};
  selector.flags = TC_U32_TERMINAL;
  if (int rc = nlmsg_append(msg.get(), &copy, sizeof copy, NLMSG_ALIGNTO); rc < 0) return rc;
  if (nla_put_string(msg.get(), TCA_KIND, "u32") < 0) return -NLE_NOMEM;
  nlattr* options = nla_nest_start(msg.get(), TCA_OPTIONS);
  if (options == nullptr || nla_put(msg.get(), TCA_U32_SEL, sizeof selector, &selector) < 0)
    return -NLE_NOMEM;
  nlattr* actions = nla_nest_start(msg.get(), TCA_U32_ACT);
  nlattr* first = nla_nest_start(msg.get(), 1);
  if (actions == nullptr || first == nullptr ||
      nla_put_string(msg.get(), TCA_ACT_KIND, std::string(kind).c_str()) < 0)
    return -NLE_NOMEM;
  nla_nest_end(msg.get(), first);
  nla_nest_end(msg.get(), actions);
  nla_nest_end(msg.get(), options);
  return nl_send_sync(rtnl.sock(), msg.release());
}

// Whether the kernel answered "no such kind" (ENOENT) to a probe.
bool answeredUnknown(const Rtnl& rtnl, int nl_result, const std::string& object) {
  try {
    rtnl.check(nl_result, "probe", object);
  } catch (const Error& e) {
    return e.sysErrno() == ENOENT;
  }
  return false;
}

bool probe(TcFamily family, std::string_view kind) {
  // Everything the probe makes goes with the scratch namespace.
  const Netns ns = Netns::create("tc probe");
  const Rtnl rtnl(ns);
  const std::string object = tcModuleName(family, kind);
  tcmsg header{};
  header.tcm_family = AF_UNSPEC;
  header.tcm_ifindex = getLink(rtnl, "lo").ifindex;
  if (family == TcFamily::kQdisc) {
    header.tcm_parent = kind == "ingress" || kind == "clsact" ? TC_H_INGRESS : TC_H_ROOT;
    return !answeredUnknown(rtnl, sendKindProbe(rtnl, RTM_NEWQDISC, header, kind), object);
  }

  // Filters need a qdisc to hang on. ingress and clsact need no options, so
  // they are made bare too; a Qdisc here would call back into the probe on
  // failure, under the probe's lock.
  header.tcm_parent = TC_H_INGRESS;
  TcHandle hook = TcHandle::of(0xffff);
  if (answeredUnknown(rtnl, sendKindProbe(rtnl, RTM_NEWQDISC, header, "ingress"), object)) {
    rtnl.check(sendKindProbe(rtnl, RTM_NEWQDISC, header, "clsact"), "probe",
               "an ingress or clsact qdisc for " + object);
    hook = TcHandle::clsactIngress();
  }
  header.tcm_parent = hook.value;
  header.tcm_info = TC_H_MAKE(1u << 16, htons(ETH_P_ALL));
  if (family == TcFamily::kClassifier)
    return !answeredUnknown(rtnl, sendKindProbe(rtnl, RTM_NEWTFILTER, header, kind), object);

  if (!answeredUnknown(rtnl, sendActionProbe(rtnl, header, kind), object)) return true;
  // ENOENT: the action, or u32 itself. A bare u32 filter tells which.
  header.tcm_info = TC_H_MAKE(2u << 16, htons(ETH_P_ALL));
  if (answeredUnknown(rtnl, sendKindProbe(rtnl, RTM_NEWTFILTER, header, "u32"), object))
    throw Error("probe", object, rtnl.where(), EOPNOTSUPP,
                "actions are probed inside a u32 filter, and cls_u32 is not available");
  return false;
}

}  // namespace

bool tcKindAvailable(TcFamily family, std::string_view kind) {
  static std::mutex mutex;
  static std::map<std::pair<TcFamily, std::string>, bool, std::less<>> known;
  // The kernel's policy caps a kind's name below IFNAMSIZ and would answer
  // EINVAL, not ENOENT, for a longer one: no such kind exists.
  if (kind.empty() || kind.size() >= IFNAMSIZ) return false;
  const std::lock_guard lock(mutex);
  auto key = std::make_pair(family, std::string(kind));
  if (auto it = known.find(key); it != known.end()) return it->second;
  // Probing under the lock: a second caller waits for the first answer
  // instead of making a second scratch namespace.
  const bool available = probe(family, kind);
  known.emplace(std::move(key), available);
  return available;
}

}  // namespace deadpeer

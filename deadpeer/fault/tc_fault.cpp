// The kinds made of tc: host-crash and drop with the tc backend, and delay.
//
// A qdisc acts on what leaves a link, so a fault on what reaches a host is
// placed on the far end of each of its wires, whose egress is the host's
// ingress. This needs no gact action, which many kernels (this project's CI
// among them) lack. The far end must be a switch port or a router, never
// another host: a drop in a host's own queue is not silent loss to it, its
// TCP sees local congestion and, for one, never counts a keepalive probe
// that its own qdisc refused, so keepalive would never detect the crash.
// makeFault() therefore picks nftables for such a wire (tcFarEndProblem).
//
//   host-crash: pfifo limit 0 at the root of both ends of every wire;
//   drop:       htb 1: (default 1:1 passes) with class 1:2 whose leaf is
//               pfifo limit 0, and u32 filters steering the matched
//               packets into 1:2;
//   delay:      netem at the root of the host's links.
//
// Each fault opens its own Rtnl on every namespace it touches.
#include <list>
#include <map>
#include <variant>

#include "deadpeer/error.hpp"
#include "deadpeer/fault/kinds.hpp"
#include "deadpeer/net/filter.hpp"
#include "deadpeer/net/qdisc.hpp"

namespace deadpeer::fault_kinds {
namespace {

constexpr std::uint16_t kFirstPriority = 10;

// The tc objects on one link, in creation order; destroyed in reverse.
struct LinkPlan {
  const Rtnl* rtnl;
  std::string link;
  bool towards_host;  // a far end: its egress is the host's ingress
};

std::optional<IpPrefix> hostPrefix(const std::optional<IpAddress>& a) {
  if (!a) return std::nullopt;
  return IpPrefix{*a, a->family == AF_INET ? 32 : 128};
}

// The u32 match for `flow` as it crosses a link in one direction.
FlowMatch matchOf(const std::optional<Flow>& flow, bool towards_host) {
  FlowMatch m;
  if (!flow) return m;
  m.protocol = static_cast<std::uint8_t>(flow->protocol);
  m.source = hostPrefix(towards_host ? flow->destination : flow->source);
  m.destination = hostPrefix(towards_host ? flow->source : flow->destination);
  m.source_port = towards_host ? flow->destination_port : flow->source_port;
  m.destination_port = towards_host ? flow->source_port : flow->destination_port;
  return m;
}

// The families a flow can be: the one its addresses say, else both.
std::vector<int> familiesOf(const std::optional<Flow>& flow) {
  if (flow && flow->source) return {flow->source->family};
  if (flow && flow->destination) return {flow->destination->family};
  return {AF_INET, AF_INET6};
}

class TcFault final : public Fault {
 public:
  TcFault(Topology& topology, const FaultSpec& spec) : Fault(spec) {
    const Host& host = topology.host(spec.host);
    const auto own = topology.linksOf(spec.host);
    const auto far = topology.farEndsOf(spec.host);
    if (own.empty())
      throw Error("make fault", spec.str(), host.netns().label(), ENOLINK, "the host has no links");
    const bool egress = spec.kind != FaultKind::kDrop || spec.direction != Direction::kIngress;
    const bool ingress = spec.kind != FaultKind::kDelay && (spec.kind == FaultKind::kHostCrash ||
                                                            spec.direction != Direction::kEgress);
    for (std::size_t i = 0; i < own.size(); ++i) {
      if (!spec.link.empty() && own[i].link != spec.link) continue;
      if (egress) plans_.push_back({&rtnlFor(topology, own[i].node), own[i].link, false});
      if (ingress) plans_.push_back({&rtnlFor(topology, far[i].node), far[i].link, true});
    }
    if (plans_.empty())
      throw Error("make fault", spec.str(), host.netns().label(), ENODEV,
                  "the host has no link \"" + spec.link + "\"");
  }
  ~TcFault() override { revertOnDestruction(); }

 private:
  const Rtnl& rtnlFor(Topology& topology, const std::string& node) {
    auto it = rtnls_.find(node);
    if (it == rtnls_.end())
      it = rtnls_.emplace(node, std::make_unique<Rtnl>(topology.netnsOf(node))).first;
    return *it->second;
  }

  void doApply() override {
    try {
      for (const auto& p : plans_) applyOn(p);
    } catch (...) {
      doRevert();  // all or nothing
      throw;
    }
  }

  void applyOn(const LinkPlan& p) {
    switch (spec().kind) {
      case FaultKind::kHostCrash:
        made_.emplace_back(std::in_place_type<Qdisc>, *p.rtnl,
                           QdiscSpec{.link = p.link, .options = PfifoSpec{0}});
        return;
      case FaultKind::kDelay:
        made_.emplace_back(
            std::in_place_type<Qdisc>, *p.rtnl,
            QdiscSpec{.link = p.link,
                      .options = NetemSpec{.delay = spec().delay, .jitter = spec().jitter}});
        return;
      default:
        break;
    }
    made_.emplace_back(
        std::in_place_type<Qdisc>, *p.rtnl,
        QdiscSpec{
            .link = p.link, .handle = TcHandle::of(1), .options = HtbSpec{.default_class = 1}});
    made_.emplace_back(std::in_place_type<TrafficClass>, *p.rtnl,
                       HtbClassSpec{.link = p.link,
                                    .parent = TcHandle::of(1),
                                    .classid = TcHandle::of(1, 2),
                                    .rate = BitRate::gbit(10)});
    made_.emplace_back(std::in_place_type<Qdisc>, *p.rtnl,
                       QdiscSpec{.link = p.link,
                                 .parent = TcHandle::of(1, 2),
                                 .handle = TcHandle::of(2),
                                 .options = PfifoSpec{0}});
    std::uint16_t priority = kFirstPriority;
    for (int family : familiesOf(spec().flow))
      made_.emplace_back(
          std::in_place_type<U32Filter>, *p.rtnl,
          U32FilterSpec{.link = p.link,
                        .parent = TcHandle::of(1),
                        .priority = priority++,
                        .protocol = std::uint16_t(family == AF_INET ? ETH_P_IP : ETH_P_IPV6),
                        .match = matchOf(spec().flow, p.towards_host),
                        .flowid = TcHandle::of(1, 2)});
  }

  void doRevert() override {
    // Exactly the reverse of creation: filters before the classes they
    // point to, leaves before their classes, classes before their roots.
    while (!made_.empty()) made_.pop_back();
  }

  std::map<std::string, std::unique_ptr<Rtnl>> rtnls_;
  std::vector<LinkPlan> plans_;
  std::list<std::variant<Qdisc, TrafficClass, U32Filter>> made_;
};

}  // namespace

std::string tcFarEndProblem(const Topology& topology, const FaultSpec& spec) {
  if (spec.kind == FaultKind::kDelay) return {};
  if (spec.kind == FaultKind::kDrop && spec.direction == Direction::kEgress) return {};
  const auto own = topology.linksOf(spec.host);
  const auto far = topology.farEndsOf(spec.host);
  for (std::size_t i = 0; i < own.size(); ++i) {
    if (!spec.link.empty() && own[i].link != spec.link) continue;
    const NodeSpec* node = topology.spec().find(far[i].node);
    if (node != nullptr && node->kind == NodeKind::kHost)
      return "tc cannot drop what reaches " + spec.host + " over its direct link to host " +
             far[i].node + ": the drop would sit in " + far[i].node +
             "'s own queue, where its TCP sees local congestion instead of loss (keepalive "
             "probes are not even counted); use the nftables backend, or a switch between them";
  }
  return {};
}

std::unique_ptr<Fault> tc(Topology& topology, const FaultSpec& spec) {
  if (std::string why = tcFarEndProblem(topology, spec); !why.empty())
    throw Error("make fault", spec.str(), "", EINVAL, why);
  return std::make_unique<TcFault>(topology, spec);
}

}  // namespace deadpeer::fault_kinds

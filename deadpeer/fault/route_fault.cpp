// blackhole, unreachable, prohibit: host routes of that type on a router,
// one per address of the target, more specific than the connected subnet
// and so preferred to it.
#include <list>

#include "deadpeer/error.hpp"
#include "deadpeer/fault/kinds.hpp"
#include "deadpeer/net/route.hpp"

namespace deadpeer::fault_kinds {
namespace {

class RouteFault final : public Fault {
 public:
  RouteFault(Topology& topology, const FaultSpec& spec)
      : Fault(spec), rtnl_(topology.host(spec.host).netns()) {
    type_ = spec.kind == FaultKind::kBlackhole     ? RouteType::kBlackhole
            : spec.kind == FaultKind::kUnreachable ? RouteType::kUnreachable
                                                   : RouteType::kProhibit;
    for (int family : {AF_INET, AF_INET6}) {
      const IpAddress a = topology.address(spec.target, family);
      destinations_.push_back(IpPrefix{a, family == AF_INET ? 32 : 128});
    }
  }
  ~RouteFault() override { revertOnDestruction(); }

 private:
  void doApply() override {
    for (const auto& d : destinations_) routes_.emplace_back(rtnl_, RouteSpec::reject(type_, d));
  }
  void doRevert() override { routes_.clear(); }

  Rtnl rtnl_;
  RouteType type_;
  std::vector<IpPrefix> destinations_;
  std::list<Route> routes_;
};

}  // namespace

std::unique_ptr<Fault> route(Topology& topology, const FaultSpec& spec) {
  (void)topology.host(spec.target);  // names an unknown target clearly
  return std::make_unique<RouteFault>(topology, spec);
}

}  // namespace deadpeer::fault_kinds

// link-down: the host's link goes administratively down, and its veth peer
// loses carrier: both ends see the cable pulled. revert() returns once both
// ends carry traffic again; the far end matters as much as the near one (a
// switch port forwards again only after linkwatch has seen its carrier).
#include <chrono>

#include "deadpeer/error.hpp"
#include "deadpeer/fault/kinds.hpp"
#include "deadpeer/net/link.hpp"

namespace deadpeer::fault_kinds {
namespace {

constexpr std::chrono::seconds kReadyDeadline{5};

class LinkDownFault final : public Fault {
 public:
  LinkDownFault(Topology& topology, const FaultSpec& spec)
      : Fault(spec), rtnl_(topology.host(spec.host).netns()) {
    (void)getLink(rtnl_, spec.link);  // names a missing link before anything changes
    const auto own = topology.linksOf(spec.host);
    const auto far = topology.farEndsOf(spec.host);
    for (std::size_t i = 0; i < own.size(); ++i) {
      if (own[i].link != spec.link) continue;
      far_rtnl_ = std::make_unique<Rtnl>(topology.netnsOf(far[i].node));
      far_link_ = far[i].link;
      far_is_host_ = topology.isUp(far[i].node);
    }
  }
  ~LinkDownFault() override { revertOnDestruction(); }

 private:
  void doApply() override { setLinkUp(rtnl_, spec().link, false); }
  void doRevert() override {
    setLinkUp(rtnl_, spec().link, true);
    // Back only when both ends carry traffic again, as after a build.
    waitTrafficReady(rtnl_, {spec().link}, true, kReadyDeadline);
    if (far_rtnl_) waitTrafficReady(*far_rtnl_, {far_link_}, far_is_host_, kReadyDeadline);
  }

  Rtnl rtnl_;
  std::unique_ptr<Rtnl> far_rtnl_;  // none for a link outside the topology's wires
  std::string far_link_;
  bool far_is_host_ = false;
};

}  // namespace

std::unique_ptr<Fault> linkDown(Topology& topology, const FaultSpec& spec) {
  return std::make_unique<LinkDownFault>(topology, spec);
}

}  // namespace deadpeer::fault_kinds

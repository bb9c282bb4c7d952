// link-down: the host's link goes administratively down, and its veth peer
// loses carrier: both ends see the cable pulled.
#include <chrono>

#include "error.hpp"
#include "fault/kinds.hpp"
#include "net/link.hpp"

namespace deadpeer::fault_kinds {
namespace {

class LinkDownFault final : public Fault {
 public:
  LinkDownFault(Topology& topology, const FaultSpec& spec)
      : Fault(spec), rtnl_(topology.host(spec.host).netns()) {
    (void)getLink(rtnl_, spec.link);  // names a missing link before anything changes
  }
  ~LinkDownFault() override { revertOnDestruction(); }

 private:
  void doApply() override { setLinkUp(rtnl_, spec().link, false); }
  void doRevert() override {
    setLinkUp(rtnl_, spec().link, true);
    // Back only when it carries traffic again, as after a build.
    waitTrafficReady(rtnl_, {spec().link}, true, std::chrono::seconds(5));
  }

  Rtnl rtnl_;
};

}  // namespace

std::unique_ptr<Fault> linkDown(Topology& topology, const FaultSpec& spec) {
  return std::make_unique<LinkDownFault>(topology, spec);
}

}  // namespace deadpeer::fault_kinds

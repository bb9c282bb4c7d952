// reboot: apply() crashes the host (its wires are cut first, so nothing it
// does while dying reaches anyone, then its namespace and every socket in it
// are dropped); revert() boots it again with the same addresses and MAC and
// no TCP state, so it answers stale segments with RST. A duration is the
// downtime.
#include "deadpeer/fault/kinds.hpp"

namespace deadpeer::fault_kinds {
namespace {

class RebootFault final : public Fault {
 public:
  RebootFault(Topology& topology, const FaultSpec& spec) : Fault(spec), topology_(topology) {
    (void)topology.host(spec.host);
  }
  ~RebootFault() override { revertOnDestruction(); }

 private:
  void doApply() override { topology_.takeDown(spec().host); }
  void doRevert() override { topology_.bringUp(spec().host); }

  Topology& topology_;
};

}  // namespace

std::unique_ptr<Fault> reboot(Topology& topology, const FaultSpec& spec) {
  return std::make_unique<RebootFault>(topology, spec);
}

}  // namespace deadpeer::fault_kinds

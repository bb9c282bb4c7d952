// syn-drop: new connections to a host vanish, established ones live on.
//
// One nftables rule in the host's own namespace drops every TCP segment
// that opens a connection (SYN without ACK) on input, silently: a client's
// connect() sits in SYN-SENT and retries its SYN (1 s, 2 s, 4 s, ...,
// tcp_syn_retries; REFERENCE.md "Connection setup") until ETIMEDOUT, while
// every established connection, its keepalive probes included, passes.
#include "deadpeer/fault/kinds.hpp"

namespace deadpeer::fault_kinds {

std::unique_ptr<Fault> synDrop(Topology& topology, const FaultSpec& spec) {
  return nftRules(spec, topology.host(spec.host).netns(), "inet",
                  {{"ingress",
                    "type filter hook input priority -300; policy accept;",
                    {"tcp flags & (syn|ack) == syn drop"}}});
}

}  // namespace deadpeer::fault_kinds

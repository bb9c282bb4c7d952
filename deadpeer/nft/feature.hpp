// nft/feature: which nftables families and expressions this kernel offers.
//
// Kernels differ (REFERENCE.md section 5: this project's kernel lacks netem
// but has nftables), so nothing is assumed: each feature is probed by doing
// the real thing in a scratch namespace of our own, which is then dropped.
// A family is probed by creating a table of it with a base chain on one of
// its hooks; an expression by loading a rule that uses it into an inet input
// chain; "conntrack" by loading a ct rule and reading
// net.netfilter.nf_conntrack_tcp_timeout_established in the namespace.
//
// Features: the families "inet", "ip", "ip6", "netdev", "bridge", "arp"; the
// expressions "reject tcp reset", "numgen", "ct state", "limit", "quota";
// and "conntrack".
//
// Threading: safe from any thread. The first call probes every feature once
// for the whole process (std::call_once); later calls read the results.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace deadpeer {

// The names above, in that order.
const std::vector<std::string>& nftFeatures();

// Whether `feature` works here. Throws Error (EINVAL) for an unknown name.
bool nftFeatureAvailable(std::string_view feature);

// Why `feature` does not work here ("" when it does), for a test's skip
// message, e.g. "nftables expression \"numgen\" unavailable: nft ...".
// Throws Error (EINVAL) for an unknown name.
std::string nftFeatureUnavailableReason(std::string_view feature);

}  // namespace deadpeer

#include "deadpeer/nft/feature.hpp"

#include <algorithm>
#include <cerrno>
#include <map>
#include <mutex>
#include <optional>

#include "deadpeer/error.hpp"
#include "deadpeer/nft/table.hpp"
#include "deadpeer/ns/netns.hpp"
#include "deadpeer/ns/sysctl.hpp"

namespace deadpeer {
namespace {

constexpr const char* kProbeTable = "deadpeer_probe";
constexpr const char* kConntrackSysctl = "net.netfilter.nf_conntrack_tcp_timeout_established";

struct Probe {
  const char* feature;
  const char* kind;    // for messages: "family", "expression" or "facility"
  const char* family;  // of the probe's table
  // A base chain "probe" on one of the family's hooks: a table alone would
  // not prove that the family's hooks exist.
  const char* chain;
  const char* rule;  // nullptr for a family
  bool reads_conntrack_sysctl = false;
};

// clang-format off
constexpr Probe kProbes[] = {
    {"inet", "family", "inet", "type filter hook input priority 0;", nullptr},
    {"ip", "family", "ip", "type filter hook input priority 0;", nullptr},
    {"ip6", "family", "ip6", "type filter hook input priority 0;", nullptr},
    {"netdev", "family", "netdev", "type filter hook ingress device lo priority 0;", nullptr},
    {"bridge", "family", "bridge", "type filter hook input priority 0;", nullptr},
    {"arp", "family", "arp", "type filter hook input priority 0;", nullptr},
    {"reject tcp reset", "expression", "inet", "type filter hook input priority 0;",
     "meta l4proto tcp reject with tcp reset"},
    {"numgen", "expression", "inet", "type filter hook input priority 0;",
     "numgen random mod 100 < 50 drop"},
    {"ct state", "expression", "inet", "type filter hook input priority 0;",
     "ct state established,related accept"},
    {"limit", "expression", "inet", "type filter hook input priority 0;",
     "limit rate 10/second accept"},
    {"quota", "expression", "inet", "type filter hook input priority 0;",
     "quota over 10 mbytes drop"},
    {"conntrack", "facility", "inet", "type filter hook input priority 0;",
     "ct state established accept", true},
};
// clang-format on

// Tries the real thing; returns why it failed, or "".
std::string tryProbe(const Netns& ns, const Probe& probe) {
  try {
    NftTable table(ns, probe.family, kProbeTable);
    table.apply("add chain " + std::string(probe.family) + " " + kProbeTable + " probe { " +
                probe.chain + " }");
    std::optional<NftRule> rule;
    if (probe.rule != nullptr) rule.emplace(table.addRule("probe", probe.rule));
    if (probe.reads_conntrack_sysctl) {
      const std::string value = readSysctl(ns, kConntrackSysctl);
      if (value.empty() || value.find_first_not_of("0123456789") != std::string::npos)
        return std::string(kConntrackSysctl) + " reads \"" + value + "\", not a number";
    }
    return {};
  } catch (const Error& e) {
    return e.what();
  }
}

using Results = std::map<std::string, std::string, std::less<>>;

const Results& results() {
  static std::once_flag once;
  static Results reasons;
  std::call_once(once, [] {
    std::optional<Netns> scratch;
    std::string no_namespace;
    try {
      scratch.emplace(Netns::create("nft probe namespace"));
    } catch (const Error& e) {
      no_namespace = std::string("cannot create a scratch network namespace: ") + e.what();
    }
    for (const Probe& probe : kProbes) {
      const std::string why = scratch ? tryProbe(*scratch, probe) : no_namespace;
      reasons[probe.feature] = why.empty() ? std::string()
                                           : std::string("nftables ") + probe.kind + " \"" +
                                                 probe.feature + "\" unavailable: " + why;
    }
  });
  return reasons;
}

}  // namespace

const std::vector<std::string>& nftFeatures() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const Probe& probe : kProbes) out.emplace_back(probe.feature);
    return out;
  }();
  return names;
}

std::string nftFeatureUnavailableReason(std::string_view feature) {
  // Checked before probing, so that a typo costs no namespace.
  const auto& names = nftFeatures();
  if (std::find(names.begin(), names.end(), feature) == names.end()) {
    std::string known;
    for (const auto& name : names) known += (known.empty() ? "" : ", ") + name;
    throw Error("nft", quoted("feature", feature), "", EINVAL, "unknown; expected one of " + known);
  }
  return results().find(feature)->second;
}

bool nftFeatureAvailable(std::string_view feature) {
  return nftFeatureUnavailableReason(feature).empty();
}

}  // namespace deadpeer

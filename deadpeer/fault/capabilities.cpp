#include "deadpeer/fault/capabilities.hpp"

#include "deadpeer/net/qdisc.hpp"
#include "deadpeer/nft/feature.hpp"

namespace deadpeer {
namespace {

struct TcNeed {
  TcFamily family;
  const char* kind;
  const char* needed_by;
};

constexpr TcNeed kTcNeeds[] = {
    {TcFamily::kQdisc, "pfifo", "host-crash (tc), drop (tc)"},
    {TcFamily::kQdisc, "htb", "drop (tc)"},
    {TcFamily::kQdisc, "tbf", "rate limits"},
    {TcFamily::kQdisc, "netem", "delay, jitter"},
    {TcFamily::kQdisc, "clsact", "per-direction hooks"},
    {TcFamily::kClassifier, "u32", "drop (tc) of one flow"},
    {TcFamily::kClassifier, "bpf", "programmable classification"},
    {TcFamily::kAction, "gact", "tc drop without a class"},
    {TcFamily::kAction, "mirred", "redirects"},
};

struct NftNeed {
  const char* feature;
  const char* needed_by;
};

constexpr NftNeed kNftNeeds[] = {
    {"inet", "drop (nft), loss, reset, firewall-forget"},
    {"netdev", "host-crash (nft)"},
    {"bridge", "switch-level faults"},
    {"reject tcp reset", "reset"},
    {"numgen", "loss"},
    {"ct state", "firewall-forget"},
    {"conntrack", "firewall-forget"},
};

std::string tcReason(TcFamily family, const char* kind) {
  if (tcKindAvailable(family, kind)) return {};
  return "unsupported: " + tcModuleName(family, kind) + " not available in this kernel";
}

std::string nftReason(const char* feature) {
  if (nftFeatureAvailable(feature)) return {};
  return "unsupported: nftables " + std::string(feature) + " not available in this kernel";
}

bool usesTc(const FaultSpec& spec) { return spec.backend != Backend::kNft; }

}  // namespace

std::vector<KernelFeature> probeKernelFeatures() {
  std::vector<KernelFeature> out;
  for (const auto& n : kTcNeeds)
    out.push_back({tcModuleName(n.family, n.kind), n.needed_by, tcKindAvailable(n.family, n.kind)});
  for (const auto& n : kNftNeeds)
    out.push_back(
        {"nftables " + std::string(n.feature), n.needed_by, nftFeatureAvailable(n.feature)});
  return out;
}

std::string unsupportedReason(const FaultSpec& spec) {
  std::vector<std::string> reasons;
  switch (spec.kind) {
    case FaultKind::kHostCrash:
      reasons.push_back(usesTc(spec) ? tcReason(TcFamily::kQdisc, "pfifo") : nftReason("netdev"));
      break;
    case FaultKind::kDrop:
      if (usesTc(spec)) {
        reasons.push_back(tcReason(TcFamily::kQdisc, "htb"));
        reasons.push_back(tcReason(TcFamily::kQdisc, "pfifo"));
        reasons.push_back(tcReason(TcFamily::kClassifier, "u32"));
      } else {
        reasons.push_back(nftReason("inet"));
      }
      break;
    case FaultKind::kLoss:
      reasons.push_back(nftReason("inet"));
      reasons.push_back(nftReason("numgen"));
      break;
    case FaultKind::kReset:
      reasons.push_back(nftReason("reject tcp reset"));
      break;
    case FaultKind::kFirewallForget:
      reasons.push_back(nftReason("ct state"));
      reasons.push_back(nftReason("conntrack"));
      break;
    case FaultKind::kDelay:
      reasons.push_back(tcReason(TcFamily::kQdisc, "netem"));
      break;
    default:
      break;
  }
  for (const auto& r : reasons)
    if (!r.empty()) return r;
  return {};
}

}  // namespace deadpeer

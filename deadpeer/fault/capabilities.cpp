#include "deadpeer/fault/capabilities.hpp"

#include "deadpeer/fault/kinds.hpp"
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
    {"inet", "drop (nft), loss, reset, firewall-forget, syn-drop"},
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
  return faultKindInfo(spec.kind).unsupported(spec);
}

namespace fault_kinds {
namespace {

// The first missing feature of several.
std::string firstOf(std::initializer_list<std::string> reasons) {
  for (const auto& r : reasons)
    if (!r.empty()) return r;
  return {};
}

}  // namespace

std::string noFeature(const FaultSpec&) { return {}; }

std::string hostCrashFeatures(const FaultSpec& spec) {
  return usesTc(spec) ? tcReason(TcFamily::kQdisc, "pfifo") : nftReason("netdev");
}

std::string dropFeatures(const FaultSpec& spec) {
  if (!usesTc(spec)) return nftReason("inet");
  return firstOf({tcReason(TcFamily::kQdisc, "htb"), tcReason(TcFamily::kQdisc, "pfifo"),
                  tcReason(TcFamily::kClassifier, "u32")});
}

std::string lossFeatures(const FaultSpec&) {
  return firstOf({nftReason("inet"), nftReason("numgen")});
}

std::string resetFeatures(const FaultSpec&) { return nftReason("reject tcp reset"); }

std::string firewallForgetFeatures(const FaultSpec&) {
  return firstOf({nftReason("ct state"), nftReason("conntrack")});
}

std::string delayFeatures(const FaultSpec&) { return tcReason(TcFamily::kQdisc, "netem"); }

std::string synDropFeatures(const FaultSpec&) { return nftReason("inet"); }

}  // namespace fault_kinds
}  // namespace deadpeer

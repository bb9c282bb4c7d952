// The kinds made of nftables rules: drop, loss, reset, firewall-forget, and
// host-crash's nftables backend; nftRules() for kinds of their own files
// (syn_drop_fault.cpp).
//
// Each fault owns one table in the namespace it acts in, made by apply()
// with its chains and rules and deleted whole by revert(), so nothing
// changes before apply() and the ruleset after revert() reads exactly as
// before apply().
//
// A Flow names a connection as the host where the fault acts sees it:
// source is this host's side, destination the peer's. Egress matches the
// flow as written (host to peer), ingress matches it reversed (peer to
// host); reset answers the ingress packets.
#include <atomic>
#include <cmath>
#include <optional>
#include <utility>

#include "deadpeer/error.hpp"
#include "deadpeer/fault/kinds.hpp"
#include "deadpeer/nft/table.hpp"
#include "deadpeer/ns/sysctl.hpp"

namespace deadpeer::fault_kinds {
namespace {

std::string uniqueTableName(std::string_view kind) {
  static std::atomic<unsigned> next{0};
  std::string name = "deadpeer_";
  for (char c : kind) name += c == '-' ? '_' : c;
  return name + "_" + std::to_string(next++);
}

std::string addressMatch(const IpAddress& a, std::string_view field) {
  return std::string(a.family == AF_INET ? "ip " : "ip6 ") + std::string(field) + " " + a.str() +
         " ";
}

// The nft match for `flow`, reversed for packets towards the host.
std::string flowMatch(const std::optional<Flow>& flow, bool towards_host) {
  if (!flow) return {};
  const auto& local = towards_host ? flow->destination : flow->source;
  const auto& remote = towards_host ? flow->source : flow->destination;
  const auto& local_port = towards_host ? flow->destination_port : flow->source_port;
  const auto& remote_port = towards_host ? flow->source_port : flow->destination_port;
  const std::string proto = flow->protocol == 6 ? "tcp" : flow->protocol == 17 ? "udp" : "";
  std::string m;
  if (local) m += addressMatch(*local, "saddr");
  if (remote) m += addressMatch(*remote, "daddr");
  m += proto.empty() ? "meta l4proto " + std::to_string(flow->protocol) + " "
                     : "meta l4proto " + proto + " ";
  if (local_port) m += proto + " sport " + std::to_string(*local_port) + " ";
  if (remote_port) m += proto + " dport " + std::to_string(*remote_port) + " ";
  return m;
}

class NftFault final : public Fault {
 public:
  NftFault(const FaultSpec& spec, const Netns& ns, std::string family, std::vector<NftChain> chains,
           std::vector<std::pair<std::string, std::string>> sysctls)
      : Fault(spec),
        ns_(ns),
        family_(std::move(family)),
        name_(uniqueTableName(faultKindInfo(spec.kind).name)),
        chains_(std::move(chains)),
        sysctls_(std::move(sysctls)) {}
  ~NftFault() override { revertOnDestruction(); }

 private:
  std::string prefix() const { return family_ + " " + name_; }

  void doApply() override {
    table_.emplace(ns_, family_, name_);
    std::string batch;
    for (const auto& c : chains_) {
      batch += "add chain " + prefix() + " " + c.name + " { " + c.hook + " }\n";
      for (const auto& r : c.rules) batch += "add rule " + prefix() + " " + c.name + " " + r + "\n";
    }
    try {
      table_->apply(batch);
    } catch (...) {
      table_.reset();
      throw;
    }
    // Conntrack's sysctls exist once a ct rule has loaded it, so after the
    // batch; the old values are kept for revert().
    saved_.clear();
    for (const auto& [key, value] : sysctls_) {
      saved_.emplace_back(key, readSysctl(ns_, key));
      writeSysctl(ns_, key, value);
    }
  }

  void doRevert() override {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it)
      writeSysctl(ns_, it->first, it->second);
    saved_.clear();
    table_.reset();  // deletes the table with every chain and rule in it
  }

  const Netns& ns_;
  std::string family_;
  std::string name_;
  std::optional<NftTable> table_;
  std::vector<NftChain> chains_;
  std::vector<std::pair<std::string, std::string>> sysctls_;
  std::vector<std::pair<std::string, std::string>> saved_;
};

// The verdict of a drop or loss rule.
std::string lossVerdict(const FaultSpec& spec) {
  if (spec.kind != FaultKind::kLoss || spec.loss_percent >= 100) return "drop";
  // Hundredths of a percent; numgen's range is 0..9999.
  const long k = std::lround(spec.loss_percent * 100);
  return "numgen random mod 10000 < " + std::to_string(k) + " drop";
}

std::vector<NftChain> dropChains(const FaultSpec& spec) {
  constexpr const char* kEarly = "priority -300; policy accept;";
  std::vector<NftChain> chains;
  const std::string verdict = lossVerdict(spec);
  if (spec.direction != Direction::kIngress)
    chains.push_back({"egress",
                      std::string("type filter hook output ") + kEarly,
                      {flowMatch(spec.flow, false) + verdict}});
  if (spec.direction != Direction::kEgress)
    chains.push_back({"ingress",
                      std::string("type filter hook input ") + kEarly,
                      {flowMatch(spec.flow, true) + verdict}});
  return chains;
}

// Every frame of every link of the host, both ways, ARP and all.
std::vector<NftChain> crashChains(const Topology& topology, const FaultSpec& spec) {
  std::vector<NftChain> chains;
  for (const auto& end : topology.linksOf(spec.host)) {
    const std::string device = "device \"" + end.link + "\" priority -500; policy drop;";
    chains.push_back({"in_" + end.link, "type filter hook ingress " + device, {}});
    chains.push_back({"out_" + end.link, "type filter hook egress " + device, {}});
  }
  return chains;
}

}  // namespace

std::unique_ptr<Fault> nftRules(const FaultSpec& spec, const Netns& ns, std::string family,
                                std::vector<NftChain> chains,
                                std::vector<std::pair<std::string, std::string>> sysctls) {
  return std::make_unique<NftFault>(spec, ns, std::move(family), std::move(chains),
                                    std::move(sysctls));
}

std::unique_ptr<Fault> nftHostCrash(Topology& topology, const FaultSpec& spec) {
  return nftRules(spec, topology.host(spec.host).netns(), "netdev", crashChains(topology, spec));
}

std::unique_ptr<Fault> nftDrop(Topology& topology, const FaultSpec& spec) {
  return nftRules(spec, topology.host(spec.host).netns(), "inet", dropChains(spec));
}

std::unique_ptr<Fault> loss(Topology& topology, const FaultSpec& spec) {
  return nftRules(spec, topology.host(spec.host).netns(), "inet", dropChains(spec));
}

std::unique_ptr<Fault> reset(Topology& topology, const FaultSpec& spec) {
  const std::string rule = flowMatch(spec.flow, true) + (spec.flow ? "" : "meta l4proto tcp ") +
                           "reject with tcp reset";
  return nftRules(spec, topology.host(spec.host).netns(), "inet",
                  {{"ingress", "type filter hook input priority -300; policy accept;", {rule}}});
}

std::unique_ptr<Fault> firewallForget(Topology& topology, const FaultSpec& spec) {
  // New flows must open with a SYN; anything else not already tracked (a
  // flow the firewall forgot) is dropped, silently.
  std::vector<NftChain> chains{{"forward",
                                "type filter hook forward priority 0; policy accept;",
                                {"ct state established,related accept",
                                 "meta l4proto tcp ct state new tcp flags & (fin|syn|rst|ack) == "
                                 "syn accept",
                                 "meta l4proto tcp drop"}}};
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(spec.conntrack_timeout);
  return nftRules(spec, topology.host(spec.host).netns(), "inet", std::move(chains),
                  {{"net.netfilter.nf_conntrack_tcp_loose", "0"},
                   {"net.netfilter.nf_conntrack_tcp_timeout_established",
                    std::to_string(seconds.count())}});
}

}  // namespace deadpeer::fault_kinds

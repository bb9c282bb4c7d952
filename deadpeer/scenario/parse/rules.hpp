// scenario/parse/rules: the rule table of every mapping of the format, one
// source file per section (peers.cpp, faults.cpp, expect.cpp, hosts.cpp,
// document.cpp for the top level). scenarioKeys() and the schema read the
// same tables, so the format's key lists exist once.
//
// Internal to the scenario parser. Threading: tables are immutable after
// first use.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "deadpeer/scenario/parse/draft.hpp"
#include "deadpeer/scenario/parse/reader.hpp"

namespace deadpeer::parse {

// peers[] and the mappings inside a peer.
const std::vector<Rule<PeerDraft>>& peerRules();
const std::vector<Rule<KernelDetectorSettings>>& keepaliveRules();
const std::vector<Rule<HeartbeatDraft>>& heartbeatRules();
const std::vector<Rule<TrafficDraft>>& trafficRules();
const std::vector<Rule<ReadyDraft>>& readyRules();
const std::vector<Rule<DetectDraft>>& detectRules();
const std::vector<Rule<ExternalPeerSpec::SocketLeavesEstablished>>& socketRules();
const std::vector<Rule<AppRule>>& appRuleRules();
void readAppRule(Reader& r, const Entry& e, std::optional<AppRule>& out);
void readPeer(Reader& r, const Entry& e, Draft& d);

// faults[]: the kinds (a bit each, as Rule::applies counts them) that
// take `key`, or that need it, by the table of kinds (fault/fault.hpp).
std::uint32_t faultKindsTaking(FaultKey key);
std::uint32_t faultKindsNeeding(FaultKey key);
const std::vector<Rule<FaultDraft>>& faultRules();
void readFault(Reader& r, const Entry& e, Draft& d);

// expect and its mappings.
const std::vector<Rule<ExpectDraft>>& expectRules();
const std::vector<Rule<Expectation>>& windowRules();
const std::vector<Rule<Expectation>>& falsePositiveRules();

// hosts.*
const std::vector<Rule<HostDraft>>& hostRules();
const std::vector<Rule<HostTcpSettings>>& hostTcpRules();
void readHosts(Reader& r, const Entry& e, Draft& d);

// The top level.
const std::vector<Rule<Draft>>& topRules();

}  // namespace deadpeer::parse

// peers[].rule: a program's own liveness rule. The keys each kind takes
// come from appRuleKinds() (oracle/app_rule.hpp), the one table of rule
// kinds.
#include <algorithm>
#include <cstdint>

#include "deadpeer/scenario/parse/rules.hpp"

namespace deadpeer::parse {

// `rule: {kind: openssh, interval: 1s, count_max: 3}`: the keys each kind
// takes come from appRuleKinds(), the one table of rule kinds.
namespace {

const std::vector<std::pair<std::string, AppRuleKind>>& appRuleKindNames() {
  static const std::vector<std::pair<std::string, AppRuleKind>> table = [] {
    std::vector<std::pair<std::string, AppRuleKind>> rows;
    for (const auto& info : appRuleKinds()) rows.emplace_back(std::string(info.name), info.kind);
    return rows;
  }();
  return table;
}

std::string appRuleKindNamesOf(std::uint32_t bits) { return namesOf(bits, appRuleKindNames()); }

std::uint32_t appRuleKindsWith(std::string_view key) {
  std::uint32_t bits = 0;
  for (const auto& info : appRuleKinds())
    if (std::find(info.keys.begin(), info.keys.end(), key) != info.keys.end())
      bits |= bitOf(info.kind);
  return bits;
}

// Each field is validated alone, on otherwise valid settings of its kind,
// so every bad field is reported at its own place.
void checkRuleField(Reader& r, const Entry& e, const AppRule& rule,
                    void (*set)(AppRule&, const AppRule&)) {
  AppRule alone{rule.kind, std::chrono::seconds(1), std::chrono::seconds(1),
                std::chrono::seconds(1), 3};
  set(alone, rule);
  r.check(e, [&] { alone.validate(); });
}

}  // namespace

const std::vector<Rule<AppRule>>& appRuleRules() {
  static const std::vector<Rule<AppRule>> rules = [] {
    std::vector<Rule<AppRule>> out = {
        {"kind", [](Reader&, const Entry&, AppRule&) {}, kEvery, kEvery},  // read first
        {"idle",
         [](Reader& r, const Entry& e, AppRule& a) {
           if (auto v = r.duration(e)) {
             a.idle = *v;
             checkRuleField(r, e, a, [](AppRule& x, const AppRule& y) { x.idle = y.idle; });
           }
         }},
        {"time",
         [](Reader& r, const Entry& e, AppRule& a) {
           if (auto v = r.duration(e)) {
             a.idle = *v;
             checkRuleField(r, e, a, [](AppRule& x, const AppRule& y) { x.idle = y.idle; });
           }
         }},
        {"interval",
         [](Reader& r, const Entry& e, AppRule& a) {
           if (auto v = r.duration(e)) {
             a.interval = *v;
             checkRuleField(r, e, a,
                            [](AppRule& x, const AppRule& y) { x.interval = y.interval; });
           }
         }},
        {"timeout",
         [](Reader& r, const Entry& e, AppRule& a) {
           if (auto v = r.duration(e)) {
             a.timeout = *v;
             checkRuleField(r, e, a, [](AppRule& x, const AppRule& y) { x.timeout = y.timeout; });
           }
         }},
        {"count",
         [](Reader& r, const Entry& e, AppRule& a) {
           if (auto v = r.integer(e, INT32_MIN, INT32_MAX)) {
             a.count = static_cast<int>(*v);
             checkRuleField(r, e, a, [](AppRule& x, const AppRule& y) { x.count = y.count; });
           }
         }},
        {"count_max",
         [](Reader& r, const Entry& e, AppRule& a) {
           if (auto v = r.integer(e, INT32_MIN, INT32_MAX)) {
             a.count = static_cast<int>(*v);
             checkRuleField(r, e, a, [](AppRule& x, const AppRule& y) { x.count = y.count; });
           }
         }},
    };
    for (auto& rule : out)
      if (rule.key != "kind") rule.applies = rule.required = appRuleKindsWith(rule.key);
    return out;
  }();
  return rules;
}

void readAppRule(Reader& r, const Entry& e, std::optional<AppRule>& out) {
  AppRule rule;
  Kinds kinds{std::nullopt, appRuleKindNamesOf, "rule"};
  if (auto kind = findKey(e, "kind")) {
    if (auto k = r.choice(*kind, "rule kind", appRuleKindNames())) {
      rule.kind = *k;
      kinds.bit = bitOf(*k);
    }
  }
  const std::size_t before = r.count();
  readMap(r, e, appRuleRules(), rule, kinds);
  if (r.count() == before) out = rule;
}

}  // namespace deadpeer::parse

#include "deadpeer/scenario/parse/rules.hpp"

#include <algorithm>

#include "deadpeer/scenario/parse/names.hpp"

namespace deadpeer::parse {

using std::chrono::milliseconds;

const std::vector<Rule<Draft>>& topRules() {
  static const std::vector<Rule<Draft>> rules = {
      {"description",
       [](Reader& r, const Entry& e, Draft& d) {
         if (auto v = r.text(e)) d.scenario.description = *v;
       }},
      {"topology",
       [](Reader& r, const Entry& e, Draft& d) {
         if (r.choice(e, "topology", topologies()))
           d.scenario.topology = e.value.Scalar();
         else
           d.topology_known = false;
       }},
      {"clients",
       [](Reader& r, const Entry& e, Draft& d) {
         if (auto v = r.integer(e, 1, 252)) d.scenario.clients = static_cast<int>(*v);
       }},
      {"families",
       [](Reader& r, const Entry& e, Draft& d) {
         std::vector<int> families;
         readList(r, e, [&](const Entry& item) {
           const auto family = r.choice(item, "family", familyNames());
           if (!family) return;
           if (std::find(families.begin(), families.end(), *family) != families.end())
             r.error(item, "listed twice");
           else
             families.push_back(*family);
         });
         if (e.value.IsSequence() && e.value.size() == 0)
           r.error(e, "must list at least one of ipv4 and ipv6");
         if (!families.empty()) d.scenario.families = families;
       }},
      {"repeat",
       [](Reader& r, const Entry& e, Draft& d) {
         if (auto v = r.integer(e, 1, 1000)) d.scenario.repeat = static_cast<int>(*v);
       }},
      {"bench",
       [](Reader& r, const Entry& e, Draft& d) {
         if (auto v = r.boolean(e)) d.scenario.bench = *v;
       }},
      {"hosts", readHosts},
      {"peers",
       [](Reader& r, const Entry& e, Draft& d) {
         readList(r, e, [&](const Entry& item) { readPeer(r, item, d); });
         if (e.value.IsSequence() && e.value.size() == 0) r.error(e, "must list at least one peer");
       },
       kEvery, kEvery},
      {"warmup",
       [](Reader& r, const Entry& e, Draft& d) {
         if (auto v = r.duration(e)) d.scenario.warmup = *v;
       }},
      {"faults",
       [](Reader& r, const Entry& e, Draft& d) {
         readList(r, e, [&](const Entry& item) { readFault(r, item, d); });
       }},
      {"expect",
       [](Reader& r, const Entry& e, Draft& d) {
         d.expect.expect.mark = e.mark;
         d.expect.seen = readMap(r, e, expectRules(), d.expect);
       },
       kEvery, kEvery},
  };
  return rules;
}

}  // namespace deadpeer::parse

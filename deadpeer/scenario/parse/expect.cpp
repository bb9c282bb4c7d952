#include "deadpeer/scenario/parse/rules.hpp"

#include "deadpeer/scenario/parse/names.hpp"

namespace deadpeer::parse {

using std::chrono::milliseconds;

const std::vector<Rule<Expectation>>& windowRules() {
  static const std::vector<Rule<Expectation>> rules = {
      {"earliest",
       [](Reader& r, const Entry& e, Expectation& x) {
         if (auto v = r.duration(e)) x.earliest = *v;
       },
       kEvery, kEvery},
      {"latest",
       [](Reader& r, const Entry& e, Expectation& x) {
         if (auto v = r.duration(e)) x.latest = *v;
       },
       kEvery, kEvery},
  };
  return rules;
}

const std::vector<Rule<Expectation>>& falsePositiveRules() {
  static const std::vector<Rule<Expectation>> rules = {
      {"max",
       [](Reader& r, const Entry& e, Expectation& x) {
         if (auto v = r.integer(e, 0, 1'000'000)) x.max_false_positives = static_cast<int>(*v);
       },
       kEvery, kEvery},
      {"min_p_a",
       [](Reader& r, const Entry& e, Expectation& x) {
         if (auto v = r.number(e)) {
           if (*v < 0.0 || *v > 1.0)
             r.error(e, "must be between 0 and 1 (a probability), got " + e.value.Scalar());
           else
             x.min_accuracy = *v;
         }
       },
       kEvery, 0},
      {"min_t_mr",
       [](Reader& r, const Entry& e, Expectation& x) {
         if (auto v = r.duration(e)) x.min_mistake_recurrence = *v;
       },
       kEvery, 0},
  };
  return rules;
}

const std::vector<Rule<ExpectDraft>>& expectRules() {
  static const std::vector<Rule<ExpectDraft>> rules = {
      {"peer",
       [](Reader& r, const Entry& e, ExpectDraft& x) {
         if (auto v = r.text(e)) x.expect.peer = *v;
       },
       kEvery, kEvery},
      {"detected",
       [](Reader& r, const Entry& e, ExpectDraft& x) {
         if (auto v = r.boolean(e)) x.expect.detected = *v;
       }},
      {"detector",
       [](Reader& r, const Entry& e, ExpectDraft& x) {
         x.expect.detector = r.choice(e, "detector", detectors());
       }},
      {"errno", [](Reader& r, const Entry& e,
                   ExpectDraft& x) { x.expect.error = r.choice(e, "errno", errnos()); }},
      {"window",
       [](Reader& r, const Entry& e, ExpectDraft& x) {
         static const std::vector<std::pair<std::string, Expectation::Window>> named = {
             {"oracle", Expectation::Window::kOracle}, {"none", Expectation::Window::kNone}};
         if (e.value.IsMap()) {
           x.window = readMap(r, e, windowRules(), x.expect);
           x.expect.window = Expectation::Window::kExplicit;
         } else if (e.value.IsScalar()) {
           if (auto v = r.choice(e, "window", named)) x.expect.window = *v;
         } else {
           r.error(e, "must be oracle, none or {earliest, latest}, got " + described(e.value));
         }
       }},
      {"probes",
       [](Reader& r, const Entry& e, ExpectDraft& x) {
         if (e.value.IsScalar() && e.value.Scalar() == "oracle") {
           x.expect.probes = Expectation::Probes::kOracle;
         } else if (e.value.IsScalar() && plainType(e.value) == Plain::kInt) {
           if (auto v = r.integer(e, 0, 1'000'000)) {
             x.expect.probes = Expectation::Probes::kExplicit;
             x.expect.probe_count = static_cast<int>(*v);
           }
         } else {
           r.error(e, "must be oracle or a number of probes, got " + described(e.value));
         }
       }},
      {"deadline",
       [](Reader& r, const Entry& e, ExpectDraft& x) {
         if (auto v = r.duration(e)) {
           if (v->count() == 0)
             r.error(e, "must be positive, got 0s");
           else
             x.expect.deadline = *v;
         }
       }},
      {"survives",
       [](Reader& r, const Entry& e, ExpectDraft& x) {
         if (auto v = r.boolean(e)) x.expect.survives = *v;
       }},
      {"rst_from",
       [](Reader& r, const Entry& e, ExpectDraft& x) {
         if (auto v = r.text(e)) x.expect.rst_from = *v;
       }},
      {"icmp",
       [](Reader& r, const Entry& e, ExpectDraft& x) {
         if (auto v = r.text(e)) x.expect.icmp = *v;
       }},
      {"false_positives", [](Reader& r, const Entry& e,
                             ExpectDraft& x) { readMap(r, e, falsePositiveRules(), x.expect); }},
      {"observe",
       [](Reader& r, const Entry& e, ExpectDraft& x) {
         if (auto v = r.duration(e)) x.expect.observe = *v;
       }},
  };
  return rules;
}

}  // namespace deadpeer::parse

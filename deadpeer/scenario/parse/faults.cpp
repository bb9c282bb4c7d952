#include "deadpeer/scenario/parse/rules.hpp"

#include "deadpeer/scenario/parse/names.hpp"

namespace deadpeer::parse {

using std::chrono::milliseconds;

namespace {

std::string faultKindNamesOf(std::uint32_t bits) { return namesOf(bits, faultKindNames()); }

}  // namespace

std::uint32_t faultKindsTaking(FaultKey key) {
  std::uint32_t bits = 0;
  for (const auto& info : faultKinds())
    if (info.takes(key)) bits |= bitOf(info.kind);
  return bits;
}

std::uint32_t faultKindsNeeding(FaultKey key) {
  std::uint32_t bits = 0;
  for (const auto& info : faultKinds())
    if (info.needs(key)) bits |= bitOf(info.kind);
  return bits;
}

const std::vector<Rule<FaultDraft>>& faultRules() {
  // Rules that FaultSpec::validate() states (target only for route kinds, a
  // percentage only for loss, ...) are left to it; `applies` covers the keys
  // it cannot see. Both read the table of kinds.
  const std::uint32_t process = faultKindsTaking(FaultKey::kProcess);
  static const std::vector<Rule<FaultDraft>> rules = {
      {"kind", [](Reader&, const Entry&, FaultDraft&) {}, kEvery, kEvery},  // read first
      {"host",
       [](Reader& r, const Entry& e, FaultDraft& f) {
         if (auto v = r.text(e)) f.fault.spec.host = *v;
       },
       kEvery, ~process},
      {"at",
       [](Reader& r, const Entry& e, FaultDraft& f) {
         if (e.value.IsScalar() && e.value.Scalar() == "setup") {
           f.fault.at_setup = true;
           return;
         }
         if (e.value.IsScalar() && !parseDuration(e.value.Scalar()) &&
             !isDurationSyntax(e.value.Scalar()) && plainType(e.value) == Plain::kString &&
             e.value.Scalar()[0] != '-') {
           r.error(e,
                   "must be a duration (after the warm-up) or setup (before any peer starts), "
                   "got \"" +
                       e.value.Scalar() + "\"");
           return;
         }
         if (auto v = r.duration(e)) f.fault.at = *v;
       }},
      {"duration",
       [](Reader& r, const Entry& e, FaultDraft& f) { f.fault.spec.duration = r.duration(e); }},
      {"target",
       [](Reader& r, const Entry& e, FaultDraft& f) {
         if (auto v = r.text(e)) f.fault.spec.target = *v;
       }},
      {"link",
       [](Reader& r, const Entry& e, FaultDraft& f) {
         if (auto v = r.text(e)) f.fault.spec.link = *v;
       },
       faultKindsTaking(FaultKey::kLink)},
      {"direction",
       [](Reader& r, const Entry& e, FaultDraft& f) {
         if (auto v = r.choice(e, "direction", directions())) f.fault.spec.direction = *v;
       }},
      {"backend",
       [](Reader& r, const Entry& e, FaultDraft& f) {
         if (auto v = r.choice(e, "backend", backends())) f.fault.spec.backend = *v;
       }},
      {"loss_percent",
       [](Reader& r, const Entry& e, FaultDraft& f) {
         if (auto v = r.number(e)) f.fault.spec.loss_percent = *v;
       }},
      {"process",
       [](Reader& r, const Entry& e, FaultDraft& f) {
         if (auto v = r.text(e)) f.fault.process_peer = *v;
       },
       process, faultKindsNeeding(FaultKey::kProcess)},
      {"conntrack_timeout",
       [](Reader& r, const Entry& e, FaultDraft& f) {
         if (auto v = r.duration(e)) f.fault.spec.conntrack_timeout = *v;
       },
       faultKindsTaking(FaultKey::kConntrackTimeout)},
      {"delay",
       [](Reader& r, const Entry& e, FaultDraft& f) {
         if (auto v = r.duration(e)) f.fault.spec.delay = *v;
       },
       faultKindsTaking(FaultKey::kDelay)},
      {"jitter",
       [](Reader& r, const Entry& e, FaultDraft& f) {
         if (auto v = r.duration(e)) f.fault.spec.jitter = *v;
       },
       faultKindsTaking(FaultKey::kJitter)},
  };
  return rules;
}

void readFault(Reader& r, const Entry& e, Draft& d) {
  FaultDraft f;
  f.path = e.path;
  f.fault.mark = e.mark;
  f.diagnostics_before = r.count();
  Kinds kinds{std::nullopt, faultKindNamesOf, "fault"};
  if (auto kind = findKey(e, "kind")) {
    // faultKindNamed() is the authority on kinds; the table only adds the
    // suggestion for a near miss.
    if (auto name = r.text(*kind)) {
      try {
        f.fault.spec.kind = faultKindNamed(*name);
        f.kind_known = true;
        kinds.bit = bitOf(f.fault.spec.kind);
      } catch (const Error& err) {
        std::vector<std::string_view> known;
        for (const auto& [n, k] : faultKindNames()) known.push_back(n);
        r.error(*kind, "unknown fault kind \"" + *name + "\"" + suggestion(*name, known));
      }
    }
  }
  f.seen = readMap(r, e, faultRules(), f, kinds);
  d.faults.push_back(std::move(f));
}

}  // namespace deadpeer::parse

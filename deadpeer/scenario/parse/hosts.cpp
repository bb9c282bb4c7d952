#include "deadpeer/scenario/parse/rules.hpp"

#include <re2/re2.h>

#include <set>

#include "deadpeer/scenario/parse/names.hpp"

namespace deadpeer::parse {

using std::chrono::milliseconds;

const std::vector<Rule<HostTcpSettings>>& hostTcpRules() {
  static const std::vector<Rule<HostTcpSettings>> rules = {
      {"keepalive_time",
       [](Reader& r, const Entry& e, HostTcpSettings& t) {
         if (auto v = r.wholeSeconds(e)) {
           t.keepalive_time = *v;
           r.check(e, [&] { HostTcpSettings{.keepalive_time = v}.validate(); });
         }
       }},
      {"keepalive_intvl",
       [](Reader& r, const Entry& e, HostTcpSettings& t) {
         if (auto v = r.wholeSeconds(e)) {
           t.keepalive_intvl = *v;
           r.check(e, [&] { HostTcpSettings{.keepalive_intvl = v}.validate(); });
         }
       }},
      {"keepalive_probes",
       [](Reader& r, const Entry& e, HostTcpSettings& t) {
         if (auto v = r.integer(e, INT32_MIN, INT32_MAX)) {
           t.keepalive_probes = static_cast<int>(*v);
           r.check(e, [&] { HostTcpSettings{.keepalive_probes = t.keepalive_probes}.validate(); });
         }
       }},
      {"retries2",
       [](Reader& r, const Entry& e, HostTcpSettings& t) {
         if (auto v = r.integer(e, INT32_MIN, INT32_MAX)) {
           t.retries2 = static_cast<int>(*v);
           r.check(e, [&] { HostTcpSettings{.retries2 = t.retries2}.validate(); });
         }
       }},
  };
  return rules;
}

const std::vector<Rule<HostDraft>>& hostRules() {
  static const std::vector<Rule<HostDraft>> rules = {
      {"tcp", [](Reader& r, const Entry& e,
                 HostDraft& h) { readMap(r, e, hostTcpRules(), h.settings.tcp); }},
      {"sysctls",
       [](Reader& r, const Entry& e, HostDraft& h) {
         if (!e.value.IsMap()) {
           r.error(e, "must be a mapping of net.* keys to values, got " + described(e.value));
           return;
         }
         for (const auto& pair : e.value) {
           const SourceMark key_mark = markOf(pair.first.Mark());
           const std::string key = pair.first.IsScalar() ? pair.first.Scalar() : "";
           const Entry value = entryOf(pair.second, join(e.path, key), key_mark);
           // Only the host's own network namespace is the harness's to change;
           // any other sysctl is the machine's.
           if (!key.starts_with("net.")) {
             r.error(key_mark, value.path,
                     "only net.* sysctls belong to a host's network namespace");
             continue;
           }
           // A dotted name, as sysctl(8) writes it: a '/' would make the
           // name a path (net.ipv4.x/../../kernel) that the run refuses.
           static const re2::RE2 kName("net(\\.[A-Za-z0-9_-]+)+");
           if (!re2::RE2::FullMatch(key, kName)) {
             r.error(key_mark, value.path,
                     "must be a dotted sysctl name such as net.ipv4.tcp_keepalive_time "
                     "(letters, digits, _ and - between the dots)");
             continue;
           }
           if (h.settings.sysctls.contains(key)) {
             r.error(key_mark, value.path, "duplicate key");
             continue;
           }
           if (value.value.IsScalar() && plainType(value.value) == Plain::kBool) {
             r.error(value,
                     "sysctls take numbers or strings (write 1 or 0), got " + value.value.Scalar());
             continue;
           }
           if (auto v = r.scalar(value)) h.settings.sysctls.emplace(key, *v);
         }
       }},
  };
  return rules;
}

void readHosts(Reader& r, const Entry& e, Draft& d) {
  if (!e.value.IsMap()) {
    r.error(e, "must be a mapping of host names to settings, got " + described(e.value));
    return;
  }
  std::set<std::string> names;
  for (const auto& pair : e.value) {
    const SourceMark key_mark = markOf(pair.first.Mark());
    HostDraft h;
    h.name = pair.first.IsScalar() ? pair.first.Scalar() : "";
    h.path = join(e.path, h.name);
    h.mark = key_mark;
    if (!names.insert(h.name).second) {
      r.error(key_mark, h.path, "duplicate host");
      continue;
    }
    readMap(r, entryOf(pair.second, h.path, key_mark), hostRules(), h);
    d.hosts.push_back(std::move(h));
  }
}

}  // namespace deadpeer::parse

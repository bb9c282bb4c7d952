// How a file is read: every mapping of the format is a table of Rules (its
// keys, which kinds take them, which need them; parse/rules.hpp), so that
// unknown, misplaced and missing keys are found in one place, and the key
// lists are data that schema.json is tested against. Values are read into
// drafts (parse/draft.hpp) that keep each field's mark, because names that
// refer elsewhere (hosts of the topology, peers) are checked only once the
// whole file is read (parse/references.hpp). Each range is checked by the
// harness's own validate() where one exists, one field at a time, so every
// bad field is reported at its own place.
#include "deadpeer/scenario/scenario.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <sstream>

#include "deadpeer/error.hpp"
#include "deadpeer/scenario/files.hpp"
#include "deadpeer/scenario/parse/bounded_yaml.hpp"
#include "deadpeer/scenario/parse/draft.hpp"
#include "deadpeer/scenario/parse/reader.hpp"
#include "deadpeer/scenario/parse/references.hpp"
#include "deadpeer/scenario/parse/rules.hpp"

namespace deadpeer {

using namespace parse;

Scenario parseScenario(std::string_view yaml, const std::filesystem::path& file) {
  Reader r(file);
  Draft d;
  d.scenario.file = file;
  d.scenario.folder = file.parent_path().filename().string();
  d.scenario.name = d.scenario.folder.empty() ? file.stem().string()
                                              : d.scenario.folder + "/" + file.stem().string();
  checkTabs(r, yaml);
  const std::size_t before = r.count();
  std::optional<YAML::Node> document = loadBoundedDocument(r, yaml);
  if (!document) {
    // With tabs in the indentation the parser's complaint follows from them.
    if (before > 0) r.diagnostics().resize(before);
    throw ScenarioError(std::move(r.diagnostics()));
  }
  const YAML::Node root = *document;
  d.mark = root.IsMap() ? markOf(root.Mark()) : SourceMark{1, 1};
  if (!root.IsMap()) {
    r.error(d.mark, "",
            root.IsNull() ? "the file is empty; a scenario needs at least peers and expect"
                          : "a scenario is a mapping of keys (topology, peers, expect, ...), got " +
                                described(root));
    throw ScenarioError(std::move(r.diagnostics()));
  }
  d.seen = readMap(r, Entry{root, "", d.mark}, topRules(), d);
  const auto spec = topologyOf(r, d);
  checkHosts(r, d, spec);
  checkPeers(r, d, spec);
  checkFaults(r, d, spec);
  checkExpect(r, d, spec);

  auto& diagnostics = r.diagnostics();
  if (!diagnostics.empty()) {
    std::stable_sort(diagnostics.begin(), diagnostics.end(), [](const auto& a, const auto& b) {
      return std::pair(a.mark.line, a.mark.column) < std::pair(b.mark.line, b.mark.column);
    });
    // A file of one mistake repeated (a list of 17,000 equal entries) would
    // print a line for each: the first ones say what is wrong.
    if (diagnostics.size() > kMaxDiagnostics) {
      const std::size_t more = diagnostics.size() - kMaxDiagnostics;
      const SourceMark from = diagnostics[kMaxDiagnostics].mark;
      diagnostics.resize(kMaxDiagnostics);
      diagnostics.push_back({r.file(), from, "",
                             std::to_string(more) + " more problems from here on are not shown"});
    }
    throw ScenarioError(std::move(diagnostics));
  }
  Scenario scenario = std::move(d.scenario);
  for (auto& p : d.peers) scenario.peers.push_back(std::move(p.peer));
  for (auto& f : d.faults) scenario.faults.push_back(std::move(f.fault));
  scenario.expect = std::move(d.expect.expect);
  return scenario;
}

Scenario parseScenarioFile(const std::filesystem::path& file) {
  return parseScenario(readScenarioText(file), file);
}

const std::map<std::string, std::vector<std::string>>& scenarioKeys() {
  static const std::map<std::string, std::vector<std::string>> keys = [] {
    std::map<std::string, std::vector<std::string>> out;
    const auto add = [&](const std::string& section, const auto& rules) {
      for (const auto& rule : rules) out[section].emplace_back(rule.key);
    };
    add("", topRules());
    add("hosts.*", hostRules());
    add("hosts.*.tcp", hostTcpRules());
    add("peers[]", peerRules());
    add("peers[].keepalive", keepaliveRules());
    add("peers[].heartbeat", heartbeatRules());
    add("peers[].traffic", trafficRules());
    add("peers[].ready", readyRules());
    add("peers[].detect", detectRules());
    add("peers[].detect.socket_leaves_established", socketRules());
    add("peers[].rule", appRuleRules());
    add("faults[]", faultRules());
    add("expect", expectRules());
    add("expect.window", windowRules());
    add("expect.false_positives", falsePositiveRules());
    return out;
  }();
  return keys;
}

std::vector<std::string> scenarioTopLevelKeys() { return scenarioKeys().at(""); }

}  // namespace deadpeer

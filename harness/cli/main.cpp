// deadpeer: the command-line front end. Only programs print; the harness
// library reports errors as deadpeer::Error, and this file turns them into
// messages and exit codes (0 ok, 1 failed, 2 bad usage).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "error.hpp"
#include "fault/capabilities.hpp"
#include "fault/fault.hpp"
#include "privilege.hpp"
#include "topology/reach.hpp"
#include "topology/topology.hpp"

namespace {

using namespace deadpeer;
using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

struct Pair {
  const char* from;
  const char* to;
};

// Builds each standard topology, proves end-to-end reachability over IPv4
// and IPv6 with a TCP handshake, tears it down, and reports the timings.
int topologies(int clients) {
  struct Row {
    TopologySpec spec;
    Pair pair;
  };
  std::vector<Row> rows;
  rows.push_back({TopologySpec::twoHosts(), {"h1", "h2"}});
  rows.push_back({TopologySpec::routed(), {"h1", "h2"}});
  rows.push_back({TopologySpec::switched(), {"h1", "h2"}});
  rows.push_back({TopologySpec::manyClients(clients), {"c1", "server"}});

  std::printf("%-14s %5s %5s  %9s  %-22s %11s %11s  %11s\n", "topology", "nodes", "wires",
              "build ms", "path", "TCP v4 ms", "TCP v6 ms", "teardown ms");
  for (auto& row : rows) {
    const std::size_t nodes = row.spec.nodes.size();
    const std::size_t wires = row.spec.wires.size();
    const std::string name = row.spec.name;
    const auto t0 = Clock::now();
    auto topo = std::make_unique<Topology>(std::move(row.spec));
    const double build = msSince(t0);
    const Host& from = topo->host(row.pair.from);
    const Host& to = topo->host(row.pair.to);
    double connect[2];
    int i = 0;
    for (int family : {AF_INET, AF_INET6}) {
      const auto took = tcpConnect(from, to, topo->address(row.pair.to, family), 7,
                                   std::chrono::milliseconds(2000));
      connect[i++] = std::chrono::duration<double, std::milli>(took).count();
    }
    const auto t1 = Clock::now();
    topo.reset();
    const double teardown = msSince(t1);
    const std::string path = std::string(row.pair.from) + " -> " + row.pair.to;
    std::printf("%-14s %5zu %5zu  %9.2f  %-22s %11.3f %11.3f  %11.2f\n", name.c_str(), nodes, wires,
                build, path.c_str(), connect[0], connect[1], teardown);
  }
  return 0;
}

// What this kernel can do, probed for real in a scratch namespace.
int features() {
  std::printf("%-28s %-10s %s\n", "feature", "here", "needed by");
  int missing = 0;
  for (const auto& f : probeKernelFeatures()) {
    std::printf("%-28s %-10s %s\n", f.name.c_str(), f.available ? "available" : "MISSING",
                f.needed_by.c_str());
    missing += f.available ? 0 : 1;
  }
  std::printf("%d missing; faults that need them are refused as unsupported\n", missing);
  return 0;
}

// The table of fault kinds, and whether this kernel can inject each.
int faults() {
  std::printf("%-16s %-10s %-58s %s\n", "kind", "here", "layer", "models");
  for (const auto& k : faultKinds()) {
    FaultSpec spec;
    spec.kind = k.kind;
    const std::string why = unsupportedReason(spec);
    std::printf("%-16s %-10s %-58s %s\n", std::string(k.name).c_str(), why.empty() ? "yes" : "no",
                std::string(k.layer).c_str(), std::string(k.models).c_str());
  }
  return 0;
}

void usage(std::FILE* out) {
  std::fprintf(out,
               "usage: deadpeer topologies [--clients N] | features | faults\n"
               "  topologies   build the standard topologies, prove each one end to end over\n"
               "               IPv4 and IPv6, tear them down, and print how long each step took\n"
               "  features     probe what this kernel can do (qdiscs, tc actions, nftables)\n"
               "  faults       list the fault kinds, their kernel layer, and which work here\n");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Privilege privilege = enterPrivateNamespaces();
    std::vector<std::string_view> args(argv + 1, argv + argc);
    if (args.empty() || args[0] == "--help" || args[0] == "-h") {
      usage(args.empty() ? stderr : stdout);
      return args.empty() ? 2 : 0;
    }
    if (args[0] == "topologies") {
      int clients = 8;
      for (std::size_t i = 1; i < args.size(); ++i) {
        if (args[i] == "--clients" && i + 1 < args.size()) {
          clients = std::atoi(std::string(args[++i]).c_str());
        } else {
          std::fprintf(stderr, "deadpeer topologies: unknown argument '%.*s'\n",
                       static_cast<int>(args[i].size()), args[i].data());
          return 2;
        }
      }
      std::printf("deadpeer: running as %s\n", privilege.description.c_str());
      return topologies(clients);
    }
    if (args[0] == "features" && args.size() == 1) return features();
    if (args[0] == "faults" && args.size() == 1) return faults();
    std::fprintf(stderr, "deadpeer: unknown command '%.*s'\n", static_cast<int>(args[0].size()),
                 args[0].data());
    usage(stderr);
    return 2;
  } catch (const Error& e) {
    std::fprintf(stderr, "deadpeer: %s\n", e.what());
    return e.op() == "validate" ? 2 : 1;
  }
}

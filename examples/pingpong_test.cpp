// The pingpong client and server under deadpeer: each in a host of its own,
// over IPv4 and IPv6. The server's host crashes, or the server freezes
// (SIGSTOP: its kernel still answers), and the client must notice when the
// kernel's rules say it can, and only then.
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "deadpeer/capture/capture.hpp"
#include "deadpeer/fault/fault.hpp"
#include "deadpeer/peer/external.hpp"
#include "deadpeer/testing/detection.hpp"
#include "deadpeer/testing/fixtures.hpp"

namespace {

using namespace std::chrono_literals;
using deadpeer::ExternalPeer;
using deadpeer::ExternalPeerSpec;
using deadpeer::FaultKind;
namespace dt = deadpeer::testing;

// What the oracle does not model: the client's own path from the kernel to
// its verdict. It starts its heartbeat clock when connect() returns in user
// space (the window counts from the SYN-ACK on the wire), and it reports by
// exiting, which deadpeer sees when it reaps it. Measured on a loaded
// two-core machine: 1 to 22 ms.
constexpr auto kReportingPath = 50ms;

class PingPong : public dt::ByFamily<dt::TwoHosts> {
 protected:
  // The server in h2, then the client in h1 with `options`. The capture on
  // h1 opens first: the kernel's rules count from the last segment h1
  // received.
  void start(std::vector<std::string> options) {
    capture_.emplace(host("h1").netns(), "eth0");
    server_.emplace(ExternalPeerSpec{.name = "server",
                                     .argv = {SERVER, "7000"},
                                     .host = "h2",
                                     .readiness = ExternalPeerSpec::Port{.port = 7000}},
                    host("h2").netns(), log_);
    server_->waitReady();
    std::vector<std::string> argv{CLIENT, address("h2").str(), "7000"};
    argv.insert(argv.end(), options.begin(), options.end());
    client_.emplace(ExternalPeerSpec{.name = "client",
                                     .argv = argv,
                                     .host = "h1",
                                     .readiness = ExternalPeerSpec::LineRegex{"^connected"},
                                     .detection = ExternalPeerSpec::Exit{}},
                    host("h1").netns(), log_);
    client_->waitReady();
  }

  // The last segment h1 received before `fault` (with data only: the last
  // PONG, or the connection's SYN-ACK, the heartbeat's last sign of life).
  std::chrono::steady_clock::time_point lastReceived(const deadpeer::Fault& fault,
                                                     bool with_payload = false) {
    return dt::lastReceived(*capture_, address("h1"), fault.appliedAt(), with_payload);
  }

  void TearDown() override {
    client_.reset();
    server_.reset();
    capture_.reset();
    TwoHosts::TearDown();
  }

  deadpeer::EventLog log_;
  std::optional<deadpeer::Capture> capture_;
  std::optional<ExternalPeer> server_;
  std::optional<ExternalPeer> client_;
};

TEST_P(PingPong, KeepaliveDetectsAHostCrashInsideTheKernelWindow) {
  start({"--keepalive", "1,1,2"});
  auto crash = deadpeer::makeFault(topology(), {.kind = FaultKind::kHostCrash, .host = "h2"});
  crash->apply();

  const auto window = dt::kernelWindow(dt::keepaliveDetector(1s, 1s, 2), *crash,
                                       lastReceived(*crash), family());
  EXPECT_TRUE(dt::detectedInWindow(log_, "client", window, kReportingPath));
  EXPECT_TRUE(dt::detectedWithExitStatus(log_, "client", ETIMEDOUT, 0ms));
}

TEST_P(PingPong, KeepaliveNeverDetectsAFrozenServer) {
  start({"--keepalive", "1,1,2"});
  auto freeze = deadpeer::makeFault(
      topology(), {.kind = FaultKind::kProcessFreeze, .host = "h2", .pid = server_->pid()});
  freeze->apply();

  // Its kernel answers every probe. On a crashed host, 1 + 2 x 1 s would
  // have been enough.
  EXPECT_TRUE(dt::notDetectedWithin(log_, "client", 5s));
}

TEST_P(PingPong, HeartbeatDetectsAFrozenServerInsideItsWindow) {
  start({"--keepalive", "1,1,2", "--heartbeat", "300,200,2"});
  auto freeze = deadpeer::makeFault(
      topology(), {.kind = FaultKind::kProcessFreeze, .host = "h2", .pid = server_->pid()});
  freeze->apply();

  const deadpeer::HeartbeatSettings heartbeat{.idle = 300ms, .interval = 200ms, .count = 2};
  const auto window =
      dt::heartbeatWindow(heartbeat, *freeze, lastReceived(*freeze, true), family());
  EXPECT_TRUE(dt::detectedInWindow(log_, "client", window, kReportingPath));
  EXPECT_TRUE(dt::detectedWithExitStatus(log_, "client", ETIMEDOUT, 0ms));
}

INSTANTIATE_TEST_SUITE_P(Families, PingPong, dt::families(), dt::familyTestName);

}  // namespace

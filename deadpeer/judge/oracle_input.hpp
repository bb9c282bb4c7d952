// judge/oracle_input: the one place a scenario becomes the oracle's input.
//
// Everything the oracle needs that follows from the file alone (the watched
// peer's detector and its effective settings, the connection's state, the
// fault that kills the peer) is read here; the instants (fault, last
// received segment, data sent) are the trial's and are added by the judge
// (judge/judge.hpp) or, for `deadpeer explain`, placed at fixed anchors.
//
// Threading: pure functions.
#pragma once

#include "deadpeer/oracle/oracle.hpp"
#include "deadpeer/scenario/scenario.hpp"

namespace deadpeer {

// The kernel detector of the peer's sockets: its socket options over its
// host's sysctls over Linux's defaults, and which of them it came from.
KernelDetector effectiveKernel(const Scenario& sc, const ScenarioPeer& peer);

// The fault the expectation is about: the first one after the warm-up, else
// the first (`at: setup`); nullptr without faults.
const ScheduledFault* killingFault(const Scenario& sc);

// The oracle's input for the watched peer of `sc` in `family`, without the
// trial's instants (OracleInput::fault_at, last_received, data_sent_at).
OracleInput oracleInput(const Scenario& sc, int family);

}  // namespace deadpeer

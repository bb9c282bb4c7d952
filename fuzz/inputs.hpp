// fuzz/inputs: what each libFuzzer target does with one input, shared with
// the regression test (fixtures/fuzz_regression_test.cpp) that replays every
// input a fuzzer ever crashed on, in the ordinary build.
//
// An input "passes" when the function returns: bad input must end in a
// ScenarioError (or a kOther packet), never in a crash, a sanitizer report,
// another exception, or unbounded time or memory.
#pragma once

#include <cstddef>
#include <cstdint>

namespace deadpeer::fuzz {

// The bytes as a scenario file's text, through the whole parser and
// validation (parseScenario), and every diagnostic printed to a string.
void scenarioInput(const std::uint8_t* data, std::size_t size);

// The first byte picks a link type, the second whether heartbeats are
// classified; the rest is frames, each preceded by its length (2 bytes, big
// endian), decoded in order by one PacketDecoder so flow state carries.
void packetInput(const std::uint8_t* data, std::size_t size);

}  // namespace deadpeer::fuzz

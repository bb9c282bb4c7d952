// libFuzzer target: scenario files through the parser (fuzz/README.md).
#include "fuzz/inputs.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  deadpeer::fuzz::scenarioInput(data, size);
  return 0;
}

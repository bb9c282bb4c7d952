// libFuzzer target: captured frames through the decoder (fuzz/README.md).
#include "fuzz/inputs.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  deadpeer::fuzz::packetInput(data, size);
  return 0;
}

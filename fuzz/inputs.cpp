#include "fuzz/inputs.hpp"

#include <pcap/dlt.h>

#include <string>
#include <string_view>

#include "deadpeer/capture/capture.hpp"
#include "deadpeer/scenario/files.hpp"
#include "deadpeer/scenario/scenario.hpp"

namespace deadpeer::fuzz {

void scenarioInput(const std::uint8_t* data, std::size_t size) {
  // readScenarioText refuses larger files before the parser sees them.
  if (size > kMaxScenarioBytes) return;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const Scenario sc = parseScenario(text, "fuzz/case.yaml");
    (void)sc.detectorLabel();
    (void)sc.faultLabel();
  } catch (const ScenarioError& e) {
    std::string all;
    for (const auto& d : e.diagnostics()) all += d.str();
  }
}

void packetInput(const std::uint8_t* data, std::size_t size) {
  static constexpr int kLinks[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2,
                                   DLT_RAW,    DLT_IPV4,      DLT_IPV6};
  if (size < 2) return;
  PacketDecoder decoder(kLinks[data[0] % std::size(kLinks)], (data[1] & 1) != 0);
  data += 2;
  size -= 2;
  while (size >= 2) {
    std::size_t length = (std::size_t(data[0]) << 8) | data[1];
    data += 2;
    size -= 2;
    if (length > size) length = size;
    // The wire length may exceed what was captured, as with a snaplen.
    const Packet p = decoder.decode(data, length, length + (data[0] & 0x3f));
    (void)p.str();
    (void)packetClassName(p.cls);
    data += length;
    size -= length;
  }
}

}  // namespace deadpeer::fuzz

// capture: what crossed the wire, seen from one host.
//
// A Capture owns one libpcap handle opened inside a host's network namespace
// on one of its interfaces, one thread that reads it, and optionally a pcap
// file (pcap_dump) that tshark and Wireshark open. It is opened before the
// fault and stopped after the verdict. Packets are decoded (IPv4/IPv6, TCP,
// ICMP/ICMPv6) and classified (classify()) as they arrive.
//
// Timestamps: the kernel stamps packets on CLOCK_REALTIME; each is converted
// to CLOCK_MONOTONIC (std::chrono::steady_clock, the clock of peer events and
// fault times) with an offset sampled when the capture opens (the smallest
// of several paired readings), so wire times and event times compare
// directly.
//
// Classification of TCP segments needs each flow's state, kept per
// direction: a segment with no payload, or one byte, whose seq is the
// receiver's last ACK minus one is a keepalive probe (a zero-window probe
// when the receiver last advertised a zero window); the receiver's next
// segment, if it is a pure ACK of probe.seq + 1, is a probe ACK. With
// CaptureOptions::heartbeat, a segment whose payload is only the heartbeat's
// PING byte ('P', one frame or several) is a PING, only PONG bytes ('O') a
// PONG. Other payload is data, other pure ACKs are kAck; RST, then FIN, then
// SYN win over everything.
//
// If the interface disappears (its host was rebuilt), the capture ends and
// keeps what it saw; ended() says so.
//
// Threading: the reader thread appends under a mutex and signals a condition
// variable; packets(), waitFor(), stop() and the accessors are safe from any
// thread. stop() is bounded: the reader waits only in epoll on the pcap fd and
// an eventfd (and, while libpcap is deciding whether a downed interface is
// gone, for at most libpcap's required select timeout of 1 ms).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "deadpeer/fd.hpp"
#include "deadpeer/net/address.hpp"
#include "deadpeer/ns/netns.hpp"

struct pcap_pkthdr;  // <pcap/pcap.h>, kept out of this header

namespace deadpeer {

enum class PacketClass {
  kSyn,
  kKeepaliveProbe,
  kWindowProbe,  // a probe sent while the receiver's window is zero
  kProbeAck,
  kPing,
  kPong,
  kData,
  kAck,  // a pure ACK that answers nothing in particular
  kRst,
  kFin,
  kIcmp,  // ICMP or ICMPv6 error
  kOther,
};
std::string_view packetClassName(PacketClass c) noexcept;

struct Packet {
  using Clock = std::chrono::steady_clock;

  Clock::time_point at{};
  PacketClass cls = PacketClass::kOther;
  int family = 0;  // AF_INET, AF_INET6
  int protocol = 0;  // IPPROTO_TCP, IPPROTO_ICMP, IPPROTO_ICMPV6, ...
  IpAddress source;
  IpAddress destination;
  // TCP (for ICMP: the ports and seq of the TCP segment it quotes, when it
  // does).
  std::uint16_t source_port = 0;
  std::uint16_t destination_port = 0;
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint8_t flags = 0;  // TCP flags byte: FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10
  std::uint32_t window = 0;  // as advertised (unscaled)
  std::size_t payload = 0;
  std::size_t length = 0;  // the frame's length on the wire, headers included
  // ICMP errors.
  int icmp_type = -1;
  int icmp_code = -1;
  // "0.412345 198.18.1.1:40000 > 198.18.1.2:7000 keepalive-probe seq=... len=0"
  std::string str(Clock::time_point zero = {}) const;
};

struct CaptureOptions {
  // A pcap filter expression; "" captures everything.
  std::string filter = "tcp or icmp or icmp6";
  // Also write every packet here (pcap format, nanosecond timestamps).
  std::optional<std::filesystem::path> pcap_file;
  // Classify 1-byte 'P'/'O' payloads as heartbeat PING/PONG.
  bool heartbeat = false;
  int snaplen = 256;
};

// Decodes and classifies the frames of one link type, keeping each TCP
// flow's state (see above). Pure: bytes in, a Packet out, no kernel and no
// clock (`at` is left for the caller), so it is tested and fuzzed on byte
// arrays. Any bytes are safe: what is not IPv4/IPv6 over a known link, or is
// cut short, comes back as far as it was decoded, kOther. At most kMaxFlows
// flows are tracked; past that the table starts again.
//
// Threading: one thread at a time.
class PacketDecoder {
 public:
  static constexpr std::size_t kMaxFlows = 65'536;
  // Whether frames of this DLT_* link type are decoded: Ethernet, Linux
  // cooked (SLL, SLL2), raw IP.
  static bool decodes(int dlt) noexcept;
  // Throws Error EOPNOTSUPP for a link type it does not decode.
  PacketDecoder(int dlt, bool heartbeat);
  ~PacketDecoder();
  PacketDecoder(PacketDecoder&&) noexcept;
  PacketDecoder& operator=(PacketDecoder&&) noexcept;

  // `caplen` bytes of a frame that was `wire_length` bytes on the wire.
  Packet decode(const std::uint8_t* frame, std::size_t caplen, std::size_t wire_length);
  std::size_t flows() const noexcept;

 private:
  struct Flows;
  int link_;
  bool heartbeat_;
  std::unique_ptr<Flows> flows_;
};

class Capture {
 public:
  using Clock = std::chrono::steady_clock;

  // Opens `interface` inside `netns`, compiles the filter and starts the
  // reader; the capture is live when the constructor returns. Throws Error
  // naming the interface and libpcap's message.
  Capture(const Netns& netns, std::string interface, CaptureOptions options = {});
  ~Capture();
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;

  // Stops reading (idempotent) and flushes the pcap file.
  void stop() noexcept;
  std::vector<Packet> packets() const;
  std::size_t size() const;
  // The first packet, from index `from` on, that satisfies `match`, waiting
  // up to `deadline` for it; nullopt at the deadline, or as soon as the
  // capture has ended or stopped without one.
  std::optional<Packet> waitFor(const std::function<bool(const Packet&)>& match,
                                std::chrono::milliseconds deadline, std::size_t from = 0) const;
  // True once the interface went away or pcap failed; error() says why.
  bool ended() const;
  std::string error() const;
  // Packets the kernel dropped before libpcap read them (pcap_stats).
  unsigned dropped() const;
  const std::string& interface() const noexcept { return interface_; }

 private:
  struct Handle;
  void run() noexcept;
  void onPacket(const ::pcap_pkthdr& header, const std::uint8_t* bytes);
  void end(std::string why);

  std::string interface_;
  CaptureOptions options_;
  std::unique_ptr<Handle> handle_;
  UniqueFd stop_;
  Clock::duration realtime_offset_{};  // realtime - monotonic
  mutable std::mutex mutex_;
  mutable std::condition_variable added_;
  std::vector<Packet> packets_;
  std::string error_;
  bool ended_ = false;
  unsigned dropped_ = 0;
  std::atomic<bool> stopping_{false};
  std::mutex stop_mutex_;  // serialises stop(): the first joins, later ones wait
  std::thread reader_;
};

// Assertions over a capture. `from` is the sender's address; times are
// inclusive bounds.
struct ProbeTrain {
  int count = 0;
  std::vector<Packet::Clock::time_point> times;
  std::vector<std::chrono::microseconds> spacing;  // between consecutive probes
};
// Keepalive (or window) probes sent by `from` in [begin, end].
ProbeTrain probesFrom(const std::vector<Packet>& packets, const IpAddress& from,
                      Packet::Clock::time_point begin, Packet::Clock::time_point end,
                      PacketClass cls = PacketClass::kKeepaliveProbe);
// Heartbeat PINGs sent by `from` in [begin, end]: one per byte of sequence
// space its PING segments covered, per flow. Each PING is one byte. TCP
// resends unacknowledged PINGs and, when several wait (a late wake-up sends
// the owed ones back to back, and autocorking holds the later ones), one
// retransmission carries them together ("PPP"): counting segments, or
// their first sequence numbers, then miscounts.
int pingsFrom(const std::vector<Packet>& packets, const IpAddress& from,
              Packet::Clock::time_point begin, Packet::Clock::time_point end);
// The first RST in [begin, end], if any: its source says who reset.
std::optional<Packet> firstRst(const std::vector<Packet>& packets, Packet::Clock::time_point begin,
                               Packet::Clock::time_point end = Packet::Clock::time_point::max());
// ICMP errors in [begin, end].
std::vector<Packet> icmpErrors(const std::vector<Packet>& packets, Packet::Clock::time_point begin,
                               Packet::Clock::time_point end = Packet::Clock::time_point::max());
// The last TCP segment `to` received from `from` at or before `before`.
std::optional<Packet> lastSegment(const std::vector<Packet>& packets, const IpAddress& from,
                                  const IpAddress& to, Packet::Clock::time_point before);
// "ICMP host unreachable", "ICMPv6 no route", ...
std::string icmpName(int family, int type, int code);

}  // namespace deadpeer

#include "deadpeer/capture/capture.hpp"

#include <pcap/pcap.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <set>

#include "deadpeer/error.hpp"

namespace deadpeer {
namespace {

constexpr std::uint8_t kFin = 0x01;
constexpr std::uint8_t kSynFlag = 0x02;
constexpr std::uint8_t kRstFlag = 0x04;
constexpr std::uint8_t kPsh = 0x08;
constexpr std::uint8_t kAckFlag = 0x10;

constexpr int kTcp = 6;
constexpr int kUdp = 17;
constexpr int kIcmp4 = 1;
constexpr int kIcmp6 = 58;

// Wire fields are big-endian and unaligned.
std::uint16_t be16(const std::uint8_t* p) { return std::uint16_t(p[0] << 8 | p[1]); }
std::uint32_t be32(const std::uint8_t* p) {
  return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 | p[3];
}

std::chrono::nanoseconds sinceEpoch(const timespec& ts) {
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

// realtime - monotonic. Each reading is a monotonic/realtime/monotonic
// sandwich; the narrowest sandwich is the one least disturbed by preemption,
// so its midpoint pairs the two clocks best.
Capture::Clock::duration sampleRealtimeOffset() {
  auto best_gap = std::chrono::nanoseconds::max();
  std::chrono::nanoseconds offset{};
  for (int i = 0; i < 9; ++i) {
    timespec m1{}, r{}, m2{};
    ::clock_gettime(CLOCK_MONOTONIC, &m1);
    ::clock_gettime(CLOCK_REALTIME, &r);
    ::clock_gettime(CLOCK_MONOTONIC, &m2);
    const auto gap = sinceEpoch(m2) - sinceEpoch(m1);
    if (gap < best_gap) {
      best_gap = gap;
      offset = sinceEpoch(r) - (sinceEpoch(m1) + gap / 2);
    }
  }
  return std::chrono::duration_cast<Capture::Clock::duration>(offset);
}

// ---- decoding -------------------------------------------------------------

// Where the IP header starts in a frame of each link type libpcap may hand
// us: a table, so that adding a link type is one row.
struct LinkType {
  int dlt;
  std::size_t header;     // bytes before the network header (Ethernet: before VLAN tags)
  std::size_t ethertype;  // offset of the EtherType, or npos for raw IP
};
constexpr std::size_t kNone = std::numeric_limits<std::size_t>::max();
constexpr LinkType kLinkTypes[] = {
    {DLT_EN10MB, 14, 12},
    {DLT_LINUX_SLL, 16, 14},
    {DLT_LINUX_SLL2, 20, 0},
    {DLT_RAW, 0, kNone},
    {DLT_IPV4, 0, kNone},
    {DLT_IPV6, 0, kNone},
};

const LinkType* linkType(int dlt) {
  for (const LinkType& l : kLinkTypes)
    if (l.dlt == dlt) return &l;
  return nullptr;
}

// The network header of a frame, or nullptr for anything but IPv4/IPv6.
const std::uint8_t* networkHeader(const LinkType& link, const std::uint8_t* frame,
                                  std::size_t caplen, std::size_t& left) {
  if (caplen < link.header) return nullptr;
  std::size_t offset = link.header;
  if (link.ethertype != kNone) {
    std::size_t type_at = link.ethertype;
    std::uint16_t type = be16(frame + type_at);
    // 802.1Q / 802.1ad tags (libpcap puts stripped tags back).
    if (link.dlt == DLT_EN10MB)
      while ((type == 0x8100 || type == 0x88a8) && caplen >= offset + 4) {
        type_at += 4;
        offset += 4;
        type = be16(frame + type_at);
      }
    if (type != 0x0800 && type != 0x86dd) return nullptr;
  }
  left = caplen - offset;
  return frame + offset;
}

struct IpView {
  int family = 0;
  int protocol = -1;
  IpAddress source;
  IpAddress destination;
  const std::uint8_t* l4 = nullptr;
  std::size_t l4_captured = 0;  // bytes of the transport header and payload we have
  std::size_t l4_length = 0;    // bytes of them on the wire
  bool first_fragment = true;
};

bool parseIp(const std::uint8_t* p, std::size_t caplen, IpView& v) {
  if (caplen < 1) return false;
  const int version = p[0] >> 4;
  if (version == 4) {
    const std::size_t ihl = std::size_t(p[0] & 0x0f) * 4;
    if (caplen < 20 || ihl < 20 || caplen < ihl) return false;
    v.family = AF_INET;
    v.protocol = p[9];
    v.source.family = v.destination.family = AF_INET;
    std::memcpy(v.source.bytes.data(), p + 12, 4);
    std::memcpy(v.destination.bytes.data(), p + 16, 4);
    v.first_fragment = (be16(p + 6) & 0x1fff) == 0;
    const std::size_t total = be16(p + 2);
    v.l4 = p + ihl;
    v.l4_captured = caplen - ihl;
    // A GSO super-packet may carry tot_len 0; then what we have is all we know.
    v.l4_length = total >= ihl ? total - ihl : v.l4_captured;
    return true;
  }
  if (version == 6) {
    if (caplen < 40) return false;
    v.family = AF_INET6;
    v.source.family = v.destination.family = AF_INET6;
    std::memcpy(v.source.bytes.data(), p + 8, 16);
    std::memcpy(v.destination.bytes.data(), p + 24, 16);
    std::size_t length = be16(p + 4);
    int next = p[6];
    std::size_t offset = 40;
    // Extension headers before the transport header: hop-by-hop, routing,
    // destination options, fragment.
    for (int hops = 0; hops < 8; ++hops) {
      std::size_t ext = 0;
      if (next == 0 || next == 43 || next == 60) {
        if (caplen < offset + 2) return false;
        ext = (std::size_t(p[offset + 1]) + 1) * 8;
      } else if (next == 44) {
        if (caplen < offset + 8) return false;
        v.first_fragment = (be16(p + offset + 2) & 0xfff8) == 0;
        ext = 8;
      } else {
        break;
      }
      next = p[offset];
      offset += ext;
      length = length >= ext ? length - ext : 0;
    }
    if (caplen < offset) return false;
    v.protocol = next;
    v.l4 = p + offset;
    v.l4_captured = caplen - offset;
    v.l4_length = length;
    return true;
  }
  return false;
}

bool isIcmpError(int family, int type) {
  if (family == AF_INET6) return type < 128;
  return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
}

// A decoded packet and the payload bytes we hold of it.
struct Decoded {
  Packet packet;
  bool tcp = false;  // a TCP header was decoded
  const std::uint8_t* payload = nullptr;
  std::size_t payload_captured = 0;
};

void decodeIcmp(const IpView& ip, Decoded& d) {
  Packet& p = d.packet;
  if (ip.l4_captured < 8 || !ip.first_fragment) return;
  p.icmp_type = ip.l4[0];
  p.icmp_code = ip.l4[1];
  if (!isIcmpError(ip.family, p.icmp_type)) return;
  p.cls = PacketClass::kIcmp;
  // The quoted packet follows the 8-byte ICMP header: its IP header and at
  // least the first 8 bytes of its transport header (ports and seq).
  IpView quoted;
  if (!parseIp(ip.l4 + 8, ip.l4_captured - 8, quoted)) return;
  if (quoted.protocol == kTcp && quoted.first_fragment && quoted.l4_captured >= 8) {
    p.source_port = be16(quoted.l4);
    p.destination_port = be16(quoted.l4 + 2);
    p.seq = be32(quoted.l4 + 4);
  }
}

// Decodes everything but the class of a TCP segment, which needs the flow.
Decoded decode(const LinkType& link, const std::uint8_t* frame, std::size_t caplen) {
  Decoded d;
  std::size_t left = 0;
  const std::uint8_t* net = networkHeader(link, frame, caplen, left);
  IpView ip;
  if (net == nullptr || !parseIp(net, left, ip)) return d;
  Packet& p = d.packet;
  p.family = ip.family;
  p.protocol = ip.protocol;
  p.source = ip.source;
  p.destination = ip.destination;
  if (ip.protocol == kTcp && ip.first_fragment && ip.l4_captured >= 20) {
    const std::size_t header = std::size_t(ip.l4[12] >> 4) * 4;
    d.tcp = true;
    p.source_port = be16(ip.l4);
    p.destination_port = be16(ip.l4 + 2);
    p.seq = be32(ip.l4 + 4);
    p.ack = be32(ip.l4 + 8);
    p.flags = ip.l4[13];
    p.window = be16(ip.l4 + 14);
    p.payload = ip.l4_length > header ? ip.l4_length - header : 0;
    if (ip.l4_captured > header) {
      d.payload = ip.l4 + header;
      d.payload_captured = std::min(ip.l4_captured - header, p.payload);
    }
  } else if (ip.protocol == kUdp && ip.first_fragment && ip.l4_captured >= 8) {
    p.source_port = be16(ip.l4);
    p.destination_port = be16(ip.l4 + 2);
    p.payload = ip.l4_length > 8 ? ip.l4_length - 8 : 0;
  } else if (ip.protocol == kIcmp4 || ip.protocol == kIcmp6) {
    decodeIcmp(ip, d);
  }
  return d;
}

// ---- classification -------------------------------------------------------

// What one end of a TCP flow last said, as seen on the wire.
struct Side {
  std::optional<std::uint32_t> last_ack;  // the ACK number it last sent
  std::optional<std::uint32_t> window;    // the window it last advertised
  // The seq of a probe it sent that the other end has not spoken since.
  std::optional<std::uint32_t> probe_seq;
};

struct FlowState {
  std::array<Side, 2> side;
};

// One end of a flow as bytes: family, address, port. Used to key flows with
// the two ends in a fixed order, whichever sent the segment.
std::string endpointKey(const IpAddress& address, std::uint16_t port) {
  std::string key(1, char(address.family));
  key.append(reinterpret_cast<const char*>(address.bytes.data()), address.size());
  key.push_back(char(port >> 8));
  key.push_back(char(port & 0xff));
  return key;
}

bool onlyByte(const std::uint8_t* bytes, std::size_t n, std::uint8_t byte) {
  return n > 0 && std::all_of(bytes, bytes + n, [byte](std::uint8_t b) { return b == byte; });
}

// The classes in the order the header comment gives them precedence.
PacketClass classifySegment(const Decoded& d, const Side& peer, bool heartbeat) {
  const Packet& p = d.packet;
  const bool ack = (p.flags & kAckFlag) != 0;
  if (p.flags & kRstFlag) return PacketClass::kRst;
  if (p.flags & kFin) return PacketClass::kFin;
  if (p.flags & kSynFlag) return PacketClass::kSyn;
  // A probe re-sends the last byte the receiver acknowledged (seq =
  // snd_una - 1), with no data or that one byte, to force an ACK.
  if (ack && p.payload <= 1 && peer.last_ack && p.seq == *peer.last_ack - 1)
    return peer.window && *peer.window == 0 ? PacketClass::kWindowProbe
                                            : PacketClass::kKeepaliveProbe;
  if (p.payload > 0) {
    // Only a segment we hold whole can be judged all PINGs or all PONGs.
    if (heartbeat && d.payload_captured == p.payload) {
      if (onlyByte(d.payload, d.payload_captured, 'P')) return PacketClass::kPing;
      if (onlyByte(d.payload, d.payload_captured, 'O')) return PacketClass::kPong;
    }
    return PacketClass::kData;
  }
  // The answer to a probe acknowledges snd_una, one past the probe's seq.
  if (ack && peer.probe_seq && p.ack == *peer.probe_seq + 1) return PacketClass::kProbeAck;
  return ack ? PacketClass::kAck : PacketClass::kOther;
}

// ---- names ----------------------------------------------------------------

struct IcmpNameRow {
  int family;
  int type;
  int code;  // -1: any code
  std::string_view name;
};
constexpr IcmpNameRow kIcmpNames[] = {
    {AF_INET, 0, -1, "echo reply"},
    {AF_INET, 3, 0, "net unreachable"},
    {AF_INET, 3, 1, "host unreachable"},
    {AF_INET, 3, 2, "protocol unreachable"},
    {AF_INET, 3, 3, "port unreachable"},
    {AF_INET, 3, 4, "fragmentation needed"},
    {AF_INET, 3, 5, "source route failed"},
    {AF_INET, 3, 6, "destination network unknown"},
    {AF_INET, 3, 7, "destination host unknown"},
    {AF_INET, 3, 9, "network prohibited"},
    {AF_INET, 3, 10, "host prohibited"},
    {AF_INET, 3, 11, "network unreachable for TOS"},
    {AF_INET, 3, 12, "host unreachable for TOS"},
    {AF_INET, 3, 13, "administratively prohibited"},
    {AF_INET, 3, 14, "host precedence violation"},
    {AF_INET, 3, 15, "precedence cutoff"},
    {AF_INET, 3, -1, "destination unreachable"},
    {AF_INET, 4, -1, "source quench"},
    {AF_INET, 5, -1, "redirect"},
    {AF_INET, 8, -1, "echo request"},
    {AF_INET, 11, 0, "TTL exceeded in transit"},
    {AF_INET, 11, 1, "fragment reassembly time exceeded"},
    {AF_INET, 11, -1, "time exceeded"},
    {AF_INET, 12, -1, "parameter problem"},
    {AF_INET6, 1, 0, "no route"},
    {AF_INET6, 1, 1, "administratively prohibited"},
    {AF_INET6, 1, 2, "beyond scope of source address"},
    {AF_INET6, 1, 3, "address unreachable"},
    {AF_INET6, 1, 4, "port unreachable"},
    {AF_INET6, 1, 5, "source address failed policy"},
    {AF_INET6, 1, 6, "reject route"},
    {AF_INET6, 1, -1, "destination unreachable"},
    {AF_INET6, 2, -1, "packet too big"},
    {AF_INET6, 3, 0, "hop limit exceeded"},
    {AF_INET6, 3, 1, "fragment reassembly time exceeded"},
    {AF_INET6, 3, -1, "time exceeded"},
    {AF_INET6, 4, -1, "parameter problem"},
    {AF_INET6, 128, -1, "echo request"},
    {AF_INET6, 129, -1, "echo reply"},
    {AF_INET6, 133, -1, "router solicitation"},
    {AF_INET6, 134, -1, "router advertisement"},
    {AF_INET6, 135, -1, "neighbor solicitation"},
    {AF_INET6, 136, -1, "neighbor advertisement"},
    {AF_INET6, 137, -1, "redirect"},
};

constexpr std::string_view kClassNames[] = {
    "syn", "keepalive-probe", "window-probe", "probe-ack", "ping", "pong",
    "data", "ack", "rst", "fin", "icmp", "other",
};
static_assert(std::size(kClassNames) == std::size_t(PacketClass::kOther) + 1);

std::string flagString(std::uint8_t flags) {
  static constexpr std::pair<std::uint8_t, char> kLetters[] = {
      {kSynFlag, 'S'}, {kFin, 'F'}, {kRstFlag, 'R'}, {kPsh, 'P'}, {0x20, 'U'}, {kAckFlag, '.'}};
  std::string text;
  for (auto [bit, letter] : kLetters)
    if (flags & bit) text += letter;
  return text;
}

std::string endpoint(const IpAddress& address, std::uint16_t port) {
  const std::string host = address.family == AF_INET6 ? "[" + address.str() + "]" : address.str();
  return host + ":" + std::to_string(port);
}

bool within(const Packet& p, Packet::Clock::time_point begin, Packet::Clock::time_point end) {
  return p.at >= begin && p.at <= end;
}

// libpcap's status codes as errnos, for Error::sysErrno().
int errnoOf(int status) {
  switch (status) {
    case PCAP_ERROR_NO_SUCH_DEVICE: return ENODEV;
    case PCAP_ERROR_PERM_DENIED: return EPERM;
    case PCAP_ERROR_IFACE_NOT_UP: return ENETDOWN;
    default: return 0;
  }
}

}  // namespace

std::string_view packetClassName(PacketClass c) noexcept {
  const auto i = std::size_t(c);
  return i < std::size(kClassNames) ? kClassNames[i] : "unknown";
}

std::string icmpName(int family, int type, int code) {
  const std::string prefix = family == AF_INET6 ? "ICMPv6 " : "ICMP ";
  // Destination unreachable names its code after the type, so one
  // substring ("destination unreachable") matches it in both families.
  const bool unreachable = (family == AF_INET && type == 3) || (family == AF_INET6 && type == 1);
  for (const IcmpNameRow& row : kIcmpNames)
    if (row.family == family && row.type == type && row.code == code)
      return prefix + (unreachable ? "destination unreachable: " : "") + std::string(row.name);
  for (const IcmpNameRow& row : kIcmpNames)
    if (row.family == family && row.type == type && row.code == -1)
      return prefix + std::string(row.name) + (code > 0 ? " code " + std::to_string(code) : "");
  return prefix + "type " + std::to_string(type) + " code " + std::to_string(code);
}

std::string Packet::str(Clock::time_point zero) const {
  char time[32];
  std::snprintf(time, sizeof time, "%.6f", std::chrono::duration<double>(at - zero).count());
  std::string text = time;
  if (family == 0) return text + " non-IP frame";
  if (protocol == kTcp) {
    text += " " + endpoint(source, source_port) + " > " + endpoint(destination, destination_port) +
            " " + std::string(packetClassName(cls)) + " [" + flagString(flags) +
            "] seq=" + std::to_string(seq) + " ack=" + std::to_string(ack) +
            " win=" + std::to_string(window) + " len=" + std::to_string(payload);
    return text;
  }
  text += " " + source.str() + " > " + destination.str();
  if (icmp_type >= 0) {
    text += " " + icmpName(family, icmp_type, icmp_code);
    if (source_port != 0 || destination_port != 0)
      text += " (quotes tcp " + std::to_string(source_port) + " > " +
              std::to_string(destination_port) + " seq=" + std::to_string(seq) + ")";
    return text;
  }
  return text + " " + std::string(packetClassName(cls)) + " proto=" + std::to_string(protocol) +
         " len=" + std::to_string(payload);
}

// ---- PacketDecoder ----------------------------------------------------------

struct PacketDecoder::Flows {
  std::map<std::string, FlowState> map;
};

bool PacketDecoder::decodes(int dlt) noexcept { return linkType(dlt) != nullptr; }

PacketDecoder::PacketDecoder(int dlt, bool heartbeat)
    : link_(dlt), heartbeat_(heartbeat), flows_(std::make_unique<Flows>()) {
  if (!decodes(dlt))
    throw Error("decode", "link type " + std::to_string(dlt), "", EOPNOTSUPP, "is not decoded");
}
PacketDecoder::~PacketDecoder() = default;
PacketDecoder::PacketDecoder(PacketDecoder&&) noexcept = default;
PacketDecoder& PacketDecoder::operator=(PacketDecoder&&) noexcept = default;

std::size_t PacketDecoder::flows() const noexcept { return flows_->map.size(); }

Packet PacketDecoder::decode(const std::uint8_t* frame, std::size_t caplen,
                             std::size_t wire_length) {
  Decoded d = deadpeer::decode(*linkType(link_), frame, caplen);
  Packet& p = d.packet;
  p.length = wire_length;
  if (!d.tcp) return std::move(p);
  const std::string from = endpointKey(p.source, p.source_port);
  const std::string to = endpointKey(p.destination, p.destination_port);
  const bool forward = from < to;
  const std::string key = forward ? from + to : to + from;
  auto it = flows_->map.find(key);
  if (it == flows_->map.end()) {
    // Bounded: a sender that makes up endpoints cannot grow the table
    // without end; the oldest flows are not worth more than new ones, so
    // the table is simply started again.
    if (flows_->map.size() >= kMaxFlows) flows_->map.clear();
    it = flows_->map.emplace(key, FlowState{}).first;
  }
  FlowState& flow = it->second;
  Side& me = flow.side[forward ? 0 : 1];
  Side& peer = flow.side[forward ? 1 : 0];
  p.cls = classifySegment(d, peer, heartbeat_);
  // Whatever we say now is our first word since the peer's probe.
  peer.probe_seq.reset();
  if (p.cls == PacketClass::kKeepaliveProbe || p.cls == PacketClass::kWindowProbe)
    me.probe_seq = p.seq;
  if ((p.flags & kAckFlag) && !(p.flags & kRstFlag)) {
    me.last_ack = p.ack;
    me.window = p.window;
  }
  if (p.flags & (kRstFlag | kSynFlag)) {
    // A reset ends the flow; a SYN starts a new one on the same ports.
    me.probe_seq.reset();
    if (p.flags & kRstFlag) flow = FlowState{};
  }
  return std::move(p);
}

// ---- Capture --------------------------------------------------------------

struct Capture::Handle {
  struct PcapClose {
    void operator()(pcap_t* p) const noexcept { pcap_close(p); }
  };
  struct DumperClose {
    void operator()(pcap_dumper_t* d) const noexcept { pcap_dump_close(d); }
  };
  // Members are destroyed in reverse: the dumper is closed before its pcap.
  std::unique_ptr<pcap_t, PcapClose> pcap;
  std::unique_ptr<pcap_dumper_t, DumperClose> dumper;
  UniqueFd epoll;
  std::string where;
  // Reader thread only.
  std::optional<PacketDecoder> decoder;
};

Capture::Capture(const Netns& netns, std::string interface, CaptureOptions options)
    : interface_(std::move(interface)), options_(std::move(options)) {
  const std::string object = quoted("interface", interface_);
  const std::string& where = netns.label();
  if (options_.snaplen < 64)
    throw Error("capture", object, where, EINVAL,
                "snaplen " + std::to_string(options_.snaplen) +
                    " is too short for the headers (at least 64 bytes)");
  handle_ = std::make_unique<Handle>();
  handle_->where = where;
  auto failed = [&](std::string op, int status) {
    std::string reason = pcap_statustostr(status);
    const char* detail = handle_->pcap ? pcap_geterr(handle_->pcap.get()) : "";
    if (detail != nullptr && *detail != '\0') reason += ": " + std::string(detail);
    return Error(std::move(op), object, where, errnoOf(status), reason);
  };
  {
    // The packet socket is made by pcap_activate() and stays bound to this
    // namespace; the interface name is looked up in it too.
    NetnsGuard guard(netns);
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t* p = pcap_create(interface_.c_str(), errbuf);
    if (p == nullptr) throw Error("pcap_create", object, where, 0, errbuf);
    handle_->pcap.reset(p);
    if (int rc = pcap_set_snaplen(p, options_.snaplen); rc != 0) throw failed("pcap_set_snaplen", rc);
    // Deliver each packet as it arrives, not when a ring block fills.
    if (int rc = pcap_set_immediate_mode(p, 1); rc != 0) throw failed("pcap_set_immediate_mode", rc);
    if (int rc = pcap_set_tstamp_precision(p, PCAP_TSTAMP_PRECISION_NANO); rc != 0)
      throw failed("pcap_set_tstamp_precision", rc);
    if (int rc = pcap_activate(p); rc < 0) throw failed("pcap_activate", rc);
    if (PacketDecoder::decodes(pcap_datalink(p)))
      handle_->decoder.emplace(pcap_datalink(p), options_.heartbeat);
    else
      throw Error("pcap_datalink", object, where, EOPNOTSUPP,
                  "link type " + std::to_string(pcap_datalink(p)) + " is not decoded");
    if (!options_.filter.empty()) {
      bpf_program program{};
      if (pcap_compile(p, &program, options_.filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0)
        throw Error("pcap_compile", quoted("filter", options_.filter) + " on " + object, where,
                    EINVAL, pcap_geterr(p));
      const int rc = pcap_setfilter(p, &program);
      pcap_freecode(&program);
      if (rc != 0) throw failed("pcap_setfilter", rc);
    }
  }
  pcap_t* p = handle_->pcap.get();
  char errbuf[PCAP_ERRBUF_SIZE] = "";
  if (pcap_setnonblock(p, 1, errbuf) != 0)
    throw Error("pcap_setnonblock", object, where, 0, errbuf);
  const int fd = pcap_get_selectable_fd(p);
  if (fd < 0) throw Error("pcap_get_selectable_fd", object, where, EOPNOTSUPP, "no selectable fd");
  if (options_.pcap_file) {
    handle_->dumper.reset(pcap_dump_open(p, options_.pcap_file->c_str()));
    if (!handle_->dumper)
      throw Error("pcap_dump_open", quoted("file", options_.pcap_file->string()), where, 0,
                  pcap_geterr(p));
  }
  stop_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop_) throw Error::fromErrno("eventfd", object, where, errno);
  handle_->epoll = UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
  if (!handle_->epoll) throw Error::fromErrno("epoll_create1", object, where, errno);
  for (int watched : {fd, stop_.get()}) {
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = watched;
    if (::epoll_ctl(handle_->epoll.get(), EPOLL_CTL_ADD, watched, &event) != 0)
      throw Error::fromErrno("epoll_ctl", object, where, errno);
  }
  realtime_offset_ = sampleRealtimeOffset();
  reader_ = std::thread([this] { run(); });
}

Capture::~Capture() { stop(); }

void Capture::run() noexcept {
  pcap_t* p = handle_->pcap.get();
  const int fd = pcap_get_selectable_fd(p);
  // Nothing may unwind through libpcap's C frames: a failure to record a
  // packet (only bad_alloc can happen) ends the capture instead.
  auto callback = [](u_char* user, const pcap_pkthdr* header, const u_char* bytes) {
    auto* self = reinterpret_cast<Capture*>(user);
    try {
      self->onPacket(*header, bytes);
    } catch (const std::exception& e) {
      self->end(std::string("recording a packet: ") + e.what());
      pcap_breakloop(self->handle_->pcap.get());
    }
  };
  for (;;) {
    // After an ENETDOWN libpcap cannot tell a downed interface from a
    // deleted one until the kernel finishes unregistering it, and no further
    // event says when that happens; libpcap asks to be called again within
    // its required select timeout (1 ms) until it knows. Otherwise the only
    // wake-ups are packets, socket errors and stop().
    int timeout = -1;
    if (const timeval* t = pcap_get_required_select_timeout(p))
      timeout = std::max<int>(1, int(t->tv_sec * 1000 + (t->tv_usec + 999) / 1000));
    epoll_event events[2];
    const int n = ::epoll_wait(handle_->epoll.get(), events, 2, timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      end(std::string("epoll_wait: ") + std::strerror(errno));
      return;
    }
    bool readable = n == 0;  // a required-timeout wake: let libpcap look
    bool stop = false;
    for (int i = 0; i < n; ++i) {
      if (events[i].data.fd == fd) readable = true;
      if (events[i].data.fd == stop_.get()) stop = true;
    }
    // On stop, read what the ring already holds once more, then leave.
    if (readable || stop) {
      const int rc = pcap_dispatch(p, stop ? 4096 : -1, callback, reinterpret_cast<u_char*>(this));
      if (handle_->dumper) pcap_dump_flush(handle_->dumper.get());
      pcap_stat stats{};
      if (pcap_stats(p, &stats) == 0) {
        std::lock_guard lock(mutex_);
        dropped_ = stats.ps_drop;
      }
      if (rc == PCAP_ERROR) {
        end(pcap_geterr(p));
        return;
      }
      if (rc == PCAP_ERROR_BREAK) return;  // the callback failed and said why
    }
    if (stop || stopping_.load()) return;
  }
}

void Capture::onPacket(const ::pcap_pkthdr& header, const std::uint8_t* bytes) {
  if (handle_->dumper)
    pcap_dump(reinterpret_cast<u_char*>(handle_->dumper.get()), &header, bytes);
  Packet p = handle_->decoder->decode(bytes, header.caplen, header.len);
  // With nanosecond precision tv_usec carries nanoseconds.
  const std::chrono::nanoseconds realtime =
      std::chrono::seconds(header.ts.tv_sec) + std::chrono::nanoseconds(header.ts.tv_usec);
  p.at = Clock::time_point(std::chrono::duration_cast<Clock::duration>(realtime) - realtime_offset_);
  {
    std::lock_guard lock(mutex_);
    packets_.push_back(std::move(p));
  }
  added_.notify_all();
}

void Capture::end(std::string why) {
  {
    std::lock_guard lock(mutex_);
    ended_ = true;
    error_ = std::move(why);
  }
  added_.notify_all();
}

void Capture::stop() noexcept {
  std::lock_guard stop_lock(stop_mutex_);
  stopping_ = true;
  if (reader_.joinable()) {
    const std::uint64_t one = 1;
    // An eventfd write of 1 cannot fail here: the counter is far from full.
    [[maybe_unused]] const ssize_t written = ::write(stop_.get(), &one, sizeof one);
    reader_.join();
  }
  if (handle_ && handle_->pcap) {
    pcap_stat stats{};
    if (pcap_stats(handle_->pcap.get(), &stats) == 0) {
      std::lock_guard lock(mutex_);
      dropped_ = stats.ps_drop;
    }
    handle_->dumper.reset();  // flushes and closes the file
    handle_->pcap.reset();
  }
  added_.notify_all();
}

std::vector<Packet> Capture::packets() const {
  std::lock_guard lock(mutex_);
  return packets_;
}

std::size_t Capture::size() const {
  std::lock_guard lock(mutex_);
  return packets_.size();
}

std::optional<Packet> Capture::waitFor(const std::function<bool(const Packet&)>& match,
                                       std::chrono::milliseconds deadline,
                                       std::size_t from) const {
  std::unique_lock lock(mutex_);
  std::optional<Packet> found;
  std::size_t next = from;
  added_.wait_for(lock, deadline, [&] {
    for (; next < packets_.size(); ++next)
      if (match(packets_[next])) {
        found = packets_[next];
        return true;
      }
    // Nothing more will come.
    return ended_ || stopping_.load();
  });
  return found;
}

bool Capture::ended() const {
  std::lock_guard lock(mutex_);
  return ended_;
}

std::string Capture::error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

unsigned Capture::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

// ---- assertions over a capture ---------------------------------------------

ProbeTrain probesFrom(const std::vector<Packet>& packets, const IpAddress& from,
                      Packet::Clock::time_point begin, Packet::Clock::time_point end,
                      PacketClass cls) {
  ProbeTrain train;
  for (const Packet& p : packets) {
    if (p.cls != cls || !(p.source == from) || !within(p, begin, end)) continue;
    if (!train.times.empty())
      train.spacing.push_back(
          std::chrono::duration_cast<std::chrono::microseconds>(p.at - train.times.back()));
    train.times.push_back(p.at);
    ++train.count;
  }
  return train;
}

int pingsFrom(const std::vector<Packet>& packets, const IpAddress& from,
              Packet::Clock::time_point begin, Packet::Clock::time_point end) {
  std::set<std::pair<std::uint16_t, std::uint32_t>> bytes;  // (source port, seq)
  for (const Packet& p : packets) {
    if (p.cls != PacketClass::kPing || !(p.source == from) || !within(p, begin, end)) continue;
    // A PING segment carries only PING bytes (classify()); bounded by the MSS.
    const std::size_t n = std::min<std::size_t>(p.payload, 65535);
    for (std::size_t i = 0; i < n; ++i)
      bytes.emplace(p.source_port, p.seq + static_cast<std::uint32_t>(i));
  }
  return static_cast<int>(bytes.size());
}

std::optional<Packet> firstRst(const std::vector<Packet>& packets, Packet::Clock::time_point begin,
                               Packet::Clock::time_point end) {
  for (const Packet& p : packets)
    if (p.cls == PacketClass::kRst && within(p, begin, end)) return p;
  return std::nullopt;
}

std::vector<Packet> icmpErrors(const std::vector<Packet>& packets, Packet::Clock::time_point begin,
                               Packet::Clock::time_point end) {
  std::vector<Packet> errors;
  for (const Packet& p : packets)
    if (p.cls == PacketClass::kIcmp && within(p, begin, end)) errors.push_back(p);
  return errors;
}

std::optional<Packet> lastSegment(const std::vector<Packet>& packets, const IpAddress& from,
                                  const IpAddress& to, Packet::Clock::time_point before) {
  std::optional<Packet> last;
  for (const Packet& p : packets)
    if (p.protocol == kTcp && p.source == from && p.destination == to && p.at <= before &&
        (!last || p.at >= last->at))
      last = p;
  return last;
}

}  // namespace deadpeer

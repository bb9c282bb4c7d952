// Per-namespace sysctls: net.* only.
//
// /proc/sys/net resolves the namespace of the thread that opens the file, so
// every access happens under a NetnsGuard. Keys outside net.* are global to
// the machine and are refused, as is any write into the machine's own
// namespace.
//
// Threading: safe from any thread; each call enters the namespace itself.
#pragma once

#include <string>
#include <string_view>

#include "deadpeer/ns/netns.hpp"

namespace deadpeer {

// `key` is dotted ("net.ipv4.tcp_keepalive_time") or a path below
// /proc/sys ("net/ipv6/conf/eth0.5/forwarding") when a name holds a dot.
std::string readSysctl(const Netns& ns, std::string_view key);
void writeSysctl(const Netns& ns, std::string_view key, std::string_view value);

// The same, in the calling thread's own namespace, which must be one the
// harness created (see Netns::create's `inside`); `where` labels errors.
void writeSysctlHere(std::string_view key, std::string_view value, const std::string& where);

}  // namespace deadpeer

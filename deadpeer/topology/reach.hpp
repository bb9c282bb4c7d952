// topology/reach: proves that one host reaches another, with real sockets.
//
// A listening TCP socket is opened inside the target host's namespace and a
// non-blocking connect() is made from the source host's namespace; the
// handshake's completion is awaited with epoll until a deadline. A lost SYN
// costs the kernel's 1 s retransmission, so a connect well under a second
// proves the path had no stale neighbour or bridge entry in the way.
//
// Threading: any thread; each call enters the namespaces itself.
#pragma once

#include <chrono>
#include <cstdint>

#include "deadpeer/fd.hpp"
#include "deadpeer/net/address.hpp"
#include "deadpeer/topology/host.hpp"

namespace deadpeer {

// A non-blocking TCP socket listening in `host` at address:port.
UniqueFd tcpListen(const Host& host, const IpAddress& address, std::uint16_t port);

// A non-blocking TCP connection from `from` to address:port, returned once
// the handshake completed; throws Error if it did not within `deadline` (or
// was refused).
UniqueFd tcpConnectFrom(const Host& from, const IpAddress& address, std::uint16_t port,
                        std::chrono::milliseconds deadline);

// Listens in `to`, connects from `from`, and returns how long the handshake
// took; throws as tcpConnectFrom does.
std::chrono::microseconds tcpConnect(const Host& from, const Host& to, const IpAddress& address,
                                     std::uint16_t port, std::chrono::milliseconds deadline);

}  // namespace deadpeer

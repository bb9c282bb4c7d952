// peer/heartbeat_peer: the built-in application-heartbeat peers, a server
// and a client runnable in any host, over the PING/PONG protocol of
// peer/heartbeat.
//
// A HeartbeatPeer owns a HeartbeatEngine (its thread, epoll and sockets).
// A client connects from its host on the constructing thread, within a
// deadline, and hands the connection to the engine. Instead of a host, a
// peer may be given any namespace, such as Netns::current() in a
// `deadpeer serve` process started inside a host. A server listens in its
// host and accepts up to max_connections on a thread of its own, which waits
// only in epoll (the listener and a stop eventfd), handing each connection
// to the engine. Both report kListening/kConnected here and everything after
// (pings, pongs, detection) through the engine, to the same EventLog.
//
// Bad settings are refused before any socket is opened, naming the field.
//
// Threading: construct and destroy on one thread; the EventLog must outlive
// the peer. The destructor stops the accept thread (bounded: it wakes on the
// eventfd) and then the engine, closing every socket.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include "deadpeer/fd.hpp"
#include "deadpeer/net/address.hpp"
#include "deadpeer/peer/event.hpp"
#include "deadpeer/peer/heartbeat.hpp"
#include "deadpeer/topology/host.hpp"

namespace deadpeer {

struct HeartbeatPeerConfig {
  std::string name;
  bool server = false;
  IpAddress address;  // server: where it listens; client: where it connects
  std::uint16_t port = 0;
  HeartbeatSettings settings;
  int max_connections = 1;  // server only
  // Server only: how long it accepts; afterwards it stops, and says so in
  // acceptError() if fewer than max_connections came.
  std::chrono::milliseconds accept_deadline{60'000};
  std::chrono::milliseconds connect_deadline{2000};  // client only
  HeartbeatEngineOptions engine;

  // Throws Error (EINVAL) naming the first bad field.
  void validate() const;
};

class HeartbeatPeer {
 public:
  HeartbeatPeer(const Host& host, HeartbeatPeerConfig config, EventLog& log);
  // The same in any namespace; `netns` need only live through the
  // constructor (the sockets stay bound to it on their own).
  HeartbeatPeer(const Netns& netns, HeartbeatPeerConfig config, EventLog& log);
  ~HeartbeatPeer();
  HeartbeatPeer(const HeartbeatPeer&) = delete;
  HeartbeatPeer& operator=(const HeartbeatPeer&) = delete;

  const HeartbeatPeerConfig& config() const noexcept { return config_; }
  HeartbeatEngine& engine() noexcept { return engine_; }
  // What ended the accept thread early, "" when nothing did.
  std::string acceptError() const;

 private:
  void acceptLoop() noexcept;

  HeartbeatPeerConfig config_;
  std::string where_;
  EventLog& log_;
  HeartbeatEngine engine_;
  UniqueFd listener_;
  UniqueFd stop_;
  std::thread acceptor_;
  mutable std::mutex error_mutex_;
  std::string accept_error_;
};

}  // namespace deadpeer

// cli/serve: `deadpeer serve`, a built-in server as a process of its own.
//
// The scenario runner launches it (as an ExternalPeer) inside a host's
// namespace, so that the faults that act on processes (process-kill,
// process-freeze) can hit a built-in server the way they hit any program:
//   deadpeer serve tcp --port P [--address A] [--connections N] [--stop-reading]
//   deadpeer serve heartbeat --port P [--address A] [--connections N]
//       [--idle D --interval D --count N --pong-delay D --no-pings ...]
// It serves in the network namespace it was started in (Netns::current()),
// never unshares one of its own, and prints "listening <address> <port>"
// (flushed) once its socket listens, then one line per event (Event::str()).
// It runs until SIGTERM or SIGINT, EOF on stdin with --until-eof, or
// --max-time (default 24 h, so that a forgotten server ends by itself).
// Exit status: 0 when stopped so, 1 when the server failed, 2 on bad usage
// (with a message naming the bad argument on stderr).
//
// Ownership and threading: serveMain() owns everything it starts (the peer
// and its threads, a signalfd, one thread that prints events) and joins it
// all before returning. It blocks SIGTERM and SIGINT in the calling thread
// before any thread starts, so every thread inherits the mask and the
// signals arrive only through the signalfd: call it while the process has
// one thread, and before anything else changes the signal mask. It prints,
// which only a program may do: it is the body of the CLI's `serve` command.
#pragma once

namespace deadpeer {

// `argv[0]` is "serve"; the arguments follow. Returns the exit status.
int serveMain(int argc, char** argv);

}  // namespace deadpeer

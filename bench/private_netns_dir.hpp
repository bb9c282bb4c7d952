// bench/private_netns_dir: a /run/netns that belongs to this process alone.
//
// The harness never names a namespace, but the iproute2 benchmarks must:
// `ip netns add` bind-mounts each namespace under /run/netns. So before any
// benchmark runs, main() moves the process into a private mount namespace
// (propagation private, so nothing mounted here reaches the machine) and
// mounts a fresh tmpfs on /run/netns (if the machine has no /run/netns, a
// tmpfs on /run first: nothing is ever created on the machine's own
// filesystems). Named namespaces then live and die with this process: when
// it exits, however it exits, the kernel drops the mount namespace, the tmpfs
// and every bind mount on it.
//
// Root does this in the machine's user namespace; an ordinary user does it
// inside the user namespace that enterPrivateNamespaces() made, which owns
// the new mount namespace.
//
// Threading: enterPrivateNetnsDir() must run while the process has one
// thread (unshare(CLONE_NEWNS) is refused to a process sharing its fs).
#pragma once

#include <string>

namespace deadpeer::bench {

// Never throws. On failure the process is unchanged, and the reason is kept
// for privateNetnsDirUnavailable().
void enterPrivateNetnsDir() noexcept;

// "" once enterPrivateNetnsDir() succeeded; otherwise why named namespaces
// may not be made ("not entered", or the failing step with its errno).
const std::string& privateNetnsDirUnavailable() noexcept;

}  // namespace deadpeer::bench

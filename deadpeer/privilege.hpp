// Privilege: how a deadpeer program gets the right to build namespaces.
//
// As root the program runs as it is. As an ordinary user, main() calls
// enterPrivateNamespaces() before any thread starts: it unshares a user
// namespace and a network namespace and maps the caller to root inside, so
// the rest of the harness runs unchanged with CAP_NET_ADMIN over namespaces
// it creates, and the machine's namespaces cannot be touched at all.
//
// Threading: must be called while the process has exactly one thread.
#pragma once

#include <optional>
#include <string>

namespace deadpeer {

enum class PrivilegeMode { kRoot, kUserNamespace };

struct Privilege {
  PrivilegeMode mode;
  // For messages: "root" or "user namespace (uid 1000 mapped to root)".
  std::string description;
};

// Throws deadpeer::Error when the user namespace cannot be entered (for
// example when the kernel forbids unprivileged user namespaces). Every call
// is recorded for privilegeStep().
Privilege enterPrivateNamespaces();

// What this process's call to enterPrivateNamespaces() did: nothing yet
// (`attempted` false), entered (`privilege` set), or failed (`error` holds
// why). GoogleTest fixtures read it to tell a missing privilege step (a
// mistake in how the test program was linked: they fail and name the fix)
// from a kernel that refuses user namespaces (they skip with the reason).
struct PrivilegeStep {
  bool attempted = false;
  std::optional<Privilege> privilege;
  std::string error;
};
PrivilegeStep privilegeStep();

// How many threads this process has (/proc/self/task), -1 when unknown;
// namespace calls that require a single-threaded process check it first.
int processThreadCount();

}  // namespace deadpeer

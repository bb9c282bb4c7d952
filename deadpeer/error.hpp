// The one error type that harness code throws.
//
// Library code reports and never prints or exits: every failure becomes a
// deadpeer::Error that says which operation failed on which object in which
// namespace, and why, in the form
//   RTM_NEWLINK veth "h1-eth0" in host h1: File exists
// Only programs (the CLI, test fixtures, benchmarks) print these.
//
// Threading: value type, no shared state.
#pragma once

#include <stdexcept>
#include <string>

namespace deadpeer {

class Error : public std::runtime_error {
 public:
  // `sys_errno` is the errno the kernel (or libc) gave, 0 when there is none;
  // `reason` is the text after the colon.
  Error(std::string op, std::string object, std::string where, int sys_errno, std::string reason);

  // An error from a system call: the reason is strerror(sys_errno).
  static Error fromErrno(std::string op, std::string object, std::string where, int sys_errno);

  const std::string& op() const noexcept { return op_; }
  const std::string& object() const noexcept { return object_; }
  const std::string& where() const noexcept { return where_; }
  int sysErrno() const noexcept { return errno_; }
  const std::string& reason() const noexcept { return reason_; }

 private:
  std::string op_;
  std::string object_;
  std::string where_;
  int errno_;
  std::string reason_;
};

// Quotes a name the way error messages show it: veth "h1-eth0".
std::string quoted(std::string_view kind, std::string_view name);

}  // namespace deadpeer

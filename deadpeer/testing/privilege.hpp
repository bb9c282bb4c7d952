// testing/privilege: the privilege step of a GoogleTest program.
//
// deadpeer's fixtures build network namespaces, which needs CAP_SYS_ADMIN
// over a network namespace. Root has it. Any other user gets it by entering
// a user namespace of its own (mapped to root inside) and a fresh network
// namespace, and the kernel allows that only while the process has a single
// thread: so it must be the first thing main() does, before GoogleTest, a
// logging library or a static constructor starts a thread.
//
// Two ways to have it done:
//   - link deadpeer::gtest_main (CMake) instead of GTest::gtest_main: its
//     main() calls enterPrivateNamespaces() and then runs the tests;
//   - keep your own main() and call it first:
//
//       int main(int argc, char** argv) {
//         deadpeer::testing::enterPrivateNamespaces();
//         ::testing::InitGoogleTest(&argc, argv);
//         return RUN_ALL_TESTS();
//       }
//
// Without the step, an unprivileged run does not quietly skip: every
// deadpeer fixture fails, and the failure names these two fixes. With the
// step, a kernel that refuses user namespaces makes the fixtures skip with
// the kernel's reason, which is a missing feature, not a mistake.
//
// Threading: call while the process has exactly one thread.
#pragma once

namespace deadpeer::testing {

// As root: nothing to do. Otherwise unshares a user and a network namespace
// and maps the caller to root inside. Never throws: a failure is printed to
// stderr ("deadpeer: ...") and recorded, and the fixtures skip with it.
// Returns whether this process can now build namespaces.
bool enterPrivateNamespaces() noexcept;

}  // namespace deadpeer::testing

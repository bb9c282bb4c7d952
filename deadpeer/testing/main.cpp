// deadpeer::gtest_main: the main() of a GoogleTest program that uses
// deadpeer's fixtures. It raises the open-file limit to the hard one
// (deadpeer/limits.hpp) and takes the privilege step, both before GoogleTest
// (or anything else) starts a thread (testing/privilege.hpp).
#include <gtest/gtest.h>

#include "deadpeer/limits.hpp"
#include "deadpeer/testing/privilege.hpp"

int main(int argc, char** argv) {
  deadpeer::raiseOpenFileLimit();
  deadpeer::testing::enterPrivateNamespaces();
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}

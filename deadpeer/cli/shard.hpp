// cli/shard: splitting one run across machines the way GoogleTest does.
//
// GTEST_TOTAL_SHARDS=N and GTEST_SHARD_INDEX=I (0 <= I < N) select every
// N-th item of the ordered list, starting at the I-th: the same rule as
// googletest's ShouldRunTestOnShard (test_id % total == index), so a CI
// matrix written for test binaries works unchanged for `deadpeer run`, and
// the shards of one list are disjoint and together cover it. Whenever
// GTEST_SHARD_STATUS_FILE is set, the file is created (as googletest does)
// to tell the launcher that this program honours sharding.
//
// Threading: pure, apart from reading the environment and creating the
// status file.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

namespace deadpeer::cli {

struct Shard {
  std::size_t index = 0;
  std::size_t total = 1;
  bool contains(std::size_t item) const noexcept { return item % total == index; }
  std::string str() const;  // "shard 2 of 4" (1-based, for people)
};

// nullopt when neither variable is set. Throws UsageError (a message naming
// the variable and its value) when only one is set, either is not a
// non-negative integer, the total is 0, or the index is not below it; and
// when the status file cannot be created.
std::optional<Shard> shardFromEnvironment();

struct UsageError {
  std::string message;
};

}  // namespace deadpeer::cli

#include "deadpeer/cli/shard.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace deadpeer::cli {
namespace {

constexpr std::size_t kMaxShards = 1'000'000;

std::optional<std::size_t> environment(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  const std::string_view text(value);
  std::size_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || n > kMaxShards)
    throw UsageError{std::string(name) + "='" + std::string(text) +
                     "': expected a whole number from 0 to " + std::to_string(kMaxShards)};
  return n;
}

}  // namespace

std::string Shard::str() const {
  return "shard " + std::to_string(index + 1) + " of " + std::to_string(total);
}

std::optional<Shard> shardFromEnvironment() {
  // googletest creates it whenever it is set, sharded or not.
  if (const char* status = std::getenv("GTEST_SHARD_STATUS_FILE"); status && *status) {
    const int fd = ::open(status, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
      throw UsageError{std::string("GTEST_SHARD_STATUS_FILE='") + status +
                       "': cannot create it: " + std::strerror(errno)};
    ::close(fd);
  }
  const auto total = environment("GTEST_TOTAL_SHARDS");
  const auto index = environment("GTEST_SHARD_INDEX");
  if (!total && !index) return std::nullopt;
  if (!total || !index)
    throw UsageError{std::string(total ? "GTEST_SHARD_INDEX" : "GTEST_TOTAL_SHARDS") +
                     " is not set, but " + (total ? "GTEST_TOTAL_SHARDS" : "GTEST_SHARD_INDEX") +
                     " is: set both, or neither"};
  if (*total == 0) throw UsageError{"GTEST_TOTAL_SHARDS=0: there must be at least one shard"};
  if (*index >= *total)
    throw UsageError{"GTEST_SHARD_INDEX=" + std::to_string(*index) +
                     " must be below GTEST_TOTAL_SHARDS=" + std::to_string(*total)};
  return Shard{*index, *total};
}

}  // namespace deadpeer::cli

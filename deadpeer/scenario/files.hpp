// scenario/files: from the paths a user names to scenario files, and from a
// file to its text, without trusting either.
//
// A path on the command line may be anything: missing, unreadable, a
// symbolic link loop, a named pipe (opening it blocks until a writer comes),
// /dev/zero (reading it never ends), a directory holding nothing. Each bad
// path becomes one PathProblem naming the path and the reason, and every
// other path is still expanded, so one typo does not hide the state of the
// rest. A directory is searched recursively for files whose names end in
// one of kScenarioExtensions (.yaml, .yml); other files in it are not
// scenarios and are skipped. A file named on the command line is taken
// whatever its extension, but it must be a regular file.
//
// Reading is bounded too: readScenarioText() opens without blocking, takes
// regular files only and at most kMaxScenarioBytes.
//
// Threading: pure functions over the file system.
#pragma once

#include <array>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace deadpeer {

// The endings that make a file in a directory a scenario file.
inline constexpr std::array<std::string_view, 2> kScenarioExtensions{".yaml", ".yml"};

// The largest scenario file read, in bytes. The largest shipped scenario is
// under 2 KiB; a megabyte is far more than any hand-written file needs and
// bounds the parser's time and memory.
inline constexpr std::size_t kMaxScenarioBytes = 1 << 20;

// How deep a directory walk goes, and how many entries it looks at in all,
// before it says so instead of going on.
inline constexpr int kMaxDirectoryDepth = 32;
inline constexpr std::size_t kMaxDirectoryEntries = 100'000;

struct PathProblem {
  std::filesystem::path path;
  std::string reason;  // "is a named pipe (FIFO), not a regular file"
  // "scenarios/x.yaml: is a named pipe (FIFO), not a regular file", with
  // control characters in the path escaped.
  std::string str() const;
};

struct ScenarioPaths {
  std::vector<std::filesystem::path> files;  // sorted, each once
  std::vector<PathProblem> problems;         // in the order the paths were given
};

// Expands files and directories into scenario files. Never throws for a bad
// path: it becomes a problem. Reasons: does not exist; is a dangling
// symbolic link; is a symbolic link loop; permission denied; a component is
// not a directory; is a named pipe (FIFO), a character device, a block
// device, a socket, not a regular file; a directory holding no scenario
// files; a directory too deep or too large to walk.
ScenarioPaths expandScenarioPaths(const std::vector<std::filesystem::path>& paths);

// The text of a scenario file. Throws ScenarioError with one diagnostic
// naming the file when it is not a regular file, cannot be opened or read,
// or is larger than kMaxScenarioBytes.
std::string readScenarioText(const std::filesystem::path& file);

}  // namespace deadpeer

#include "deadpeer/scenario/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "deadpeer/error.hpp"
#include "deadpeer/fd.hpp"
#include "deadpeer/scenario/scenario.hpp"
#include "deadpeer/text.hpp"

namespace deadpeer {
namespace {

namespace fs = std::filesystem;

std::string extensionsText() {
  std::string text;
  for (std::string_view e : kScenarioExtensions)
    text += (text.empty() ? "" : " or ") + std::string(e);
  return text;
}

bool hasScenarioExtension(const fs::path& path) {
  const std::string extension = path.extension().string();
  return std::find(kScenarioExtensions.begin(), kScenarioExtensions.end(), extension) !=
         kScenarioExtensions.end();
}

// Why stat() or open() failed with `err` on `path`, in a user's words.
std::string accessProblem(const fs::path& path, int err) {
  switch (err) {
    case ENOENT: {
      struct stat link {};
      if (::lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode)) {
        std::error_code ec;
        const fs::path target = fs::read_symlink(path, ec);
        return "is a dangling symbolic link" + (ec ? "" : " (to \"" + target.string() + "\")");
      }
      return "does not exist";
    }
    case ELOOP:
      return "is a symbolic link loop (too many levels of symbolic links)";
    case EACCES:
      return "permission denied";
    case ENOTDIR:
      return "does not exist (a component of the path is not a directory)";
    default:
      return std::strerror(err);
  }
}

// nullopt for a regular file.
std::optional<std::string> typeProblem(mode_t mode) {
  if (S_ISREG(mode)) return std::nullopt;
  if (S_ISDIR(mode)) return "is a directory, not a regular file";
  if (S_ISFIFO(mode)) return "is a named pipe (FIFO), not a regular file";
  if (S_ISCHR(mode)) return "is a character device, not a regular file";
  if (S_ISBLK(mode)) return "is a block device, not a regular file";
  if (S_ISSOCK(mode)) return "is a socket, not a regular file";
  return "is not a regular file";
}

// Opens a regular file for reading without blocking (a FIFO would block
// until a writer came) and without becoming a controlling terminal.
UniqueFd openRegular(const fs::path& path, std::string& problem, struct stat& st) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (!fd) {
    const int err = errno;
    problem = err == EACCES ? "is not readable: permission denied" : accessProblem(path, err);
    return fd;
  }
  if (::fstat(fd.get(), &st) != 0) {
    problem = std::strerror(errno);
    return UniqueFd();
  }
  if (auto why = typeProblem(st.st_mode)) {
    problem = *why;
    return UniqueFd();
  }
  return fd;
}

class Walk {
 public:
  explicit Walk(ScenarioPaths& out) : out_(out) {}

  void named(const fs::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return problem(path, accessProblem(path, errno));
    if (S_ISDIR(st.st_mode)) return directory(path);
    std::string why;
    if (!openRegular(path, why, st)) return problem(path, why);
    out_.files.push_back(path);
  }

 private:
  void problem(const fs::path& path, std::string why) {
    out_.problems.push_back({path, std::move(why)});
  }

  // Bounded by kMaxDirectoryDepth and kMaxDirectoryEntries; symbolic links
  // to directories are not followed, so a link cannot make a cycle.
  void directory(const fs::path& root) {
    const std::size_t files_before = out_.files.size();
    const std::size_t problems_before = out_.problems.size();
    std::vector<std::pair<fs::path, int>> pending{{root, 0}};
    while (!pending.empty()) {
      auto [dir, depth] = std::move(pending.back());
      pending.pop_back();
      std::error_code ec;
      fs::directory_iterator it(dir, ec);
      if (ec) {
        problem(dir, "cannot be listed: " + accessProblem(dir, ec.value()));
        continue;
      }
      for (const fs::directory_iterator end; it != end; it.increment(ec)) {
        if (++entries_ > kMaxDirectoryEntries) {
          problem(root, "holds more than " + std::to_string(kMaxDirectoryEntries) +
                            " entries; not searched further");
          return;
        }
        const fs::path& path = it->path();
        const fs::file_status own = it->symlink_status(ec);
        if (ec) continue;  // gone since it was listed
        if (fs::is_directory(own)) {
          if (depth + 1 > kMaxDirectoryDepth)
            problem(path, "is nested more than " + std::to_string(kMaxDirectoryDepth) +
                              " directories deep; not searched");
          else
            pending.emplace_back(path, depth + 1);
          continue;
        }
        if (!hasScenarioExtension(path)) continue;
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0) {
          problem(path, accessProblem(path, errno));
        } else if (S_ISDIR(st.st_mode)) {
          continue;  // a link to a directory: not followed
        } else if (auto why = typeProblem(st.st_mode)) {
          problem(path, *why);
        } else {
          out_.files.push_back(path);
        }
      }
      if (ec) problem(dir, "cannot be listed: " + accessProblem(dir, ec.value()));
    }
    if (out_.files.size() == files_before && out_.problems.size() == problems_before)
      problem(root, "holds no scenario files (names ending in " + extensionsText() + ")");
  }

  ScenarioPaths& out_;
  std::size_t entries_ = 0;
};

}  // namespace

std::string PathProblem::str() const { return printable(path.string()) + ": " + printable(reason); }

ScenarioPaths expandScenarioPaths(const std::vector<fs::path>& paths) {
  ScenarioPaths out;
  Walk walk(out);
  for (const auto& path : paths) walk.named(path);
  std::sort(out.files.begin(), out.files.end());
  out.files.erase(std::unique(out.files.begin(), out.files.end()), out.files.end());
  return out;
}

std::string readScenarioText(const fs::path& file) {
  const auto refuse = [&](std::string why) {
    return ScenarioError({Diagnostic{file, {}, "", std::move(why)}});
  };
  struct stat st {};
  std::string why;
  const UniqueFd fd = openRegular(file, why, st);
  if (!fd) throw refuse(why);
  const auto tooLarge = [&](std::string size) {
    return refuse("is " + size + " bytes; a scenario file may be at most " +
                  std::to_string(kMaxScenarioBytes) + " bytes (1 MiB)");
  };
  if (static_cast<std::uint64_t>(st.st_size) > kMaxScenarioBytes)
    throw tooLarge(std::to_string(st.st_size));
  // The file may grow while it is read: read one byte past the limit at most.
  std::string text(kMaxScenarioBytes + 1, '\0');
  std::size_t got = 0;
  for (int reads = 0; got < text.size() && reads < 1 << 16; ++reads) {
    const ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw refuse("cannot be read: " + std::string(std::strerror(errno)));
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  if (got > kMaxScenarioBytes) throw tooLarge("more than " + std::to_string(kMaxScenarioBytes));
  text.resize(got);
  return text;
}

std::vector<fs::path> findScenarioFiles(const std::vector<fs::path>& paths) {
  ScenarioPaths found = expandScenarioPaths(paths);
  if (!found.problems.empty()) {
    const PathProblem& first = found.problems.front();
    throw Error("find scenarios", quoted("path", printable(first.path.string())), "", EINVAL,
                first.reason);
  }
  return std::move(found.files);
}

}  // namespace deadpeer

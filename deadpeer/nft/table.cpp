#include "deadpeer/nft/table.hpp"

#include <fcntl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <nftables/libnftables.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <vector>

#include "deadpeer/error.hpp"

namespace deadpeer {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kNetlinkAnswerDeadline = std::chrono::seconds(5);

// See the header: libnftables 1.0.6 is not safe to call from two threads at
// once, even on two contexts.
std::mutex& libraryMutex() {
  static std::mutex mutex;
  return mutex;
}

struct CtxFree {
  void operator()(nft_ctx* ctx) const noexcept {
    if (ctx == nullptr) return;
    std::lock_guard lock(libraryMutex());
    nft_ctx_free(ctx);
  }
};
using CtxPtr = std::unique_ptr<nft_ctx, CtxFree>;

constexpr std::array<std::string_view, 6> kFamilies{"inet", "ip", "ip6", "arp", "bridge", "netdev"};

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return text.substr(first, last - first + 1);
}

std::vector<std::string_view> lines(std::string_view text) {
  std::vector<std::string_view> out;
  while (!text.empty()) {
    const auto end = text.find('\n');
    out.push_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return out;
}

constexpr const char* kNameRule =
    "names are letters, digits, '_', '-' and '.', and start with a letter or '_'";

// A subset of what nft's scanner takes for a name. Checked here so that a
// name can never smuggle a second command into a batch.
bool isIdentifier(std::string_view name) {
  if (name.empty() || name.size() > NFT_NAME_MAXLEN - 1) return false;
  auto letter = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (!letter(name[0]) && name[0] != '_') return false;
  return std::all_of(name.begin(), name.end(), [&](char c) {
    return letter(c) || digit(c) || c == '_' || c == '-' || c == '.';
  });
}

// A rule must stay one command: a line break, ';' or '#' outside a quoted
// string would end it and start another command or a comment.
bool isSingleRule(std::string_view rule) {
  bool quoted = false;
  for (char c : rule) {
    if (c == '"') quoted = !quoted;
    if (c == '\n' || c == '\r') return false;
    if (!quoted && (c == ';' || c == '#')) return false;
  }
  return !quoted && !trim(rule).empty();
}

// The errno behind nft's message. Kernel errors arrive as strerror text
// ("Could not process rule: File exists", "No such file or directory; did
// you mean ..."), so the longest strerror text found in the message wins;
// what nft rejects itself, before the kernel sees it, is EINVAL.
int errnoOfNftReason(std::string_view reason) {
  if (reason.find("Interface does not exist") != std::string_view::npos) return ENODEV;
  int best = 0;
  std::size_t best_length = 0;
  for (int err = 1; err < 134; ++err) {
    const std::string_view text = std::strerror(err);
    if (text.size() > best_length && reason.find(text) != std::string_view::npos) {
      best = err;
      best_length = text.size();
    }
  }
  return best != 0 ? best : EINVAL;
}

struct NftFailure {
  int err = EIO;
  std::string reason;
  int line = 0;  // 1-based line of the batch nft blamed, 0 if none
};

// nft's error output is, per error, "<file>:<line>:<columns>: Error: <text>",
// the offending line, and a line of carets; errors from the kernel batch may
// read "netlink: Error: <text>". The first error is the one that counts.
NftFailure parseFailure(std::string_view error_text, std::string_view file) {
  NftFailure failure;
  const auto all = lines(error_text);
  auto it = std::find_if(all.begin(), all.end(), [](std::string_view l) {
    return l.find("Error: ") != std::string_view::npos;
  });
  if (it == all.end())
    it = std::find_if(all.begin(), all.end(), [](std::string_view l) { return !trim(l).empty(); });
  if (it == all.end()) {
    failure.reason = "libnftables failed without a message";
    return failure;
  }
  std::string_view line = *it;
  if (line.substr(0, file.size()) == file && line.size() > file.size() &&
      line[file.size()] == ':') {
    std::string_view rest = line.substr(file.size() + 1);
    int number = 0;
    for (std::size_t i = 0; i < rest.size() && i < 9 && rest[i] >= '0' && rest[i] <= '9'; ++i)
      number = number * 10 + (rest[i] - '0');
    failure.line = number;
  }
  if (const auto at = line.find("Error: "); at != std::string_view::npos)
    line.remove_prefix(at + std::strlen("Error: "));
  failure.reason = std::string(trim(line));
  failure.err = errnoOfNftReason(failure.reason);
  return failure;
}

// libnftables 1.0.6 exit()s the process when it cannot open its netlink
// socket, and prints "(you must be root)" straight to stderr when the
// kernel refuses it. So the namespace is first asked for nf_tables'
// generation id on a socket of our own, which fails politely in both cases.
// Runs inside the namespace.
void checkNfTablesAnswers(const std::string& object, const std::string& where) {
  UniqueFd sock(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_NETFILTER));
  if (!sock) throw Error::fromErrno("nft", object, where, errno);
  struct {
    nlmsghdr header;
    nfgenmsg body;
  } request{};
  request.header.nlmsg_len = sizeof request;
  request.header.nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
  request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  request.header.nlmsg_seq = 1;
  request.body.nfgen_family = AF_UNSPEC;
  request.body.version = NFNETLINK_V0;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(sock.get(), &request, sizeof request, 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof kernel) < 0)
    throw Error::fromErrno("nft", object, where, errno);

  // The kernel answers within sendto(); the deadline only bounds the wait.
  const auto end = Clock::now() + kNetlinkAnswerDeadline;
  alignas(nlmsghdr) char buffer[8192];
  for (int reads = 0; reads < 64; ++reads) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(end - Clock::now());
    if (left.count() <= 0) break;
    pollfd pfd{sock.get(), POLLIN, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) throw Error::fromErrno("nft", object, where, errno);
    if (ready == 0) break;
    const ssize_t n = ::recv(sock.get(), buffer, sizeof buffer, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) throw Error::fromErrno("nft", object, where, errno);
    int size = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(h, size);
         h = NLMSG_NEXT(h, size)) {
      if (h->nlmsg_type != NLMSG_ERROR) continue;
      const int err = -static_cast<const nlmsgerr*>(NLMSG_DATA(h))->error;
      if (err == 0) return;
      if (err == EPERM)
        throw Error("nft", object, where, EPERM, "no CAP_NET_ADMIN over this network namespace");
      if (err == EOPNOTSUPP)
        throw Error("nft", object, where, EOPNOTSUPP, "nf_tables is not available");
      throw Error::fromErrno("nft", object, where, err);
    }
  }
  throw Error("nft", object, where, ETIMEDOUT,
              "nf_tables did not answer within " +
                  std::to_string(std::chrono::milliseconds(kNetlinkAnswerDeadline).count()) +
                  " ms");
}

// "rule "tcp dport 80 drop" in chain input of table inet deadpeer"
std::string ruleObject(std::string_view text, std::string_view chain, std::string_view table) {
  std::string object = "rule \"";
  object += text;
  object += "\" in chain ";
  object += chain;
  object += " of table ";
  object += table;
  return object;
}

}  // namespace

class NftSession {
 public:
  enum class Access { kRead, kModify };

  struct Outcome {
    bool ok = false;
    std::string output;
    std::string error;
    std::string file;  // the name nft gave the batch in its messages
  };

  // A context whose socket lives in `ns`; `object` names what it is opened
  // for, in errors.
  static std::shared_ptr<NftSession> open(const Netns& ns, Access access,
                                          const std::string& object) {
    if (access == Access::kModify && ns.isMachineNamespace())
      throw Error("nft", object, ns.label(), EPERM,
                  "refusing to modify the machine's own network namespace");
    UniqueFd netns(::fcntl(ns.fd(), F_DUPFD_CLOEXEC, 0));
    if (!netns) throw Error::fromErrno("dup", "netns fd", ns.label(), errno);
    CtxPtr ctx;
    {
      NetnsGuard guard(ns);
      checkNfTablesAnswers(object, ns.label());
      std::lock_guard lock(libraryMutex());
      ctx.reset(nft_ctx_new(NFT_CTX_DEFAULT));
      if (!ctx) throw Error("nft", object, ns.label(), ENOMEM, "nft_ctx_new failed");
      // Both streams go to memory: library code never prints.
      if (nft_ctx_buffer_output(ctx.get()) != 0 || nft_ctx_buffer_error(ctx.get()) != 0)
        throw Error("nft", object, ns.label(), ENOMEM, "cannot buffer libnftables output");
    }
    return std::shared_ptr<NftSession>(
        new NftSession(std::move(ctx), std::move(netns), ns.label()));
  }

  const std::string& where() const noexcept { return where_; }

  // Runs `commands` as one batch with the given NFT_CTX_OUTPUT_* flags.
  Outcome run(std::string_view commands, unsigned output_flags) {
    // The batch is handed over as a file, not a buffer, because for a
    // buffer libnftables 1.0.6 quotes line 1 in every error and names no
    // line; for a file it says "<file>:<line>:<columns>: Error: ...".
    UniqueFd file(::memfd_create("deadpeer-nft", MFD_CLOEXEC));
    if (!file) throw Error::fromErrno("memfd_create", "nft batch", where_, errno);
    // Ended by a new line, as nft_run_cmd_from_buffer() ends a buffer, so
    // that errors read the same ("unexpected newline", not "end of file").
    std::string text(commands);
    if (text.empty() || text.back() != '\n') text += '\n';
    std::size_t written = 0;
    for (int writes = 0; writes < 1024 && written < text.size(); ++writes) {
      const ssize_t n = ::write(file.get(), text.data() + written, text.size() - written);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw Error::fromErrno("write", "nft batch", where_, errno);
      written += static_cast<std::size_t>(n);
    }
    if (written < text.size())
      throw Error("write", "nft batch", where_, EIO, "short write to memfd");

    Outcome outcome;
    outcome.file = "/proc/self/fd/" + std::to_string(file.get());
    std::lock_guard lock(libraryMutex());
    NetnsGuard guard(netns_.get(), where_);
    nft_ctx_output_set_flags(ctx_.get(), output_flags);
    // 1.0.6 prints "(you must be root)" to the real stderr when a failed
    // evaluation leaves errno at EPERM, whoever set it.
    errno = 0;
    const int rc = nft_run_cmd_from_filename(ctx_.get(), outcome.file.c_str());
    outcome.ok = rc == 0;
    outcome.output = nft_ctx_get_output_buffer(ctx_.get());
    outcome.error = nft_ctx_get_error_buffer(ctx_.get());
    return outcome;
  }

  // Runs `commands` and returns nft's output; throws Error("nft", object,
  // ...) with nft's first error line otherwise.
  std::string runOrThrow(std::string_view commands, unsigned output_flags,
                         const std::string& object) {
    Outcome outcome = run(commands, output_flags);
    if (!outcome.ok) throw failureOf(outcome, object);
    return std::move(outcome.output);
  }

  Error failureOf(const Outcome& outcome, const std::string& object) const {
    const NftFailure failure = parseFailure(outcome.error, outcome.file);
    return Error("nft", object, where_, failure.err, failure.reason);
  }

 private:
  NftSession(CtxPtr ctx, UniqueFd netns, std::string where)
      : ctx_(std::move(ctx)), netns_(std::move(netns)), where_(std::move(where)) {}

  CtxPtr ctx_;
  UniqueFd netns_;
  std::string where_;
};

// ---- NftTable -----------------------------------------------------------------

NftTable::NftTable(const Netns& ns, std::string family, std::string name)
    : family_(std::move(family)), name_(std::move(name)) {
  const std::string object = "table " + family_ + " " + name_;
  if (std::find(kFamilies.begin(), kFamilies.end(), family_) == kFamilies.end())
    throw Error("nft", object, ns.label(), EINVAL,
                "unknown family; expected inet, ip, ip6, arp, bridge or netdev");
  if (!isIdentifier(name_)) throw Error("nft", object, ns.label(), EINVAL, kNameRule);
  session_ = NftSession::open(ns, NftSession::Access::kModify, object);
  // "create", unlike "add", fails on an existing table: a table that is
  // already there belongs to someone else.
  session_->runOrThrow("create table " + family_ + " " + name_, 0, object);
}

NftTable::~NftTable() {
  if (!session_ || !owned_) return;
  try {
    // Deleting the table takes its chains, rules and sets with it. If it is
    // gone already (ENOENT), so much the better; nothing else can be done
    // about any other failure in a destructor.
    (void)session_->run("delete table " + family_ + " " + name_, 0);
  } catch (...) {
  }
}

NftTable::NftTable(NftTable&& other) noexcept
    : session_(std::move(other.session_)),
      family_(std::move(other.family_)),
      name_(std::move(other.name_)),
      owned_(other.owned_) {}

const std::string& NftTable::where() const noexcept {
  static const std::string nowhere;
  return session_ ? session_->where() : nowhere;
}

void NftTable::apply(std::string_view commands) {
  const std::string table = family_ + " " + name_;
  NftSession::Outcome outcome = session_->run(commands, 0);
  if (outcome.ok) return;
  const NftFailure failure = parseFailure(outcome.error, outcome.file);
  const auto all = lines(commands);
  std::string object;
  if (failure.line >= 1 && static_cast<std::size_t>(failure.line) <= all.size()) {
    object = "command \"" + std::string(trim(all[failure.line - 1])) + "\"";
    if (all.size() > 1)
      object +=
          " (line " + std::to_string(failure.line) + " of " + std::to_string(all.size()) + ")";
  } else {
    object = "batch of " + std::to_string(all.size()) + " commands";
  }
  object += " for table " + table;
  throw Error("nft", object, where(), failure.err, failure.reason);
}

NftRule NftTable::addRule(std::string_view chain, std::string_view rule) {
  return placeRule("add", chain, rule);
}

NftRule NftTable::insertRule(std::string_view chain, std::string_view rule) {
  return placeRule("insert", chain, rule);
}

NftRule NftTable::placeRule(std::string_view verb, std::string_view chain, std::string_view rule) {
  const std::string table = family_ + " " + name_;
  const std::string text(trim(rule));
  const std::string object = ruleObject(text, chain, table);
  if (!isIdentifier(chain)) throw Error("nft", object, where(), EINVAL, kNameRule);
  if (!isSingleRule(text))
    throw Error("nft", object, where(), EINVAL,
                "a rule is one line, with no ';' or '#' outside quotes");

  // With echo and handles, nft prints the rule back as the kernel stored it,
  // "add rule inet deadpeer input tcp dport 80 drop # handle 7", and that
  // handle is what later deletes exactly this rule.
  const std::string output = session_->runOrThrow(
      std::string(verb) + " rule " + table + " " + std::string(chain) + " " + text,
      NFT_CTX_OUTPUT_ECHO | NFT_CTX_OUTPUT_HANDLE, object);
  std::vector<std::uint64_t> handles;
  for (std::string_view line : lines(output)) {
    if (line.rfind("add rule ", 0) != 0 && line.rfind("insert rule ", 0) != 0) continue;
    const auto at = line.rfind(" # handle ");
    if (at == std::string_view::npos) continue;
    std::uint64_t handle = 0;
    std::string_view digits = trim(line.substr(at + std::strlen(" # handle ")));
    if (digits.empty() || digits.size() > 19) continue;
    bool numeric = true;
    for (char c : digits) {
      if (c < '0' || c > '9') numeric = false;
      handle = handle * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (numeric) handles.push_back(handle);
  }
  if (handles.size() != 1)
    throw Error("nft", object, where(), EPROTO,
                "expected nft to echo one rule handle, got " + std::to_string(handles.size()));
  return NftRule(session_, table, std::string(chain), text, handles.front());
}

std::string NftTable::list() const {
  const std::string command = "list table " + family_ + " " + name_;
  return session_->runOrThrow(command, 0, command);
}

// ---- NftRule ------------------------------------------------------------------

NftRule::NftRule(NftRule&& other) noexcept
    : session_(std::move(other.session_)),
      table_(std::move(other.table_)),
      chain_(std::move(other.chain_)),
      text_(std::move(other.text_)),
      handle_(other.handle_) {}

NftRule::~NftRule() {
  if (!session_) return;
  try {
    // ENOENT (the rule, chain or table is gone) leaves nothing to undo.
    (void)session_->run(
        "delete rule " + table_ + " " + chain_ + " handle " + std::to_string(handle_), 0);
  } catch (...) {
  }
}

void NftRule::remove() {
  if (!session_) return;
  const std::string object =
      "delete " + ruleObject(text_, chain_, table_) + " (handle " + std::to_string(handle_) + ")";
  session_->runOrThrow(
      "delete rule " + table_ + " " + chain_ + " handle " + std::to_string(handle_), 0, object);
  session_.reset();
}

// ---- ruleset ------------------------------------------------------------------

std::string listRuleset(const Netns& ns) {
  const std::string command = "list ruleset";
  return NftSession::open(ns, NftSession::Access::kRead, command)->runOrThrow(command, 0, command);
}

}  // namespace deadpeer

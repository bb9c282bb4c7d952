// nft: nftables through libnftables. Each host gets one table, owned and
// deleted as a whole.
//
// NftTable owns one nftables table in one network namespace: the constructor
// creates it (and fails if it already exists), the destructor deletes it with
// every chain, rule and set in it. NftRule owns one rule of that table by the
// handle the kernel gave it, so deleting it removes exactly that rule, even
// when an identical rule sits next to it, and the table reads as before. A
// fault applies by adding rules and reverts by deleting them.
//
// Every change is one nftables transaction, committed when the call returns:
// libnftables sends the batch and reads the kernel's acknowledgements before
// it returns. A batch that fails changes nothing.
//
// Namespaces: libnftables 1.0.6 opens its NETLINK_NETFILTER socket in
// nft_ctx_new(), in the calling thread's namespace, and uses that socket for
// every later command whatever namespace the caller is in by then (checked:
// a context made in namespace A and used from a thread in namespace B changes
// A). So each table has its own context, made inside its namespace. Commands
// still run under a NetnsGuard, because libnftables resolves interface names
// on an rtnetlink socket it opens per command in the caller's namespace.
//
// Output and errors: libnftables' output and error streams are buffered and
// never reach the process's stdout or stderr. A failure becomes
// deadpeer::Error("nft", <what was attempted>, <namespace label>, errno,
// <nft's first error line>), e.g.
//   nft rule "tcp dport 80 drop" in chain input of table inet deadpeer in
//   host h1: Could not process rule: No such file or directory
// The errno is the kernel's where nft reports one (ENOENT for a missing
// table, chain or rule, EEXIST for an existing table, EOPNOTSUPP where the
// kernel says so), ENODEV for an unknown interface name, EINVAL for any
// other text nft rejects itself (syntax errors, values out of range), and
// EPERM for the machine's own namespace or a caller without CAP_NET_ADMIN.
//
// Threading: libnftables 1.0.6 keeps process-global state (an interface
// cache it frees after every command, one-time library set-up), so every
// call into it, from every table in the process, is serialised by one
// process-wide mutex. A table or rule may be used from any thread, by one
// thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "deadpeer/ns/netns.hpp"

namespace deadpeer {

// A libnftables context bound to one namespace (table.cpp). Tables and their
// rules share it, so a rule stays deletable even after its table object is
// moved.
class NftSession;

class NftRule;

class NftTable {
 public:
  // Creates `table <family> <name>` in `ns`. `family` is inet, ip, ip6, arp,
  // bridge or netdev; `name` is an nft identifier (letters, digits, '_',
  // '-', '.'). Refuses the machine's own namespace (EPERM).
  NftTable(const Netns& ns, std::string family, std::string name);
  ~NftTable();
  NftTable(NftTable&& other) noexcept;
  NftTable& operator=(NftTable&&) = delete;
  NftTable(const NftTable&) = delete;

  const std::string& family() const noexcept { return family_; }
  const std::string& name() const noexcept { return name_; }
  // The namespace's label, for messages ("host h1").
  const std::string& where() const noexcept;

  // Runs `commands`, nft syntax one command per line, as one transaction,
  // e.g. "add chain inet deadpeer input { type filter hook input priority 0;
  // }\nadd rule inet deadpeer input tcp dport 80 drop". Commands name the
  // table themselves; keep them to this table, which is what is owned.
  void apply(std::string_view commands);

  // Appends (addRule) or prepends (insertRule) one rule, e.g. "tcp dport 80
  // drop", to `chain`; the returned NftRule deletes it again. The text is a
  // single rule: new lines, and ';' or '#' outside quotes, are refused.
  [[nodiscard]] NftRule addRule(std::string_view chain, std::string_view rule);
  [[nodiscard]] NftRule insertRule(std::string_view chain, std::string_view rule);

  // The table as `nft list table <family> <name>` prints it (no handles).
  std::string list() const;

  // Leaves the table in its namespace: the destructor no longer deletes it.
  void release() noexcept { owned_ = false; }

 private:
  NftRule placeRule(std::string_view verb, std::string_view chain, std::string_view rule);

  std::shared_ptr<NftSession> session_;  // null once moved from
  std::string family_;
  std::string name_;
  bool owned_ = true;
};

// One rule in a chain of an NftTable, deleted by the destructor.
class NftRule {
 public:
  ~NftRule();
  NftRule(NftRule&& other) noexcept;
  NftRule& operator=(NftRule&&) = delete;
  NftRule(const NftRule&) = delete;

  // The kernel's handle of the rule, unique within its table.
  std::uint64_t handle() const noexcept { return handle_; }
  const std::string& chain() const noexcept { return chain_; }
  const std::string& text() const noexcept { return text_; }

  // Deletes the rule now, reporting failure (ENOENT when it is already
  // gone); afterwards the destructor has nothing to do. The destructor
  // itself tolerates the rule, its chain or its table being gone.
  void remove();
  // Leaves the rule in its chain.
  void release() noexcept { session_.reset(); }

 private:
  friend class NftTable;
  NftRule(std::shared_ptr<NftSession> session, std::string table, std::string chain,
          std::string text, std::uint64_t handle)
      : session_(std::move(session)),
        table_(std::move(table)),
        chain_(std::move(chain)),
        text_(std::move(text)),
        handle_(handle) {}

  std::shared_ptr<NftSession> session_;  // null once removed, released or moved from
  std::string table_;                    // "inet deadpeer"
  std::string chain_;
  std::string text_;
  std::uint64_t handle_ = 0;
};

// The namespace's whole ruleset as `nft list ruleset` prints it ("" when
// empty), for before/after comparisons. Reading is allowed in any namespace,
// the machine's own included.
std::string listRuleset(const Netns& ns);

}  // namespace deadpeer

#include "deadpeer/error.hpp"

#include <cstring>

namespace deadpeer {
namespace {

std::string compose(const std::string& op, const std::string& object, const std::string& where,
                    const std::string& reason) {
  std::string text = op;
  if (!object.empty()) text += " " + object;
  if (!where.empty()) text += " in " + where;
  text += ": " + reason;
  return text;
}

}  // namespace

Error::Error(std::string op, std::string object, std::string where, int sys_errno,
             std::string reason)
    : std::runtime_error(compose(op, object, where, reason)),
      op_(std::move(op)),
      object_(std::move(object)),
      where_(std::move(where)),
      errno_(sys_errno),
      reason_(std::move(reason)) {}

Error Error::fromErrno(std::string op, std::string object, std::string where, int sys_errno) {
  return Error(std::move(op), std::move(object), std::move(where), sys_errno,
               std::strerror(sys_errno));
}

std::string quoted(std::string_view kind, std::string_view name) {
  std::string text(kind);
  text += " \"";
  text += name;
  text += '"';
  return text;
}

}  // namespace deadpeer

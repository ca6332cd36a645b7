#include "collectors/core/status.h"

#include <cerrno>
#include <cstring>

namespace mailstack {

Status Status::FromErrno(std::string_view context, int err) {
  std::string msg(context);
  msg += ": ";
  char buf[256];
  // GNU strerror_r returns the message pointer (may not use buf).
  msg += strerror_r(err, buf, sizeof buf);
  switch (err) {
    case ENOENT:
    case ENOTDIR: return NotFound(std::move(msg));
    case EACCES:
    case EPERM: return PermissionDenied(std::move(msg));
    case ETIMEDOUT: return DeadlineExceeded(std::move(msg));
    case ECONNREFUSED:
    case ECONNRESET:
    case EPIPE:
    case EHOSTUNREACH:
    case ENETUNREACH: return Unavailable(std::move(msg));
    default: return IOError(std::move(msg));
  }
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string msg(context);
  msg += ": ";
  msg += message_;
  return Status(code_, std::move(msg));
}

}  // namespace mailstack

#include "collectors/net/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>

namespace mailstack::net {

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

Status SplitHostPort(const std::string& address, std::string* host, uint16_t* port_out) {
  std::string port;
  if (!address.empty() && address[0] == '[') {
    auto close = address.find(']');
    if (close == std::string::npos || close + 1 >= address.size() || address[close + 1] != ':') {
      return Status::InvalidArgument("want [IPv6]:PORT");
    }
    *host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    auto colon = address.rfind(':');
    if (colon == std::string::npos) return Status::InvalidArgument("want an absolute socket path or HOST:PORT");
    *host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port) == 0 || std::stoi(port) > 65535) {
    return Status::InvalidArgument("bad port \"" + port + "\"");
  }
  *port_out = static_cast<uint16_t>(std::stoi(port));
  return Status::Ok();
}

namespace {

// Parses HOST:PORT into a sockaddr. Only numeric hosts and localhost: name
// resolution is Resolve()'s (c-ares, with a deadline; libc's has none).
Status ParseInet(const std::string& address, sockaddr_storage* ss, socklen_t* len) {
  std::string host;
  uint16_t port = 0;
  if (Status s = SplitHostPort(address, &host, &port); !s.ok()) return s;
  if (host == "localhost") host = "127.0.0.1";
  std::memset(ss, 0, sizeof *ss);
  auto* v4 = reinterpret_cast<sockaddr_in*>(ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(ss);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    *len = sizeof *v4;
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    *len = sizeof *v6;
  } else {
    return Status::InvalidArgument("host must be an IP address or localhost (got \"" + host + "\")");
  }
  return Status::Ok();
}

}  // namespace

Status ValidateAddress(const std::string& address) {
  if (!address.empty() && address[0] == '/') {
    if (address.size() >= sizeof(sockaddr_un::sun_path)) return Status::InvalidArgument("socket path too long");
    return Status::Ok();
  }
  sockaddr_storage ss{};
  socklen_t len = 0;
  return ParseInet(address, &ss, &len);
}

Result<Fd> Connect(const std::string& address, const Deadline& deadline, const std::atomic<bool>* stop) {
  const std::string ctx = "connect " + address;
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (!address.empty() && address[0] == '/') {
    auto* un = reinterpret_cast<sockaddr_un*>(&ss);
    if (address.size() >= sizeof un->sun_path) return Status::InvalidArgument(ctx + ": path too long");
    un->sun_family = AF_UNIX;
    std::memcpy(un->sun_path, address.c_str(), address.size() + 1);
    len = sizeof *un;
  } else if (Status s = ParseInet(address, &ss, &len); !s.ok()) {
    return s.WithContext(ctx);
  }
  return Connect(ss, len, ctx, deadline, stop);
}

Result<Fd> Connect(const sockaddr_storage& ss, socklen_t len, const std::string& ctx, const Deadline& deadline,
                   const std::atomic<bool>* stop) {
  Fd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::FromErrno(ctx + ": socket", errno);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&ss), len) == 0) return fd;
  // A unix socket says EAGAIN when the listener's backlog is full: nothing
  // is in progress then, the connection was refused.
  if (errno == EAGAIN && ss.ss_family == AF_UNIX) {
    return Status::Unavailable(ctx + ": the listen backlog is full (EAGAIN)");
  }
  if (errno != EINPROGRESS) return Status::FromErrno(ctx, errno);
  pollfd p{fd.get(), POLLOUT, 0};
  while (true) {
    if (stop != nullptr && stop->load(std::memory_order_relaxed)) return Status::DeadlineExceeded(ctx + ": stopped");
    const int left = deadline.RemainingPollMs();
    if (left == 0) return Status::DeadlineExceeded(ctx + ": timed out");
    int n = ::poll(&p, 1, left < 0 || left > 100 ? 100 : left);  // slices: look at the stop flag
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(ctx + ": poll", errno);
    if (n == 0) continue;
    break;
  }
  int err = 0;
  socklen_t elen = sizeof err;
  ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &elen);
  if (err != 0) return Status::FromErrno(ctx, err);
  return fd;
}

Status ReadUntilEof(int fd, const Deadline& deadline, const std::function<Status(std::string_view)>& chunk) {
  // Peers like showq write one small record at a time. Waiting in the kernel
  // for a full buffer (MSG_WAITALL, bounded by SO_RCVTIMEO = time left) costs
  // one system call per 64 KiB instead of a poll+read pair per record.
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0 && (flags & O_NONBLOCK)) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  // On the heap: a thread_local buffer would be static TLS, which glibc takes
  // from every thread's stack, civetweb's small worker stacks included.
  constexpr size_t kBufSize = 65536;
  std::unique_ptr<char[]> buf(new char[kBufSize]);
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline.Remaining()).count();
    if (left <= 0) return Status::DeadlineExceeded("read: timed out");
    timeval tv{static_cast<time_t>(left / 1000000), static_cast<suseconds_t>(left % 1000000)};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ssize_t n = ::recv(fd, buf.get(), kBufSize, MSG_WAITALL);
    if (n > 0) {
      if (Status s = chunk(std::string_view(buf.get(), static_cast<size_t>(n))); !s.ok()) return s;
      continue;
    }
    if (n == 0) return Status::Ok();
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Status::DeadlineExceeded("read: timed out");
    return Status::FromErrno("read", errno);
  }
}

}  // namespace mailstack::net

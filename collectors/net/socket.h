// Deadline-bounded stream sockets: connect to a unix socket path or a
// host:port (numeric IPv4/IPv6 or localhost), and read until EOF. Every wait
// (poll for connect, timed non-blocking reads) is bounded by the caller's
// deadline; no call blocks past it.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "collectors/core/deadline.h"
#include "collectors/core/status.h"

namespace mailstack::net {

// Owns a file descriptor.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// `address` is an absolute unix socket path, or HOST:PORT / [V6]:PORT with a
// numeric host or "localhost". Errors read "connect <address>: <cause>".
// `stop` (may be null) ends the wait early.
Result<Fd> Connect(const std::string& address, const Deadline& deadline, const std::atomic<bool>* stop = nullptr);

// The same for an address already resolved; `ctx` starts error messages.
Result<Fd> Connect(const sockaddr_storage& addr, socklen_t len, const std::string& ctx, const Deadline& deadline,
                   const std::atomic<bool>* stop = nullptr);

// Splits HOST:PORT / [V6]:PORT (port 1..65535; the host is not checked).
Status SplitHostPort(const std::string& address, std::string* host, uint16_t* port);

// OK if Connect() accepts the form of `address` (for config validation).
Status ValidateAddress(const std::string& address);

// Calls `chunk` with every piece read until the peer closes. Stops with the
// first non-OK status from `chunk`, DeadlineExceeded at the deadline or when
// *stop is set (looked at every 100 ms at most), or the read error. Paced: see
// the comment in socket.cc.
Status ReadUntilEof(int fd, const Deadline& deadline, const std::atomic<bool>* stop,
                    const std::function<Status(std::string_view)>& chunk);

}  // namespace mailstack::net

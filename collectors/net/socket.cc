#include "collectors/net/socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>

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

Status ReadUntilEof(int fd, const Deadline& deadline, const std::atomic<bool>* stop,
                    const std::function<Status(std::string_view)>& chunk) {
  // Peers like showq write one small record per system call (~170 bytes a
  // message). A reader that waits in recv() or poll() sits on the socket's wait
  // queue, so every one of those writes must also wake it: an inter-processor
  // wakeup on a second CPU, a context switch on a single one. Measured on a
  // 10,000-message queue, that makes showq itself 10-20 % slower
  // (tests/bench/queue_bench.py). So while data flows this reader is not on the
  // wait queue: it drains what is there, then sleeps on a timer sized from the
  // rate seen so that about kPaceBytes arrive per wakeup. That stays well below
  // the point where a unix-socket writer blocks (a quarter of its send buffer:
  // ~70 such records, ~12 KB). After kIdle without data it waits in poll()
  // instead, so a silent peer costs no timer wakeups.
  using Clock = std::chrono::steady_clock;
  using Micros = std::chrono::microseconds;
  constexpr Micros kMinSleep{100}, kMaxSleep{2000}, kIdle{10000};
  constexpr double kPaceBytes = 4096;
  // On the heap: a thread_local buffer would be static TLS, which glibc takes
  // from every thread's stack, civetweb's small worker stacks included.
  constexpr size_t kBufSize = 65536;
  std::unique_ptr<char[]> buf(new char[kBufSize]);
  Micros sleep{250};
  auto last_drain = Clock::now(), last_data = last_drain;
  while (true) {
    size_t got = 0;
    while (true) {
      if (deadline.Expired()) return Status::DeadlineExceeded("read: timed out");
      if (stop != nullptr && stop->load(std::memory_order_relaxed)) return Status::DeadlineExceeded("read: stopped");
      ssize_t n = ::recv(fd, buf.get(), kBufSize, MSG_DONTWAIT);
      if (n > 0) {
        got += static_cast<size_t>(n);
        if (Status s = chunk(std::string_view(buf.get(), static_cast<size_t>(n))); !s.ok()) return s;
        continue;
      }
      if (n == 0) return Status::Ok();
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return Status::FromErrno("read", errno);
    }
    const auto now = Clock::now();
    if (got > 0) {
      const double elapsed_us =
          std::max<double>(1, std::chrono::duration<double, std::micro>(now - last_drain).count());
      const double pace_us = kPaceBytes * elapsed_us / static_cast<double>(got);
      sleep = std::clamp(Micros(static_cast<Micros::rep>(pace_us)), kMinSleep, kMaxSleep);
      last_data = now;
    } else if (now - last_data >= kIdle) {
      pollfd p{fd, POLLIN, 0};
      const int left = deadline.RemainingPollMs();  // -1: no deadline
      if (left == 0) return Status::DeadlineExceeded("read: timed out");
      const int ready = ::poll(&p, 1, left < 0 || left > 100 ? 100 : left);  // slices: look at the stop flag
      if (ready < 0 && errno != EINTR) return Status::FromErrno("read: poll", errno);
      if (ready > 0) {  // data (or EOF) again: back to pacing, measured from now
        last_drain = last_data = Clock::now();
        sleep = Micros(250);
      }
      continue;
    } else {
      sleep = std::min(sleep * 2, kMaxSleep);
    }
    last_drain = now;
    const auto left = deadline.Remaining();
    if (left <= Clock::duration::zero()) return Status::DeadlineExceeded("read: timed out");
    std::this_thread::sleep_for(std::min<Clock::duration>(sleep, left));
  }
}

}  // namespace mailstack::net

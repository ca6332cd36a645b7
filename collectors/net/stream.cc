#include "collectors/net/stream.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace mailstack::net {

namespace {

constexpr int kSliceMs = 100;    // how often a wait looks at the stop flag
constexpr size_t kChunk = 4096;  // bytes per read

std::string OpenSslReason() {
  unsigned long e = ERR_get_error();
  std::string out;
  while (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out = buf;  // keep the last (most specific) one
    e = ERR_get_error();
  }
  return out;
}

bool IsIpLiteral(const std::string& s) {
  unsigned char addr[16];
  return inet_pton(AF_INET, s.c_str(), addr) == 1 || inet_pton(AF_INET6, s.c_str(), addr) == 1;
}

}  // namespace

SSL_CTX* SharedClientContext() {
  static SSL_CTX* ctx = [] {
    SSL_CTX* c = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
    // No session cache: every probe does a full handshake and sees the
    // certificate the server serves now.
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    // A peer that hangs up without close_notify is "closed", not a TLS failure.
    SSL_CTX_set_options(c, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
    return c;
  }();
  return ctx;
}

Stream::Stream(Fd fd, Deadline deadline, const std::atomic<bool>* stop)
    : fd_(std::move(fd)), deadline_(deadline), stop_(stop) {}

// No close_notify when the stream ends (ssl_ is just freed): the socket closes anyway.

Status Stream::Wait(short events, const char* what) {
  pollfd p{fd_.get(), events, 0};
  while (true) {
    if (stop_ != nullptr && stop_->load(std::memory_order_relaxed)) {
      return Status::DeadlineExceeded(std::string(what) + ": stopped");
    }
    int left = deadline_.RemainingPollMs();
    if (left == 0) return Status::DeadlineExceeded(std::string(what) + ": timed out");
    int n = ::poll(&p, 1, left < 0 || left > kSliceMs ? kSliceMs : left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::FromErrno(std::string(what) + ": poll", errno);
    if (n > 0) return Status::Ok();  // ready, or an error/hangup the next call reports
  }
}

Status Stream::TlsError(const char* what, int ret) {
  int err = SSL_get_error(ssl_.get(), ret);
  if (err == SSL_ERROR_ZERO_RETURN) return Status::Unavailable(std::string(what) + ": peer closed the TLS session");
  if (err == SSL_ERROR_SYSCALL) {
    int e = errno;
    std::string reason = OpenSslReason();
    if (!reason.empty()) return Status::IOError(std::string(what) + ": " + reason);
    if (ret == 0 || e == 0 || e == ECONNRESET || e == EPIPE) {
      return Status::Unavailable(std::string(what) + ": peer closed the connection");
    }
    return Status::FromErrno(what, e);
  }
  std::string reason = OpenSslReason();
  return Status::IOError(std::string(what) + ": " + (reason.empty() ? "TLS error " + std::to_string(err) : reason));
}

Status Stream::Fill() {
  if (pos_ > 0) {  // drop what was consumed: the buffer holds at most one partial line
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  char tmp[kChunk];
  while (true) {
    if (ssl_ != nullptr) {
      ERR_clear_error();
      int n = SSL_read(ssl_.get(), tmp, sizeof tmp);
      if (n > 0) {
        buf_.append(tmp, static_cast<size_t>(n));
        return Status::Ok();
      }
      int err = SSL_get_error(ssl_.get(), n);
      if (err == SSL_ERROR_WANT_READ) {
        if (Status s = Wait(POLLIN, "read"); !s.ok()) return s;
        continue;
      }
      if (err == SSL_ERROR_WANT_WRITE) {
        if (Status s = Wait(POLLOUT, "read"); !s.ok()) return s;
        continue;
      }
      return TlsError("read", n);
    }
    ssize_t n = ::recv(fd_.get(), tmp, sizeof tmp, 0);
    if (n > 0) {
      buf_.append(tmp, static_cast<size_t>(n));
      return Status::Ok();
    }
    if (n == 0) return Status::Unavailable("read: peer closed the connection");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (Status s = Wait(POLLIN, "read"); !s.ok()) return s;
      continue;
    }
    if (errno == ECONNRESET) return Status::Unavailable("read: connection reset by peer");
    return Status::FromErrno("read", errno);
  }
}

Result<std::string> Stream::ReadLine(size_t max_len) {
  size_t scanned = 0;  // bytes after pos_ known to hold no LF
  while (true) {
    auto nl = buf_.find('\n', pos_ + scanned);
    if (nl != std::string::npos) {
      if (nl - pos_ > max_len + 1) break;  // +1: the CR
      size_t end = nl;
      if (end > pos_ && buf_[end - 1] == '\r') --end;
      std::string line = buf_.substr(pos_, end - pos_);
      pos_ = nl + 1;
      return line;
    }
    if (buf_.size() - pos_ > max_len + 1) break;
    scanned = buf_.size() - pos_;
    if (Status s = Fill(); !s.ok()) return s;
  }
  return Status::InvalidArgument("read: line longer than " + std::to_string(max_len) + " bytes");
}

Result<std::string> Stream::ReadExact(size_t n) {
  while (buf_.size() - pos_ < n) {
    if (Status s = Fill(); !s.ok()) return s;
  }
  std::string out = buf_.substr(pos_, n);
  pos_ += n;
  return out;
}

Status Stream::Write(std::string_view data) {
  while (!data.empty()) {
    if (ssl_ != nullptr) {
      ERR_clear_error();
      int n = SSL_write(ssl_.get(), data.data(), static_cast<int>(std::min<size_t>(data.size(), 1 << 20)));
      if (n > 0) {
        data.remove_prefix(static_cast<size_t>(n));
        continue;
      }
      int err = SSL_get_error(ssl_.get(), n);
      if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
        if (Status s = Wait(err == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, "write"); !s.ok()) return s;
        continue;
      }
      return TlsError("write", n);
    }
    ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (Status s = Wait(POLLOUT, "write"); !s.ok()) return s;
      continue;
    }
    if (errno == EPIPE || errno == ECONNRESET) return Status::Unavailable("write: peer closed the connection");
    return Status::FromErrno("write", errno);
  }
  return Status::Ok();
}

Status Stream::StartTls(const std::string& server_name) {
  if (ssl_ != nullptr) return Status::InvalidArgument("TLS: already started");
  if (Buffered() != 0) {
    // No byte count: it is what one read happened to return.
    return Status::IOError("TLS: the server sent data before the handshake (possible STARTTLS injection)");
  }
  ssl_.reset(SSL_new(SharedClientContext()));
  if (ssl_ == nullptr) return Status::Internal("TLS: SSL_new: " + OpenSslReason());
  SSL_set_fd(ssl_.get(), fd_.get());
  if (!server_name.empty() && !IsIpLiteral(server_name)) SSL_set_tlsext_host_name(ssl_.get(), server_name.c_str());
  buf_.clear();
  pos_ = 0;
  while (true) {
    ERR_clear_error();
    int r = SSL_connect(ssl_.get());
    if (r == 1) return Status::Ok();
    int err = SSL_get_error(ssl_.get(), r);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      if (Status s = Wait(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, "TLS handshake"); !s.ok()) return s;
      continue;
    }
    return TlsError("TLS handshake", r);
  }
}

std::string Stream::TlsVersion() const { return ssl_ != nullptr ? SSL_get_version(ssl_.get()) : ""; }

std::vector<X509Ptr> Stream::PeerChain() const {
  std::vector<X509Ptr> out;
  if (ssl_ == nullptr) return out;
  // On the client side the sent chain includes the leaf.
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl_.get());
  for (int i = 0; chain != nullptr && i < sk_X509_num(chain); ++i) {
    X509* c = sk_X509_value(chain, i);
    X509_up_ref(c);
    out.emplace_back(c);
  }
  if (out.empty()) {
    if (X509* leaf = SSL_get1_peer_certificate(ssl_.get())) out.emplace_back(leaf);
  }
  return out;
}

}  // namespace mailstack::net

// A deadline-bounded byte stream over a connected socket, plain or TLS, for
// line protocols (SMTP, IMAP, POP3, ManageSieve) and small binary ones
// (milter). The socket is non-blocking; every wait is a poll(2) bounded by the
// deadline and cut into short slices so a stop request ends it early. Reads
// are buffered; StartTls() refuses to begin a handshake while plaintext bytes
// the peer sent after its "go ahead" are still buffered (STARTTLS command
// injection, CVE-2011-0411 class).
//
// Errors: DeadlineExceeded for the deadline or a stop request, Unavailable
// when the peer closed, InvalidArgument for a line over the limit, IOError for
// socket and TLS failures (with the OpenSSL reason).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/core/deadline.h"
#include "collectors/core/status.h"
#include "collectors/net/socket.h"
#include "collectors/tls/openssl.h"

namespace mailstack::net {

// One SSL_CTX for every probe: TLS client, no verification during the
// handshake (certificates are judged afterwards, so a bad one is still seen).
// Thread-safe to share.
SSL_CTX* SharedClientContext();

class Stream {
 public:
  // `stop` may be null.
  Stream(Fd fd, Deadline deadline, const std::atomic<bool>* stop = nullptr);
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // One line ending in LF, without the CR LF / LF. A line longer than
  // `max_len` bytes is an error (InvalidArgument), as is EOF mid-line.
  Result<std::string> ReadLine(size_t max_len);
  // Exactly `n` bytes.
  Result<std::string> ReadExact(size_t n);
  Status Write(std::string_view data);

  // TLS client handshake on the connection. `server_name` is sent as SNI
  // unless it is an IP literal or empty.
  Status StartTls(const std::string& server_name);
  bool tls() const { return ssl_ != nullptr; }
  // After StartTls: protocol version ("TLSv1.3") and the chain as the server
  // sent it, leaf first.
  std::string TlsVersion() const;
  std::vector<X509Ptr> PeerChain() const;
  // Bytes received but not yet consumed.
  size_t Buffered() const { return buf_.size() - pos_; }

  // Makes the deadline earlier (never later), e.g. for a polite QUIT.
  void Tighten(Deadline d) {
    if (d.at() < deadline_.at()) deadline_ = d;
  }

 private:
  // Reads at least one byte into buf_.
  Status Fill();
  // Waits until the socket is readable (events=POLLIN) or writable.
  Status Wait(short events, const char* what);
  Status TlsError(const char* what, int ret);

  Fd fd_;
  Deadline deadline_;
  const std::atomic<bool>* stop_;
  SslPtr ssl_;
  std::string buf_;
  size_t pos_ = 0;
};

}  // namespace mailstack::net

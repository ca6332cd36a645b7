// The server's side of the fake mail peers: a throwaway certificate and key
// (TestPki), and one connection, plain or TLS, line by line (Peer). Every
// read is bounded (SO_RCVTIMEO 3 s), so a peer never outlives a broken test.
// Header-only: used by the probe and session tests, which link OpenSSL.
#pragma once

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <ctime>
#include <string>

#include "collectors/tls/openssl.h"
#include "tests/support/fake_server.h"

namespace mailstack::testing {

// A self-signed P-256 certificate for "mail.test" (CN and DNS SAN), valid
// from an hour ago for a day, and a TLS server context serving it.
struct TestPki {
  EvpPkeyPtr key;
  X509Ptr cert;
  SslCtxPtr ctx;
  std::string pem;  // the certificate, PEM

  TestPki() : key(EVP_EC_gen("P-256")), cert(X509_new()), ctx(SSL_CTX_new(TLS_server_method())) {
    X509* c = cert.get();
    X509_set_version(c, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c), 4242);
    time_t now = time(nullptr);  // one clock read: notAfter - notBefore is exactly 90000 s
    X509_time_adj(X509_getm_notBefore(c), -3600, &now);
    X509_time_adj(X509_getm_notAfter(c), 86400, &now);
    X509_set_pubkey(c, key.get());
    X509_NAME* name = X509_get_subject_name(c);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("mail.test"), -1, -1,
                               0);
    X509_set_issuer_name(c, name);
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, c, c, nullptr, nullptr, 0);
    X509ExtensionPtr san(X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, "DNS:mail.test"));
    X509_add_ext(c, san.get(), -1);
    X509_sign(c, key.get(), EVP_sha256());
    SSL_CTX_use_certificate(ctx.get(), c);
    SSL_CTX_use_PrivateKey(ctx.get(), key.get());
    BioPtr bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_X509(bio.get(), c);
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    pem.assign(data, static_cast<size_t>(len));
  }
};

// One for the whole test binary (never freed: peers of other tests may still use it).
inline TestPki& Pki() {
  static TestPki* pki = new TestPki();
  return *pki;
}

// The server's side of one connection: plain or TLS, line-oriented.
class Peer {
 public:
  explicit Peer(int fd) : fd_(fd) {
    timeval tv{3, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  bool Send(const std::string& s) {
    if (ssl_) return SSL_write(ssl_.get(), s.data(), static_cast<int>(s.size())) == static_cast<int>(s.size());
    return FakeServer::WriteAll(fd_, s);
  }
  // One line without CR LF; "" on EOF or error.
  std::string Line() {
    std::string line;
    char c;
    while (Byte(&c)) {
      if (c == '\n') break;
      line += c;
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  }
  // The bytes up to and including `end` (what arrived, on EOF or error).
  std::string Until(const std::string& end) {
    std::string out;
    char c;
    while (Byte(&c)) {
      out += c;
      if (out.size() >= end.size() && out.compare(out.size() - end.size(), end.size(), end) == 0) break;
    }
    return out;
  }
  // Exactly `n` bytes (fewer on EOF or error), plain connections only.
  std::string Bytes(size_t n) {
    std::string out(n, '\0');
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::recv(fd_, out.data() + got, n - got, 0);
      if (r <= 0) return out.substr(0, got);
      got += static_cast<size_t>(r);
    }
    return out;
  }
  // The TLS server handshake; `sni` gets the name the client sent.
  bool Accept(std::string* sni = nullptr) {
    ssl_.reset(SSL_new(Pki().ctx.get()));
    SSL_set_fd(ssl_.get(), fd_);
    bool ok = SSL_accept(ssl_.get()) == 1;
    if (ok && sni) {
      const char* name = SSL_get_servername(ssl_.get(), TLSEXT_NAMETYPE_host_name);
      *sni = name ? name : "";
    }
    ERR_clear_error();
    return ok;
  }

 private:
  bool Byte(char* c) {
    int n = ssl_ ? SSL_read(ssl_.get(), c, 1) : static_cast<int>(::recv(fd_, c, 1, 0));
    return n > 0;
  }

  int fd_;
  SslPtr ssl_;
};

}  // namespace mailstack::testing

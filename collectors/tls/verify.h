// Trust anchors and certificate verification: chains against a trust store,
// and a certificate against the host name a client asked for.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "collectors/core/status.h"
#include "collectors/tls/openssl.h"

namespace mailstack {

// A loaded trust store, shared by the runs that use it.
using SharedX509Store = std::shared_ptr<X509_STORE>;

// Trust anchors per CA file ("" = the system store), loaded once and again
// only when the file changes (inode, size or mtime): loading the system
// bundle costs milliseconds of CPU, more than a whole probe. Thread-safe.
class TrustStores {
 public:
  Result<SharedX509Store> Get(const std::string& ca_file);
  // Takes over `from`'s loaded stores (a reload's successor). Each is still
  // checked against its file on the next Get.
  void TakeFrom(TrustStores& from);

 private:
  struct Entry {
    SharedX509Store store;
    ino_t ino = 0;
    off_t size = 0;
    int64_t mtime_ns = 0;
  };
  std::mutex mu_;
  std::map<std::string, Entry> cache_;
};

// Whether `cert` chains to a trust anchor of `store` through `untrusted`
// (may be null) and is within its validity window. On failure `error` says
// why (OpenSSL's text).
bool VerifyChain(X509_STORE* store, X509* cert, STACK_OF(X509) * untrusted, std::string* error);

// Whether `cert` is for `name`: an IP literal against IP SANs, a DNS name
// against DNS SANs (wildcards as RFC 6125) or, without SANs, the CN.
bool CertificateMatchesName(X509* cert, const std::string& name);

}  // namespace mailstack

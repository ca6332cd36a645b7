// The mailstack_tls_certificate_* families, shared by the certificates
// collector (source="file") and the probes collector (source="probe").
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/bio.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "collectors/core/metrics.h"
#include "collectors/core/status.h"
#include "collectors/net/stream.h"

namespace mailstack {

inline constexpr GaugeFamily<3> kTlsNotAfter{"mailstack_tls_certificate_not_after_timestamp_seconds",
                                             "Unix time the certificate expires (notAfter).", "source", "name",
                                             "index"};
inline constexpr GaugeFamily<3> kTlsNotBefore{"mailstack_tls_certificate_not_before_timestamp_seconds",
                                              "Unix time the certificate becomes valid (notBefore).", "source", "name",
                                              "index"};
inline constexpr GaugeFamily<3> kTlsExpiry{"mailstack_tls_certificate_expiry_seconds",
                                           "Seconds until the certificate expires; negative once expired.", "source",
                                           "name", "index"};
inline constexpr GaugeFamily<3> kTlsValid{
    "mailstack_tls_certificate_valid",
    "1 if the certificate is within its validity window and its chain (and, when probed, "
    "the host name) verifies.",
    "source", "name", "index"};
inline constexpr GaugeFamily<7> kTlsInfo{
    "mailstack_tls_certificate_info",
    "Identity of the certificate (subject, issuer, serial, SHA-256 fingerprint); always 1.",
    "source",
    "name",
    "index",
    "subject",
    "issuer",
    "serial",
    "sha256"};

// Emits not_after, not_before, expiry, valid and info of `cert` with labels
// {source, name, index}. `now` is Unix seconds.
void EmitCertificate(MetricSink& sink, std::string_view source, std::string_view name, std::string_view index,
                     X509* cert, bool valid, int64_t now);

// SHA-256 fingerprint of the DER encoding, lower-case hex.
std::string CertificateSha256(X509* cert);

// For PEM reads: never ask for a passphrase (OpenSSL's default prompts on
// the terminal and would block the collector).
int NoPassphrase(char* buf, int size, int rwflag, void* u);

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
// Opens a regular file for reading (a FIFO or device would block the open);
// errors name the path and the errno text.
Result<BioPtr> OpenRegularFile(const std::string& path);

// Every certificate of a PEM file, in order (a fullchain's leaf first).
// Errors: the file cannot be opened, or "<path>: no PEM certificate in the file".
Result<std::vector<net::X509Ptr>> ReadPemCertificates(const std::string& path);

using X509StorePtr = std::shared_ptr<X509_STORE>;

// Trust anchors per CA file ("" = the system store), loaded once and again
// only when the file changes (inode, size or mtime): loading the system
// bundle costs milliseconds of CPU, more than a whole probe. Thread-safe.
class TrustStores {
 public:
  Result<X509StorePtr> Get(const std::string& ca_file);
  // Takes over `from`'s loaded stores (a reload's successor). Each is still
  // checked against its file on the next Get.
  void TakeFrom(TrustStores& from);

 private:
  struct Entry {
    X509StorePtr store;
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

// The mailstack_tls_certificate_* families, shared by the certificates
// collector (source="file") and the probes collector (source="probe"), and
// the one place a chain is judged (verified, the leaf's name checked) and
// emitted.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/core/metrics.h"
#include "collectors/tls/openssl.h"

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

// What JudgeAndEmitChain found wrong with the leaf (chain[0]).
struct LeafVerdict {
  bool verifies = false;       // chains to an anchor of the store (false without a store)
  std::string verify_error;    // why not, OpenSSL's text ("" without a store)
  bool name_mismatch = false;  // verifies, but is not for `host`
};

// Judges every certificate of `chain` (leaf first) and emits it with index
// 0, 1, ...: valid when it chains to an anchor of `store` through the other
// certificates of `chain` (the untrusted intermediates) and is within its
// validity window; a null `store` (none could be loaded) makes every one
// invalid. When `host` is not empty the leaf must also be for it.
LeafVerdict JudgeAndEmitChain(MetricSink& sink, std::string_view source, std::string_view name,
                              const std::vector<X509Ptr>& chain, X509_STORE* store, const std::string& host,
                              int64_t now);

}  // namespace mailstack

// The mailstack_tls_certificate_* families, shared by the certificates
// collector (source="file") and the probes collector (source="probe").
#pragma once

#include <string_view>

#include <openssl/x509.h>

#include "collectors/core/metrics.h"

namespace mailstack {

extern const MetricDesc kTlsNotAfter;
extern const MetricDesc kTlsNotBefore;
extern const MetricDesc kTlsExpiry;
extern const MetricDesc kTlsValid;
extern const MetricDesc kTlsInfo;

// Emits not_after, not_before, expiry, valid and info of `cert` with labels
// {source, name, index}. `now` is Unix seconds.
void EmitCertificate(MetricSink& sink, std::string_view source, std::string_view name, std::string_view index,
                     X509* cert, bool valid, int64_t now);

// SHA-256 fingerprint of the DER encoding, lower-case hex.
std::string CertificateSha256(X509* cert);

}  // namespace mailstack

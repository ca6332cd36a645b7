#include "collectors/tls/certificate_metrics.h"

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <ctime>
#include <string>

#include "collectors/tls/verify.h"

namespace mailstack {

namespace {

int64_t ToUnix(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

std::string NameToString(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len > 0 ? len : 0));
}

std::string Serial(X509* x) {
  BignumPtr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), nullptr));
  OpenSslMemPtr<char> hex(bn ? BN_bn2hex(bn.get()) : nullptr);
  return hex ? hex.get() : "";
}

}  // namespace

std::string CertificateSha256(X509* x) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  X509_digest(x, EVP_sha256(), md, &len);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

void EmitCertificate(MetricSink& sink, std::string_view source, std::string_view name, std::string_view index, X509* c,
                     bool valid, int64_t now) {
  const LabelValues<3> labels{source, name, index};
  const int64_t not_after = ToUnix(X509_get0_notAfter(c));
  sink.Gauge(kTlsNotAfter, labels, static_cast<double>(not_after));
  sink.Gauge(kTlsNotBefore, labels, static_cast<double>(ToUnix(X509_get0_notBefore(c))));
  sink.Gauge(kTlsExpiry, labels, static_cast<double>(not_after - now));
  sink.Gauge(kTlsValid, labels, valid ? 1 : 0);
  const std::string subject = NameToString(X509_get_subject_name(c));
  const std::string issuer = NameToString(X509_get_issuer_name(c));
  const std::string serial = Serial(c);
  const std::string sha256 = CertificateSha256(c);
  sink.Gauge(kTlsInfo, {source, name, index, subject, issuer, serial, sha256}, 1);
}

LeafVerdict JudgeAndEmitChain(MetricSink& sink, std::string_view source, std::string_view name,
                              const std::vector<X509Ptr>& chain, X509_STORE* store, const std::string& host,
                              int64_t now) {
  LeafVerdict leaf;
  X509StackViewPtr untrusted(sk_X509_new_null());  // the certificates stay owned by `chain`
  for (const auto& c : chain) sk_X509_push(untrusted.get(), c.get());
  for (size_t k = 0; k < chain.size(); ++k) {
    X509* c = chain[k].get();
    std::string error;
    bool valid = store != nullptr && VerifyChain(store, c, untrusted.get(), &error);
    if (k == 0) {
      leaf.verifies = valid;
      leaf.verify_error = error;
      if (valid && !host.empty() && !CertificateMatchesName(c, host)) {
        valid = false;
        leaf.name_mismatch = true;
      }
    }
    EmitCertificate(sink, source, name, std::to_string(k), c, valid, now);
  }
  return leaf;
}

}  // namespace mailstack

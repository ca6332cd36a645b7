#include "collectors/tls_metrics.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <ctime>
#include <string>

namespace mailstack {

namespace {

int64_t ToUnix(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

std::string NameToString(const X509_NAME* name) {
  BIO* bio = BIO_new(BIO_s_mem());
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(len > 0 ? len : 0));
  BIO_free(bio);
  return out;
}

std::string Serial(X509* x) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), nullptr);
  char* hex = bn ? BN_bn2hex(bn) : nullptr;
  std::string out = hex ? hex : "";
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
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

int NoPassphrase(char*, int, int, void*) { return -1; }

Result<BioPtr> OpenRegularFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Status::FromErrno(path, errno);
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument(path + ": not a regular file");
  BIO* in = BIO_new_file(path.c_str(), "r");
  if (in == nullptr) {
    int err = errno;
    ERR_clear_error();
    return Status::FromErrno(path, err ? err : EIO);
  }
  return BioPtr(in);
}

Result<std::vector<net::X509Ptr>> ReadPemCertificates(const std::string& path) {
  auto in = OpenRegularFile(path);
  if (!in.ok()) return in.status();
  std::vector<net::X509Ptr> certs;
  while (X509* c = PEM_read_bio_X509(in->get(), nullptr, NoPassphrase, nullptr)) certs.emplace_back(c);
  ERR_clear_error();  // the end of the file leaves PEM_R_NO_START_LINE
  if (certs.empty()) return Status::InvalidArgument(path + ": no PEM certificate in the file");
  return certs;
}

void TrustStores::TakeFrom(TrustStores& from) {
  if (&from == this) return;
  std::scoped_lock lock(mu_, from.mu_);
  cache_ = std::move(from.cache_);
  from.cache_.clear();
}

Result<X509StorePtr> TrustStores::Get(const std::string& ca_file) {
  const std::string path = ca_file.empty() ? X509_get_default_cert_file() : ca_file;
  struct stat st {};
  const bool have = ::stat(path.c_str(), &st) == 0;
  if (!have && !ca_file.empty()) return Status::FromErrno("CA file " + ca_file, errno);
  const int64_t mtime_ns = have ? static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec : 0;
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = cache_[ca_file];
  if (e.store && e.ino == st.st_ino && e.size == st.st_size && e.mtime_ns == mtime_ns) return e.store;
  X509StorePtr store(X509_STORE_new(), &X509_STORE_free);
  int loaded =
      ca_file.empty() ? X509_STORE_set_default_paths(store.get()) : X509_STORE_load_file(store.get(), ca_file.c_str());
  ERR_clear_error();
  if (loaded != 1) return Status::InvalidArgument("cannot load trust anchors from " + path);
  e = Entry{store, have ? st.st_ino : 0, have ? st.st_size : 0, mtime_ns};
  return store;
}

bool VerifyChain(X509_STORE* store, X509* cert, STACK_OF(X509) * untrusted, std::string* error) {
  X509_STORE_CTX* vctx = X509_STORE_CTX_new();
  bool ok = X509_STORE_CTX_init(vctx, store, cert, untrusted) == 1 && X509_verify_cert(vctx) == 1;
  if (!ok && error != nullptr) *error = X509_verify_cert_error_string(X509_STORE_CTX_get_error(vctx));
  X509_STORE_CTX_free(vctx);
  ERR_clear_error();
  return ok;
}

bool CertificateMatchesName(X509* cert, const std::string& name) {
  unsigned char addr[16];
  if (inet_pton(AF_INET, name.c_str(), addr) == 1 || inet_pton(AF_INET6, name.c_str(), addr) == 1) {
    return X509_check_ip_asc(cert, name.c_str(), 0) == 1;
  }
  return X509_check_host(cert, name.data(), name.size(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, nullptr) == 1;
}

}  // namespace mailstack

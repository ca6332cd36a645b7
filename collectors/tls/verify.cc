#include "collectors/tls/verify.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <cerrno>

namespace mailstack {

void TrustStores::TakeFrom(TrustStores& from) {
  if (&from == this) return;
  std::scoped_lock lock(mu_, from.mu_);
  cache_ = std::move(from.cache_);
  from.cache_.clear();
}

Result<SharedX509Store> TrustStores::Get(const std::string& ca_file) {
  const std::string path = ca_file.empty() ? X509_get_default_cert_file() : ca_file;
  struct stat st {};
  const bool have = ::stat(path.c_str(), &st) == 0;
  if (!have && !ca_file.empty()) return Status::FromErrno("CA file " + ca_file, errno);
  const int64_t mtime_ns = have ? static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec : 0;
  std::lock_guard<std::mutex> lock(mu_);
  Entry& e = cache_[ca_file];
  if (e.store && e.ino == st.st_ino && e.size == st.st_size && e.mtime_ns == mtime_ns) return e.store;
  X509StorePtr store(X509_STORE_new());
  int loaded =
      ca_file.empty() ? X509_STORE_set_default_paths(store.get()) : X509_STORE_load_file(store.get(), ca_file.c_str());
  ERR_clear_error();
  if (loaded != 1) return Status::InvalidArgument("cannot load trust anchors from " + path);
  e = Entry{SharedX509Store(std::move(store)), have ? st.st_ino : 0, have ? st.st_size : 0, mtime_ns};
  return e.store;
}

bool VerifyChain(X509_STORE* store, X509* cert, STACK_OF(X509) * untrusted, std::string* error) {
  X509StoreCtxPtr vctx(X509_STORE_CTX_new());
  bool ok = X509_STORE_CTX_init(vctx.get(), store, cert, untrusted) == 1 && X509_verify_cert(vctx.get()) == 1;
  if (!ok && error != nullptr) *error = X509_verify_cert_error_string(X509_STORE_CTX_get_error(vctx.get()));
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

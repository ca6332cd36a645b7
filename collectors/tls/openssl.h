// Owners of OpenSSL objects: one std::unique_ptr alias per type, each with
// the type's own free function, so no code path calls X509_free & co. by
// hand. Header-only (CMake target mailstack_openssl, an INTERFACE library)
// so that collectors/net may use it below the collectors that live here.
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <memory>

namespace mailstack {

namespace openssl_internal {
// Calls Free on the pointer; Free is a function, not a macro.
template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};
struct OpenSslFree {
  void operator()(void* p) const { OPENSSL_free(p); }  // a macro: needs a function around it
};
// A stack that owns its certificates.
struct X509StackFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_pop_free(s, X509_free); }
};
// A stack whose certificates are owned elsewhere.
struct X509StackViewFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_free(s); }
};
}  // namespace openssl_internal

using X509Ptr = std::unique_ptr<X509, openssl_internal::Deleter<&X509_free>>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, openssl_internal::Deleter<&X509_EXTENSION_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, openssl_internal::Deleter<&X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, openssl_internal::Deleter<&X509_STORE_CTX_free>>;
using X509StackPtr = std::unique_ptr<STACK_OF(X509), openssl_internal::X509StackFree>;
using X509StackViewPtr = std::unique_ptr<STACK_OF(X509), openssl_internal::X509StackViewFree>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, openssl_internal::Deleter<&EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, openssl_internal::Deleter<&BIO_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, openssl_internal::Deleter<&BN_free>>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, openssl_internal::Deleter<&SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, openssl_internal::Deleter<&SSL_free>>;
// Memory OpenSSL allocated for the caller (BN_bn2hex, i2d_* output).
template <typename T>
using OpenSslMemPtr = std::unique_ptr<T, openssl_internal::OpenSslFree>;

}  // namespace mailstack

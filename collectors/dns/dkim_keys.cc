#include "collectors/dns/dkim_keys.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <memory>

#include "collectors/parse/dkim_record.h"
#include "collectors/tls/openssl.h"
#include "collectors/tls/pem.h"

namespace mailstack {
namespace {

using PkeyPtr = EvpPkeyPtr;

std::string PublicDer(EVP_PKEY* k) {
  unsigned char* raw = nullptr;
  const int len = i2d_PUBKEY(k, &raw);
  OpenSslMemPtr<unsigned char> der(raw);
  return len > 0 ? std::string(reinterpret_cast<char*>(der.get()), static_cast<size_t>(len)) : "";
}

// The key published in p= (SubjectPublicKeyInfo or PKCS#1 RSAPublicKey for
// rsa, the raw 32 bytes for ed25519); null if it is not a usable key.
PkeyPtr DecodeDnsKey(const dkim::KeyRecord& rec) {
  auto der = dkim::Base64Decode(rec.public_key_b64);
  if (!der.ok() || der->empty()) return nullptr;
  const auto* p = reinterpret_cast<const unsigned char*>(der->data());
  if (rec.key_type == "ed25519") {
    if (der->size() != 32) return nullptr;
    return PkeyPtr(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, p, 32));
  }
  PkeyPtr k(d2i_PUBKEY(nullptr, &p, static_cast<long>(der->size())));
  if (k == nullptr) {
    p = reinterpret_cast<const unsigned char*>(der->data());
    k.reset(d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, static_cast<long>(der->size())));
  }
  ERR_clear_error();
  if (k != nullptr && EVP_PKEY_get_base_id(k.get()) != EVP_PKEY_RSA) return nullptr;
  return k;
}

// A PEM private key, else a PEM public key; null if neither.
PkeyPtr ReadPemKey(const std::string& text) {
  BioPtr mem(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  PkeyPtr k(PEM_read_bio_PrivateKey(mem.get(), nullptr, NoPassphrase, nullptr));  // encrypted: no prompt, an error
  if (k == nullptr) {
    mem.reset(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
    k.reset(PEM_read_bio_PUBKEY(mem.get(), nullptr, NoPassphrase, nullptr));
  }
  ERR_clear_error();
  return k;
}

// opendkim-genkey's <selector>.txt: the record in zone-file syntax; the key
// is what the quoted strings say once joined.
std::string ZoneFileStrings(const std::string& text) {
  std::string record;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == ';') {  // a comment outside quotes runs to the end of the line
      while (i < text.size() && text[i] != '\n') ++i;
      continue;
    }
    if (text[i] != '"') continue;
    for (++i; i < text.size() && text[i] != '"'; ++i) {
      if (text[i] == '\\' && i + 1 < text.size()) ++i;
      record += text[i];
    }
  }
  return record;
}

}  // namespace

namespace dns {

DkimKeyCheck CheckDkimKey(const std::vector<std::string>& txt, const std::string& where, const std::string& key_file) {
  DkimKeyCheck c;
  c.present = !txt.empty();
  if (txt.size() != 1) {
    c.problems.push_back(where + (txt.empty() ? ": no record" : ": more than one record"));
    return c;
  }
  auto rec = dkim::Parse(txt[0]);
  PkeyPtr key = rec.ok() ? DecodeDnsKey(*rec) : nullptr;
  c.valid = key != nullptr;
  if (!rec.ok()) {
    c.problems.push_back(where + ": " + rec.status().message());
  } else if (key == nullptr) {
    c.problems.push_back(where + ": p= is not a usable " + rec->key_type + " key");
  }
  if (key) c.bits = EVP_PKEY_get_bits(key.get());
  if (key_file.empty()) return c;
  auto local = DkimPublicKeyFromFile(key_file);
  if (!local.ok()) {
    c.file_error = true;
    c.problems.push_back(local.status().message());
    return c;
  }
  c.matches = key && PublicDer(key.get()) == *local ? 1 : 0;
  ERR_clear_error();
  if (c.matches == 0) c.problems.push_back(where + ": the key is not the one in " + key_file);
  return c;
}

}  // namespace dns

Result<std::string> DkimPublicKeyFromFile(const std::string& path) {
  auto in = OpenRegularFile(path);
  if (!in.ok()) return in.status();
  std::string text;
  char buf[4096];
  int n;
  while ((n = BIO_read(in->get(), buf, sizeof buf)) > 0 && text.size() < 65536) {
    text.append(buf, static_cast<size_t>(n));
  }
  ERR_clear_error();
  if (text.find("-----BEGIN") != std::string::npos) {
    PkeyPtr key = ReadPemKey(text);
    if (!key) return Status::InvalidArgument(path + ": no readable PEM private or public key");
    return PublicDer(key.get());
  }
  auto rec = dkim::Parse(ZoneFileStrings(text));
  if (!rec.ok()) return Status::InvalidArgument(path + ": not a PEM key nor a DKIM record: " + rec.status().message());
  PkeyPtr key = DecodeDnsKey(*rec);
  if (!key) return Status::InvalidArgument(path + ": the record's p= is not a usable key");
  return PublicDer(key.get());
}

}  // namespace mailstack

// DKIM key records (RFC 6376 3.6.1, RFC 8463): the key a selector publishes,
// whether it is usable, its size, and whether it is the public half of the
// configured key_file.
#pragma once

#include <string>
#include <vector>

#include "collectors/core/status.h"

namespace mailstack {

// The public key (DER SubjectPublicKeyInfo) in a DKIM key_file: a PEM
// private key (opendkim's <selector>.private; encrypted keys are an error,
// never a passphrase prompt), a PEM public key, or opendkim-genkey's
// <selector>.txt record (world-readable, so the exporter needs no access to
// the private key).
Result<std::string> DkimPublicKeyFromFile(const std::string& path);

namespace dns {

// What one selector's TXT answer says.
struct DkimKeyCheck {
  bool present = false;               // a record exists
  bool valid = false;                 // exactly one, well-formed, with a usable rsa or ed25519 key
  int bits = -1;                      // -1: no usable key
  int matches = -1;                   // -1: no key_file (or it could not be read)
  bool file_error = false;            // key_file could not be read as a key
  std::vector<std::string> problems;  // stable texts for the domain's problem log
};

// Checks the TXT records of <selector>._domainkey.<domain> (`where` names
// it in problems), and the key against `key_file` unless that is empty.
DkimKeyCheck CheckDkimKey(const std::vector<std::string>& txt, const std::string& where, const std::string& key_file);

}  // namespace dns
}  // namespace mailstack

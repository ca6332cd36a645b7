// DKIM key record parser (RFC 6376 section 3.6.1, RFC 8463 for ed25519). Pure.
#pragma once

#include <string>
#include <string_view>

#include "collectors/core/status.h"

namespace mailstack::dkim {

struct KeyRecord {
  std::string version;         // "DKIM1" or empty if v= absent (v= is optional; if present it MUST be first and DKIM1)
  std::string key_type;        // "rsa" (default) or "ed25519"
  std::string public_key_b64;  // p= with all whitespace removed; empty = revoked key
  std::string hash_algs;       // h= as written, may be empty
  std::string flags;           // t= as written
  std::string services;        // s= as written
};

// Parses a DKIM TXT record (the strings of one TXT RR already concatenated). Tag list syntax
// (tag=value; ...), whitespace around tags and values allowed (FWS), duplicate tags are an error,
// unknown tags are ignored. Errors (InvalidArgument): syntax, v= not first or not DKIM1, k= not rsa or
// ed25519, p= missing, p= not valid base64. Message: "DKIM: <problem>".
Result<KeyRecord> Parse(std::string_view txt);

// Standard base64 decode (with padding; whitespace already removed). Error on bad characters/length.
Result<std::string> Base64Decode(std::string_view b64);

}  // namespace mailstack::dkim

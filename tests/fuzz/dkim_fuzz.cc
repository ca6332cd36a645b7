// Fuzz target: the DKIM key record parser and the base64 decoder. Invariants: no crash; a parsed
// record has key type rsa or ed25519, a version that is empty or DKIM1, and a p= that is empty or
// decodes; a decode that succeeds yields exactly 3/4 of the input minus the padding.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "collectors/parse/dkim_record.h"

using namespace mailstack::dkim;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto rec = Parse(in);
  if (rec.ok()) {
    if (rec->key_type != "rsa" && rec->key_type != "ed25519") __builtin_trap();
    if (!rec->version.empty() && rec->version != "DKIM1") __builtin_trap();
    if (!rec->public_key_b64.empty() && !Base64Decode(rec->public_key_b64).ok()) __builtin_trap();
    if (rec->public_key_b64.size() > in.size()) __builtin_trap();
  }
  auto raw = Base64Decode(in);
  if (raw.ok()) {
    size_t pad = 0;
    if (!in.empty() && in.back() == '=') ++pad;
    if (in.size() > 1 && in[in.size() - 2] == '=') ++pad;
    if (raw->size() != in.size() / 4 * 3 - pad) __builtin_trap();
  }
  return 0;
}

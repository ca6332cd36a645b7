// Fuzz target: the DMARC, MTA-STS and TLS-RPT record parsers, each on the whole input. Invariants: no
// crash; a parsed record was recognised by its Is...Record(); DMARC values are within their sets and
// pct within 0..100; an MTA-STS id is 1-32 letters and digits; TLS-RPT gives at least one URI.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "collectors/parse/dmarc.h"

using namespace mailstack::dmarc;

namespace {

bool OneOf(const std::string& v, std::initializer_list<const char*> set) {
  for (const char* s : set) {
    if (v == s) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto d = Parse(in);
  if (d.ok()) {
    if (!IsDmarcRecord(in)) __builtin_trap();
    if (!OneOf(d->policy, {"none", "quarantine", "reject"})) __builtin_trap();
    if (!OneOf(d->subdomain_policy, {"", "none", "quarantine", "reject"})) __builtin_trap();
    if (d->pct < 0 || d->pct > 100) __builtin_trap();
    if (!OneOf(d->adkim, {"r", "s"}) || !OneOf(d->aspf, {"r", "s"})) __builtin_trap();
    for (const auto* list : {&d->rua, &d->ruf}) {
      for (const std::string& uri : *list) {
        if (uri.empty() || uri.size() > in.size()) __builtin_trap();
      }
    }
  }
  auto sts = ParseMtaSts(in);
  if (sts.ok()) {
    if (!IsMtaStsRecord(in) || sts->empty() || sts->size() > 32) __builtin_trap();
  }
  auto rpt = ParseTlsRpt(in);
  if (rpt.ok()) {
    if (!IsTlsRptRecord(in) || rpt->empty()) __builtin_trap();
  }
  return 0;
}

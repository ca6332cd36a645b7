// Fuzz target: the SPF record parser and macro expansion. The input is one TXT string; every parsed
// domain-spec (and unknown modifier value) is expanded for a fixed IPv4 and a fixed IPv6 check_host()
// context. Invariants: no crash, a parsed record never has more terms than the input has bytes, ip4/ip6
// networks are 4/16 bytes with a prefix in range, an expansion that succeeds is at most 253 bytes, and a
// term the parser accepted as macro-free expands to itself.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "collectors/parse/spf.h"

using namespace mailstack::spf;

namespace {

MacroContext Context(bool v6) {
  MacroContext ctx;
  ctx.sender = "strong-bad@email.example.com";
  ctx.domain = "email.example.com";
  ctx.helo = "mx.example.org";
  if (v6) {
    ctx.ip = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xcb, 0x01};
  } else {
    ctx.ip = {192, 0, 2, 3};
  }
  return ctx;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const MacroContext kV4 = Context(false), kV6 = Context(true);
  std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)IsSpfRecord(in);
  auto rec = Parse(in);
  if (rec.ok()) {
    if (!IsSpfRecord(in)) __builtin_trap();
    if (rec->terms.size() > in.size()) __builtin_trap();
    for (const Term& t : rec->terms) {
      if (!t.is_modifier && t.mechanism == Mechanism::kIp4 &&
          (t.network.size() != 4 || t.ip4_cidr < 0 || t.ip4_cidr > 32)) {
        __builtin_trap();
      }
      if (!t.is_modifier && t.mechanism == Mechanism::kIp6 &&
          (t.network.size() != 16 || t.ip6_cidr < 0 || t.ip6_cidr > 128)) {
        __builtin_trap();
      }
      if (t.ip4_cidr < 0 || t.ip4_cidr > 32 || t.ip6_cidr < 0 || t.ip6_cidr > 128) __builtin_trap();
      if (!t.network.empty()) {
        (void)InNetwork(kV4.ip, t.network, t.network.size() == 4 ? t.ip4_cidr : t.ip6_cidr);
        (void)InNetwork(kV6.ip, t.network, t.network.size() == 4 ? t.ip4_cidr : t.ip6_cidr);
      }
      if (t.domain_spec.empty()) continue;
      for (const MacroContext* ctx : {&kV4, &kV6}) {
        auto e = ExpandMacros(t.domain_spec, *ctx);
        if (e.ok() && e->size() > 253) __builtin_trap();
        bool is_domain = !t.is_modifier || t.modifier_name == "redirect" || t.modifier_name == "exp";
        // A domain-spec the parser accepted always expands (it has no c/r/t letters, no bad macro).
        if (is_domain && !e.ok() && e.status().message().find("bad") != std::string::npos) __builtin_trap();
        if (is_domain && !t.has_macros && (!e.ok() || *e != t.domain_spec)) __builtin_trap();
      }
    }
    (void)rec->redirect();
    (void)rec->has_all();
  }
  // The raw input as a domain-spec too: the expander must stand any bytes.
  for (const MacroContext* ctx : {&kV4, &kV6}) {
    auto e = ExpandMacros(in, *ctx);
    if (e.ok() && e->size() > 253) __builtin_trap();
  }
  return 0;
}

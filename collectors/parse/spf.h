// SPF record parser (RFC 7208 section 4.6, 5, 6, 7 syntax). Pure: no DNS.
// The evaluator (collectors/dns/spf_evaluator.cc) walks the parsed terms and does
// the lookups. Input is untrusted; every error names the offending term.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/core/status.h"

namespace mailstack::spf {

enum class Qualifier { kPass, kFail, kSoftFail, kNeutral };  // + - ~ ?

enum class Mechanism { kAll, kInclude, kA, kMx, kPtr, kIp4, kIp6, kExists };

struct Term {
  // A mechanism, or a modifier (is_modifier: redirect, exp or unknown name=value).
  bool is_modifier = false;
  Qualifier qualifier = Qualifier::kPass;
  Mechanism mechanism = Mechanism::kAll;
  std::string modifier_name;  // lower case: "redirect", "exp", or an unknown modifier's name
  // domain-spec as written (include:, a:, mx:, ptr:, exists:, redirect=, exp=); empty if absent
  // (a, mx, ptr default to the current domain). May contain macros.
  std::string domain_spec;
  bool has_macros = false;  // domain_spec contains a %{...} macro (needs expansion)
  // ip4 / ip6: the network, in network byte order (4 or 16 bytes), and the prefix length.
  // a / mx: dual-cidr-length (ip4_cidr 0..32 default 32, ip6_cidr 0..128 default 128).
  std::vector<uint8_t> network;
  int ip4_cidr = 32;
  int ip6_cidr = 128;
  std::string text;  // the term as written (for messages)
};

struct Record {
  std::vector<Term> terms;       // in order, mechanisms and modifiers
  const Term* redirect() const;  // the redirect= modifier, or null
  bool has_all() const;
};

// True if a TXT string is an SPF record: "v=spf1" (case-insensitive) followed by a space or the end.
bool IsSpfRecord(std::string_view txt);

// Parses one SPF record ("v=spf1 ..."). Errors (InvalidArgument, RFC permerror): unknown mechanism, bad
// qualifier, bad ip4/ip6 network or cidr, missing domain-spec where required (include, exists, redirect),
// bad macro syntax, a modifier repeated (redirect or exp twice), a domain-spec that is not a valid domain
// name after the macros. Message: "SPF: <problem> in \"<term>\"".
Result<Record> Parse(std::string_view txt);

// Macro expansion (RFC 7208 section 7) of a domain-spec for check_host(ip, domain, sender).
// `ip` is 4 or 16 bytes. Supports s l o d i p v h letters, digit transformers, 'r', delimiters, %% %_ %-.
// 'p' expands to ctx.validated_domain, "unknown" when empty (the caller does the PTR validation). Result truncated per
// RFC 7208 7.3 (drop left labels until <= 253). Errors: bad macro.
struct MacroContext {
  std::string sender;  // "postmaster@<domain>" when checking our own domain
  std::string domain;  // current domain
  std::vector<uint8_t> ip;
  std::string helo;
  std::string validated_domain;  // %{p}: the validated domain name of ip (RFC 7208 7.3); "" gives "unknown"
};
Result<std::string> ExpandMacros(std::string_view domain_spec, const MacroContext& ctx);

// Whether `ip` (4 or 16 bytes) is inside network/prefix (same family only; an IPv4-mapped IPv6 address is
// NOT treated as IPv4 here).
bool InNetwork(const std::vector<uint8_t>& ip, const std::vector<uint8_t>& network, int prefix);

}  // namespace mailstack::spf

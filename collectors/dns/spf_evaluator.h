// SPF check_host() (RFC 7208 section 4), evaluated asynchronously over a
// DnsQuerier: DNS-querying terms and void lookups counted as section 4.6.4
// says, macros expanded (section 7), includes and redirects followed.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/dns/dns_querier.h"

namespace mailstack::dns {

enum class SpfResult { kNone, kNeutral, kPass, kFail, kSoftFail, kTempError, kPermError };
// "none", "neutral", "pass", "fail", "softfail", "temperror", "permerror" (RFC 7208 2.6).
std::string_view SpfResultName(SpfResult r);

inline constexpr int kMaxSpfLookups = 10;
inline constexpr int kMaxSpfVoids = 2;

// The arguments of check_host(<ip>, <domain>, <sender>) and the HELO name
// for the %{h} macro.
struct SpfCheck {
  // 4 or 16 bytes (an IPv4-mapped IPv6 address is taken as IPv4). Empty: count mode, for the worst case a receiver
  // meets: only "all" matches, so every term of the tree is visited (ptr and exists with macros are counted, not looked
  // up: their names depend on the IP).
  std::vector<uint8_t> ip;
  std::string domain;
  std::string sender;  // local-part@domain ("postmaster@<domain>" for our own domains)
  std::string helo;
};

struct SpfVerdict {
  SpfResult result = SpfResult::kNone;
  int lookups = 0;    // DNS-querying terms evaluated (the 11th ends in permerror)
  int voids = 0;      // of those, answered NXDOMAIN or without records
  std::string error;  // the first permerror/temperror reason; a stable text (no counts of time, no offsets)
};

// Starts check_host(); `done` runs once, from a querier callback, when the
// result is known (it may never run if the querier's owner stops before).
// REQUIRES: `dns` outlives every lookup it was given.
void EvaluateSpf(DnsQuerier& dns, SpfCheck check, std::function<void(const SpfVerdict&)> done);

}  // namespace mailstack::dns

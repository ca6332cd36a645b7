// DMARC (RFC 7489 section 6.3), MTA-STS TXT (RFC 8461 section 3.1) and TLS-RPT TXT (RFC 8460 section 3)
// record parsers. Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "collectors/core/status.h"

namespace mailstack::dmarc {

struct Record {
  std::string policy;            // p=: "none", "quarantine" or "reject" (lower case)
  std::string subdomain_policy;  // sp= or empty
  int pct = 100;                 // pct= 0..100
  std::vector<std::string> rua;  // rua= URIs (comma-separated), as written
  std::vector<std::string> ruf;
  std::string adkim = "r", aspf = "r";  // r or s
};

// True if the TXT string starts a DMARC record: "v=DMARC1" then optional spaces then ';' or end.
bool IsDmarcRecord(std::string_view txt);
// Parses "v=DMARC1; p=...; ...". v=DMARC1 must be first, p= must be present (RFC 7489 6.6.3: a record
// without a valid p= is treated as... -> we report an error: "DMARC: p= missing"), p/sp one of
// none|quarantine|reject, pct 0..100, adkim/aspf r|s, rua/ruf comma-separated URIs each starting "mailto:"
// or "https:" (optional "!size" suffix allowed); unknown tags ignored; duplicate tags an error.
Result<Record> Parse(std::string_view txt);

// "_mta-sts.<domain>" TXT: "v=STSv1; id=<1-32 alphanumerics>;" (extra tags allowed). Returns the id.
bool IsMtaStsRecord(std::string_view txt);
Result<std::string> ParseMtaSts(std::string_view txt);

// "_smtp._tls.<domain>" TXT: "v=TLSRPTv1; rua=<uri>[,<uri>]" with mailto: or https: URIs. Returns the URIs.
bool IsTlsRptRecord(std::string_view txt);
Result<std::vector<std::string>> ParseTlsRpt(std::string_view txt);

}  // namespace mailstack::dmarc

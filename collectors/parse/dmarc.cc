#include "collectors/parse/dmarc.h"

#include "collectors/parse/text.h"

#include <set>
#include <utility>

namespace mailstack::dmarc {

namespace {

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsWsp(char c) { return c == ' ' || c == '\t'; }
char Lower(char c) { return text::AsciiLower(c); }
std::string LowerStr(std::string_view s) { return text::AsciiLower(s); }
using text::StartsWithNoCase;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsWsp(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsWsp(s.back())) s.remove_suffix(1);
  return s;
}

std::string Printable(std::string_view s) { return text::Printable(s, 80); }

std::string Quoted(std::string_view s) { return "\"" + Printable(s) + "\""; }

// `txt` starts with `version` and then *WSP and ';' or the end. Returns the offset after the ';' (or the
// size) in *rest_at.
bool StartsRecord(std::string_view txt, std::string_view version, bool version_case_insensitive_tag, size_t* rest_at) {
  if (txt.size() < version.size()) return false;
  if (version_case_insensitive_tag) {
    // "v" is an ABNF literal (case-insensitive); the version value itself is %x-exact.
    if (Lower(txt[0]) != version[0] || txt.substr(1, version.size() - 1) != version.substr(1)) return false;
  } else if (txt.substr(0, version.size()) != version) {
    return false;
  }
  size_t i = version.size();
  while (i < txt.size() && IsWsp(txt[i])) ++i;
  if (i == txt.size()) {
    *rest_at = i;
    return true;
  }
  if (txt[i] != ';') return false;
  *rest_at = i + 1;
  return true;
}

// A report URI: "mailto:" local "@" domain, or "https://" host. With allow_size, an optional
// "!" 1*DIGIT [ "k" / "m" / "g" / "t" ] suffix (RFC 7489 6.4 dmarc-uri).
bool ValidReportUri(std::string_view uri, bool allow_size) {
  if (allow_size) {
    size_t bang = uri.find('!');
    if (bang != std::string_view::npos) {
      std::string_view size = uri.substr(bang + 1);
      uri = uri.substr(0, bang);
      if (!size.empty() && std::string_view("kmgtKMGT").find(size.back()) != std::string_view::npos) {
        size.remove_suffix(1);
      }
      if (size.empty()) return false;
      for (char c : size) {
        if (!IsDigit(c)) return false;
      }
    }
  }
  for (char c : uri) {
    if (c < 0x21 || c > 0x7e || c == ',' || c == ';') return false;
  }
  if (StartsWithNoCase(uri, "mailto:")) {
    std::string_view addr = uri.substr(7);
    addr = addr.substr(0, addr.find('?'));
    size_t at = addr.rfind('@');
    return at != std::string_view::npos && at > 0 && at + 1 < addr.size();
  }
  if (StartsWithNoCase(uri, "https://")) {
    std::string_view rest = uri.substr(8);
    size_t host_end = rest.find_first_of("/?#");
    return (host_end == std::string_view::npos ? rest.size() : host_end) > 0;
  }
  return false;
}

// uri *( *WSP "," *WSP uri ). Returns false and the offending URI in *bad.
bool ParseUriList(std::string_view value, bool allow_size, std::vector<std::string>* out, std::string_view* bad) {
  size_t pos = 0;
  while (true) {
    size_t comma = value.find(',', pos);
    std::string_view uri =
        Trim(value.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
    if (!ValidReportUri(uri, allow_size)) {
      *bad = uri;
      return false;
    }
    out->emplace_back(uri);
    if (comma == std::string_view::npos) return true;
    pos = comma + 1;
  }
}

// One "name=value" field of an MTA-STS or TLS-RPT record (RFC 8461 3.1 sts-extension, RFC 8460 3
// tlsrpt-extension): name = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / "."),
// value = 1*(%x21-3A / %x3C / %x3E-7E).
bool ValidExtensionField(std::string_view name, std::string_view value) {
  if (name.empty() || name.size() > 32 || !(IsAlpha(name[0]) || IsDigit(name[0]))) return false;
  for (char c : name) {
    if (!(IsAlpha(c) || IsDigit(c) || c == '_' || c == '-' || c == '.')) return false;
  }
  if (value.empty()) return false;
  for (char c : value) {
    if (c < 0x21 || c > 0x7e || c == ';' || c == '=') return false;
  }
  return true;
}

// Splits the fields after the version: *WSP ";" *WSP between fields, one optional trailing ";".
// Calls fn(field) for each non-empty field; an empty field before the end is an error.
template <typename Fn>
Status ForEachField(std::string_view txt, size_t pos, std::string_view what, Fn fn) {
  while (pos <= txt.size()) {
    size_t semi = txt.find(';', pos);
    bool last = semi == std::string_view::npos;
    std::string_view field = Trim(txt.substr(pos, last ? std::string_view::npos : semi - pos));
    if (field.empty()) {
      if (last) return Status::Ok();
      return Status::InvalidArgument(std::string(what) + ": empty field at offset " + std::to_string(pos));
    }
    Status s = fn(field);
    if (!s.ok()) return s;
    if (last) return Status::Ok();
    pos = semi + 1;
  }
  return Status::Ok();
}

}  // namespace

bool IsDmarcRecord(std::string_view txt) {
  size_t rest = 0;
  return StartsRecord(txt, "v=DMARC1", true, &rest);
}

namespace {

bool Policy(std::string_view v, std::string* out) {
  std::string l = LowerStr(v);
  if (l != "none" && l != "quarantine" && l != "reject") return false;
  *out = std::move(l);
  return true;
}

bool Alignment(std::string_view v, std::string* out) {
  std::string l = LowerStr(v);
  if (l != "r" && l != "s") return false;
  *out = std::move(l);
  return true;
}

// dmarc-percent = "pct" *WSP "=" *WSP 1*3DIGIT, 0..100
bool Percent(std::string_view value, int* out) {
  bool ok = !value.empty() && value.size() <= 3;
  int v = 0;
  for (char c : value) {
    ok = ok && IsDigit(c);
    if (ok) v = v * 10 + (c - '0');
  }
  if (!ok || v > 100) return false;
  *out = v;
  return true;
}

// A tag name: ALPHA *( ALPHA / DIGIT / "_" ).
bool IsTagName(std::string_view name) {
  bool ok = !name.empty() && IsAlpha(name[0]);
  for (char c : name) ok = ok && (IsAlpha(c) || IsDigit(c) || c == '_');
  return ok;
}

// Interprets one tag (name lower case); fo, rf, ri and unknown tags (np=, ...) are ignored.
Status ApplyTag(const std::string& name, std::string_view value, Record* rec) {
  auto bad = [&]() { return Status::InvalidArgument("DMARC: bad " + name + "= " + Quoted(value)); };
  bool ok = true;
  if (name == "p") {
    ok = Policy(value, &rec->policy);
  } else if (name == "sp") {
    ok = Policy(value, &rec->subdomain_policy);
  } else if (name == "pct") {
    ok = Percent(value, &rec->pct);
  } else if (name == "adkim") {
    ok = Alignment(value, &rec->adkim);
  } else if (name == "aspf") {
    ok = Alignment(value, &rec->aspf);
  } else if (name == "rua" || name == "ruf") {
    std::string_view bad_uri;
    if (!ParseUriList(value, /*allow_size=*/true, name == "rua" ? &rec->rua : &rec->ruf, &bad_uri)) {
      return Status::InvalidArgument("DMARC: bad " + name + "= URI " + Quoted(bad_uri));
    }
  }
  return ok ? Status::Ok() : bad();
}

}  // namespace

Result<Record> Parse(std::string_view txt) {
  size_t pos = 0;
  if (!StartsRecord(txt, "v=DMARC1", true, &pos)) {
    return Status::InvalidArgument("DMARC: not a DMARC record (must start with v=DMARC1)");
  }
  Record rec;
  std::set<std::string> seen{"v"};
  // RFC 7489 6.4 separators are *WSP ";" *WSP; empty tags (";;") are tolerated (6.3: syntax errors in the
  // rest of the record SHOULD be ignored), but every tag we interpret must be valid.
  while (pos < txt.size()) {
    size_t semi = txt.find(';', pos);
    size_t end = semi == std::string_view::npos ? txt.size() : semi;
    std::string_view tag = Trim(txt.substr(pos, end - pos));
    pos = end + 1;
    if (tag.empty()) continue;
    size_t eq = tag.find('=');
    std::string_view raw_name = Trim(tag.substr(0, eq == std::string_view::npos ? 0 : eq));
    if (eq == std::string_view::npos || !IsTagName(raw_name)) {
      return Status::InvalidArgument("DMARC: bad tag " + Quoted(tag));
    }
    std::string name = LowerStr(raw_name);
    if (!seen.insert(name).second) return Status::InvalidArgument("DMARC: duplicate tag " + Quoted(name));
    if (Status s = ApplyTag(name, Trim(tag.substr(eq + 1)), &rec); !s.ok()) return s;
  }
  if (seen.count("p") == 0) return Status::InvalidArgument("DMARC: p= missing");
  return rec;
}

bool IsMtaStsRecord(std::string_view txt) {
  size_t rest = 0;
  return StartsRecord(txt, "v=STSv1", false, &rest);
}

Result<std::string> ParseMtaSts(std::string_view txt) {
  size_t pos = 0;
  if (!StartsRecord(txt, "v=STSv1", false, &pos)) {
    return Status::InvalidArgument("MTA-STS: not an MTA-STS record (must start with v=STSv1)");
  }
  std::string id;
  bool have_id = false;
  Status s = ForEachField(txt, pos, "MTA-STS", [&](std::string_view field) -> Status {
    size_t eq = field.find('=');
    std::string_view name = field.substr(0, eq == std::string_view::npos ? 0 : eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view() : field.substr(eq + 1);
    if (name == "id") {
      // sts-id = %s"id=" 1*32( ALPHA / DIGIT )
      bool ok = !value.empty() && value.size() <= 32;
      for (char c : value) ok = ok && (IsAlpha(c) || IsDigit(c));
      if (!ok) return Status::InvalidArgument("MTA-STS: bad id= " + Quoted(value));
      if (have_id) return Status::InvalidArgument("MTA-STS: duplicate id=");
      have_id = true;
      id = std::string(value);
      return Status::Ok();
    }
    if (eq == std::string_view::npos || !ValidExtensionField(name, value)) {
      return Status::InvalidArgument("MTA-STS: bad field " + Quoted(field));
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  if (!have_id) return Status::InvalidArgument("MTA-STS: id= missing");
  return id;
}

bool IsTlsRptRecord(std::string_view txt) {
  size_t rest = 0;
  return StartsRecord(txt, "v=TLSRPTv1", false, &rest);
}

Result<std::vector<std::string>> ParseTlsRpt(std::string_view txt) {
  size_t pos = 0;
  if (!StartsRecord(txt, "v=TLSRPTv1", false, &pos)) {
    return Status::InvalidArgument("TLS-RPT: not a TLS-RPT record (must start with v=TLSRPTv1)");
  }
  std::vector<std::string> uris;
  bool have_rua = false;
  Status s = ForEachField(txt, pos, "TLS-RPT", [&](std::string_view field) -> Status {
    size_t eq = field.find('=');
    std::string_view name = field.substr(0, eq == std::string_view::npos ? 0 : eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view() : field.substr(eq + 1);
    if (name == "rua") {
      if (have_rua) return Status::InvalidArgument("TLS-RPT: duplicate rua=");
      have_rua = true;
      std::string_view bad_uri;
      if (!ParseUriList(value, /*allow_size=*/false, &uris, &bad_uri)) {
        return Status::InvalidArgument("TLS-RPT: bad rua= URI " + Quoted(bad_uri));
      }
      return Status::Ok();
    }
    if (eq == std::string_view::npos || !ValidExtensionField(name, value)) {
      return Status::InvalidArgument("TLS-RPT: bad field " + Quoted(field));
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  if (!have_rua) return Status::InvalidArgument("TLS-RPT: rua= missing");
  return uris;
}

}  // namespace mailstack::dmarc

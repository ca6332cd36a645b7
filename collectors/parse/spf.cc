#include "collectors/parse/spf.h"

#include "collectors/parse/text.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

namespace mailstack::spf {

namespace {

constexpr size_t kMaxDomainBytes = 253;  // RFC 7208 7.3 (and RFC 1035 in text form)
constexpr size_t kMaxLabelBytes = 63;

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return IsAlpha(c) || IsDigit(c); }
char Lower(char c) { return text::AsciiLower(c); }
std::string LowerStr(std::string_view s) { return text::AsciiLower(s); }
using text::EqualsNoCase;
std::string Printable(std::string_view s) { return text::Printable(s, 80); }

Status Error(std::string_view problem, std::string_view term) {
  return Status::InvalidArgument("SPF: " + std::string(problem) + " in \"" + Printable(term) + "\"");
}

bool IsQualifier(char c) { return c == '+' || c == '-' || c == '~' || c == '?'; }

bool IsDelimiter(char c) { return c == '.' || c == '-' || c == '+' || c == ',' || c == '/' || c == '_' || c == '='; }

// RFC 7208 7.1 macro-letter (case-insensitive, as every ABNF literal). c, r and t are only
// meaningful in explanation text, never in a domain-spec.
bool IsMacroLetter(char c, bool allow_exp_letters) {
  switch (Lower(c)) {
    case 's':
    case 'l':
    case 'o':
    case 'd':
    case 'i':
    case 'p':
    case 'h':
    case 'v': return true;
    case 'c':
    case 'r':
    case 't': return allow_exp_letters;
    default: return false;
  }
}

// One "%{" macro starting at s[at] == '%', s[at + 1] == '{'. On success sets *end past the '}'.
struct MacroSpec {
  char letter = 0;  // as written (upper case means URL-escape the expansion)
  size_t keep = 0;  // rightmost parts to keep; 0 = all
  bool reverse = false;
  std::string_view delimiters;  // empty = "."
};

bool ScanMacro(std::string_view s, size_t at, bool allow_exp_letters, MacroSpec* m, size_t* end) {
  size_t j = at + 2;
  if (j >= s.size() || !IsMacroLetter(s[j], allow_exp_letters)) return false;
  m->letter = s[j++];
  size_t digits_begin = j;
  size_t keep = 0;
  while (j < s.size() && IsDigit(s[j])) {
    keep = std::min<size_t>(keep * 10 + static_cast<size_t>(s[j] - '0'), 1000000);  // saturates: no overflow
    ++j;
  }
  if (j > digits_begin && keep == 0) return false;  // RFC 7208 7.3: the DIGIT value MUST be nonzero
  m->keep = keep;
  if (j < s.size() && Lower(s[j]) == 'r') {
    m->reverse = true;
    ++j;
  }
  size_t delim_begin = j;
  while (j < s.size() && IsDelimiter(s[j])) ++j;
  m->delimiters = s.substr(delim_begin, j - delim_begin);
  if (j >= s.size() || s[j] != '}') return false;
  *end = j + 1;
  return true;
}

// Checks macro-string syntax (RFC 7208 7.1). Returns the problem, or empty. Linear.
std::string CheckMacroString(std::string_view s, bool allow_exp_letters, bool* has_macros, bool* ends_with_macro) {
  *has_macros = false;
  *ends_with_macro = false;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == '%') {
      if (i + 1 >= s.size()) return "bad macro";
      char n = s[i + 1];
      if (n == '%' || n == '_' || n == '-') {
        i += 2;
      } else if (n == '{') {
        MacroSpec m;
        size_t end = 0;
        if (!ScanMacro(s, i, allow_exp_letters, &m, &end)) return "bad macro";
        i = end;
      } else {
        return "bad macro";
      }
      *has_macros = true;
      *ends_with_macro = true;
      continue;
    }
    if (c < 0x21 || c > 0x7e) return "bad character";
    *ends_with_macro = false;
    ++i;
  }
  return {};
}

// toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum )
bool IsTopLabel(std::string_view t) {
  if (t.empty() || t.size() > kMaxLabelBytes) return false;
  bool alpha = false, hyphen = false;
  for (char c : t) {
    if (c == '-') {
      hyphen = true;
    } else if (IsAlpha(c)) {
      alpha = true;
    } else if (!IsDigit(c)) {
      return false;
    }
  }
  if (hyphen) return t.front() != '-' && t.back() != '-';
  return alpha;
}

// domain-spec = macro-string domain-end; domain-end = ( "." toplabel [ "." ] ) / macro-expand.
// A domain-spec without macros must moreover be a usable domain name: no empty label, labels of at
// most 63 bytes, at most 253 bytes. Returns the problem, or empty.
std::string CheckDomainSpec(std::string_view spec, bool* has_macros) {
  *has_macros = false;
  if (spec.empty()) return "missing domain-spec";
  bool ends_with_macro = false;
  std::string problem = CheckMacroString(spec, /*allow_exp_letters=*/false, has_macros, &ends_with_macro);
  if (!problem.empty()) return problem;
  if (ends_with_macro) return {};
  std::string_view d = spec;
  if (d.back() == '.') d.remove_suffix(1);
  size_t dot = d.rfind('.');
  if (dot == std::string_view::npos || !IsTopLabel(d.substr(dot + 1))) return "bad domain-spec";
  if (*has_macros) return {};
  // 253 bytes counting a trailing dot: what ExpandMacros would otherwise truncate (RFC 7208 7.3).
  if (spec.size() > kMaxDomainBytes) return "bad domain-spec";
  size_t start = 0;
  while (true) {
    size_t next = d.find('.', start);
    size_t len = (next == std::string_view::npos ? d.size() : next) - start;
    if (len == 0 || len > kMaxLabelBytes) return "bad domain-spec";
    if (next == std::string_view::npos) break;
    start = next + 1;
  }
  return {};
}

// ip4-cidr-length = "/" ( "0" / %x31-39 0*1DIGIT ), ip6 likewise up to 3 digits; no leading zeros.
bool ParseCidr(std::string_view digits, int max, int* out) {
  if (digits.empty() || digits.size() > 3) return false;
  if (digits.size() > 1 && digits[0] == '0') return false;
  int v = 0;
  for (char c : digits) {
    if (!IsDigit(c)) return false;
    v = v * 10 + (c - '0');
  }
  if (v > max) return false;
  *out = v;
  return true;
}

// ip4-network = qnum "." qnum "." qnum "." qnum, qnum 0..255 without leading zeros.
bool ParseIp4(std::string_view s, std::vector<uint8_t>* out) {
  std::vector<uint8_t> bytes;
  size_t i = 0;
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (i >= s.size() || s[i] != '.') return false;
      ++i;
    }
    size_t start = i;
    int v = 0;
    while (i < s.size() && IsDigit(s[i]) && i - start < 3) v = v * 10 + (s[i++] - '0');
    size_t len = i - start;
    if (len == 0 || (len > 1 && s[start] == '0') || v > 255) return false;
    bytes.push_back(static_cast<uint8_t>(v));
  }
  if (i != s.size()) return false;
  *out = std::move(bytes);
  return true;
}

// RFC 4291 2.2 text forms (inet_pton is pure: no name lookup).
bool ParseIp6(std::string_view s, std::vector<uint8_t>* out) {
  if (s.empty() || s.size() > 45) return false;
  for (char c : s) {
    if (!(IsDigit(c) || (Lower(c) >= 'a' && Lower(c) <= 'f') || c == ':' || c == '.')) return false;
  }
  std::string z(s);
  unsigned char buf[16];
  if (inet_pton(AF_INET6, z.c_str(), buf) != 1) return false;
  out->assign(buf, buf + 16);
  return true;
}

// Strips a trailing dual-cidr-length ( [ "/" ip4 ] [ "//" ip6 ] ) from the argument of a / mx.
// A domain-spec cannot end in "/" DIGITs (domain-end is a toplabel or a macro), so this is unambiguous.
bool StripDualCidr(std::string_view* args, Term* t, std::string* problem) {
  auto digits_start = [](std::string_view s) {
    size_t d = s.size();
    while (d > 0 && IsDigit(s[d - 1])) --d;
    return d;
  };
  std::string_view a = *args;
  size_t d = digits_start(a);
  if (d < a.size() && d >= 2 && a[d - 1] == '/' && a[d - 2] == '/') {
    if (!ParseCidr(a.substr(d), 128, &t->ip6_cidr)) {
      *problem = "bad ip6 cidr length";
      return false;
    }
    a = a.substr(0, d - 2);
    d = digits_start(a);
  }
  if (d < a.size() && d >= 1 && a[d - 1] == '/') {
    if (!ParseCidr(a.substr(d), 32, &t->ip4_cidr)) {
      *problem = "bad ip4 cidr length";
      return false;
    }
    a = a.substr(0, d - 1);
  }
  *args = a;
  return true;
}

// Length of a modifier name at the start of `s` if it is followed by '=', else 0.
// name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
size_t ModifierNameLength(std::string_view s) {
  if (s.empty() || !IsAlpha(s[0])) return 0;
  size_t k = 1;
  while (k < s.size() && (IsAlnum(s[k]) || s[k] == '-' || s[k] == '_' || s[k] == '.')) ++k;
  return (k < s.size() && s[k] == '=') ? k : 0;
}

Status ParseModifier(std::string_view term, size_t name_len, Term* t) {
  t->is_modifier = true;
  t->modifier_name = LowerStr(term.substr(0, name_len));
  std::string_view value = term.substr(name_len + 1);
  std::string problem;
  if (t->modifier_name == "redirect" || t->modifier_name == "exp") {
    problem = CheckDomainSpec(value, &t->has_macros);
  } else {
    // unknown-modifier = name "=" macro-string: ignored by check_host, but its syntax must hold.
    bool ends_with_macro = false;
    problem = CheckMacroString(value, /*allow_exp_letters=*/true, &t->has_macros, &ends_with_macro);
  }
  if (!problem.empty()) return Error(problem, term);
  t->domain_spec = std::string(value);
  return Status::Ok();
}

// The qualifier at the start of `*rest`, removed from it ("+" when there is none).
Status ParseQualifier(std::string_view term, std::string_view* rest, Term* t) {
  if (!IsQualifier((*rest)[0])) return Status::Ok();
  switch ((*rest)[0]) {
    case '+': t->qualifier = Qualifier::kPass; break;
    case '-': t->qualifier = Qualifier::kFail; break;
    case '~': t->qualifier = Qualifier::kSoftFail; break;
    default: t->qualifier = Qualifier::kNeutral; break;
  }
  rest->remove_prefix(1);
  if (rest->empty() || IsQualifier((*rest)[0])) return Error("bad qualifier", term);
  if (ModifierNameLength(*rest) != 0) return Error("qualifier on a modifier", term);
  return Status::Ok();
}

// The arguments of ip4 / ip6: ":" network [ "/" cidr-length ].
Status ParseNetwork(std::string_view term, std::string_view args, bool v4, Term* t) {
  t->mechanism = v4 ? Mechanism::kIp4 : Mechanism::kIp6;
  if (args.empty() || args[0] != ':' || args.size() == 1) {
    return Error(v4 ? "missing ip4 network" : "missing ip6 network", term);
  }
  std::string_view net = args.substr(1);
  size_t slash = net.find('/');
  std::string_view addr = net.substr(0, slash);
  if (!(v4 ? ParseIp4(addr, &t->network) : ParseIp6(addr, &t->network))) {
    return Error(v4 ? "bad ip4 network" : "bad ip6 network", term);
  }
  if (slash != std::string_view::npos &&
      !ParseCidr(net.substr(slash + 1), v4 ? 32 : 128, v4 ? &t->ip4_cidr : &t->ip6_cidr)) {
    return Error(v4 ? "bad ip4 cidr length" : "bad ip6 cidr length", term);
  }
  return Status::Ok();
}

Status ParseTerm(std::string_view term, Term* t) {
  t->text = std::string(term);
  if (size_t name_len = ModifierNameLength(term)) return ParseModifier(term, name_len, t);

  std::string_view rest = term;
  if (Status s = ParseQualifier(term, &rest, t); !s.ok()) return s;
  size_t name_end = std::min(rest.find_first_of(":/"), rest.size());
  std::string name = LowerStr(rest.substr(0, name_end));
  std::string_view args = rest.substr(name_end);
  std::string problem;

  auto domain_arg = [&](std::string_view a) -> Status {
    // a is ":" domain-spec
    std::string p = CheckDomainSpec(a.substr(1), &t->has_macros);
    if (!p.empty()) return Error(p, term);
    t->domain_spec = std::string(a.substr(1));
    return Status::Ok();
  };

  if (name == "all") {
    t->mechanism = Mechanism::kAll;
    if (!args.empty()) return Error("unexpected argument", term);
    return Status::Ok();
  }
  if (name == "include" || name == "exists") {
    t->mechanism = name == "include" ? Mechanism::kInclude : Mechanism::kExists;
    if (args.empty() || args[0] != ':') return Error("missing domain-spec", term);
    return domain_arg(args);
  }
  if (name == "ptr") {
    t->mechanism = Mechanism::kPtr;
    if (args.empty()) return Status::Ok();
    if (args[0] != ':') return Error("unexpected argument", term);
    return domain_arg(args);
  }
  if (name == "a" || name == "mx") {
    t->mechanism = name == "a" ? Mechanism::kA : Mechanism::kMx;
    if (!StripDualCidr(&args, t, &problem)) return Error(problem, term);
    if (args.empty()) return Status::Ok();
    if (args[0] != ':') return Error("bad dual-cidr-length", term);
    return domain_arg(args);
  }
  if (name == "ip4" || name == "ip6") return ParseNetwork(term, args, name == "ip4", t);
  return Error("unknown mechanism", term);
}

// ---- macro expansion -------------------------------------------------------

// Keeps the expansion's length and only its last bytes: RFC 7208 7.3 truncation looks at no more than
// the last 254 bytes, so the memory stays bounded whatever the spec and the context.
class TailBuffer {
 public:
  void Append(std::string_view s) {
    total_ += s.size();
    buf_.append(s.data(), s.size());
    if (buf_.size() > 8192) buf_.erase(0, buf_.size() - kKeep);
  }
  void Append(char c) { Append(std::string_view(&c, 1)); }
  size_t total() const { return total_; }
  // The expansion with left labels dropped until it fits in 253 bytes; false if no label boundary fits.
  bool Truncated(std::string* out) const {
    if (total_ <= kMaxDomainBytes) {
      *out = buf_;
      return true;
    }
    // Drop labels: the result starts after the first '.' at an index >= total - 254.
    size_t from = buf_.size() - (kMaxDomainBytes + 1);
    size_t dot = buf_.find('.', from);
    if (dot == std::string::npos || dot + 1 == buf_.size()) return false;
    *out = buf_.substr(dot + 1);
    return true;
  }

 private:
  static constexpr size_t kKeep = 512;
  std::string buf_;
  size_t total_ = 0;
};

void UrlEscapeInto(std::string_view s, std::string* out) {
  static const char kHex[] = "0123456789ABCDEF";
  for (char c : s) {
    if (IsAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      *out += c;
    } else {
      auto u = static_cast<unsigned char>(c);
      *out += '%';
      *out += kHex[u >> 4];
      *out += kHex[u & 0xf];
    }
  }
}

std::string IpText(const std::vector<uint8_t>& ip) {
  std::string out;
  if (ip.size() == 4) {
    for (size_t i = 0; i < 4; ++i) {
      if (i) out += '.';
      out += std::to_string(ip[i]);
    }
  } else {
    static const char kHex[] = "0123456789abcdef";
    for (size_t i = 0; i < 16; ++i) {
      if (i) out += '.';
      out += kHex[ip[i] >> 4];
      out += '.';
      out += kHex[ip[i] & 0xf];
    }
  }
  return out;
}

// Splits on any of `delims`, optionally reverses, keeps the rightmost `keep` parts, joins with '.'.
std::string Transform(std::string_view value, const MacroSpec& m) {
  std::string_view delims = m.delimiters.empty() ? std::string_view(".") : m.delimiters;
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t i = 0; i <= value.size(); ++i) {
    if (i == value.size() || delims.find(value[i]) != std::string_view::npos) {
      parts.push_back(value.substr(start, i - start));
      start = i + 1;
    }
  }
  if (m.reverse) std::reverse(parts.begin(), parts.end());
  size_t first = (m.keep == 0 || m.keep >= parts.size()) ? 0 : parts.size() - m.keep;
  std::string out;
  for (size_t i = first; i < parts.size(); ++i) {
    if (i > first) out += '.';
    out.append(parts[i].data(), parts[i].size());
  }
  return out;
}

}  // namespace

const Term* Record::redirect() const {
  for (const Term& t : terms) {
    if (t.is_modifier && t.modifier_name == "redirect") return &t;
  }
  return nullptr;
}

bool Record::has_all() const {
  for (const Term& t : terms) {
    if (!t.is_modifier && t.mechanism == Mechanism::kAll) return true;
  }
  return false;
}

bool IsSpfRecord(std::string_view txt) {
  return txt.size() >= 6 && EqualsNoCase(txt.substr(0, 6), "v=spf1") && (txt.size() == 6 || txt[6] == ' ');
}

Result<Record> Parse(std::string_view txt) {
  if (!IsSpfRecord(txt)) return Error("not a v=spf1 record", txt.substr(0, txt.find(' ')));
  Record rec;
  bool seen_redirect = false, seen_exp = false;
  size_t pos = 6;
  while (pos < txt.size()) {
    if (txt[pos] == ' ') {
      ++pos;
      continue;
    }
    size_t end = std::min(txt.find(' ', pos), txt.size());
    std::string_view term = txt.substr(pos, end - pos);
    pos = end;
    Term t;
    Status s = ParseTerm(term, &t);
    if (!s.ok()) return s;
    if (t.is_modifier && (t.modifier_name == "redirect" || t.modifier_name == "exp")) {
      bool& seen = t.modifier_name == "redirect" ? seen_redirect : seen_exp;
      if (seen) return Error(t.modifier_name + " repeated", term);
      seen = true;
    }
    rec.terms.push_back(std::move(t));
  }
  return rec;
}

Result<std::string> ExpandMacros(std::string_view domain_spec, const MacroContext& ctx) {
  auto bad = [&](std::string_view problem) { return Error(problem, domain_spec); };
  // RFC 7208 4.3: a sender without a local-part is "postmaster@<sender domain>".
  std::string_view sender = ctx.sender;
  size_t at = sender.rfind('@');
  std::string_view local = at == std::string_view::npos ? std::string_view() : sender.substr(0, at);
  std::string_view sender_domain = at == std::string_view::npos ? sender : sender.substr(at + 1);
  if (local.empty()) local = "postmaster";
  std::string full_sender = std::string(local) + "@" + std::string(sender_domain);

  TailBuffer out;
  std::string piece;
  size_t i = 0;
  while (i < domain_spec.size()) {
    char c = domain_spec[i];
    if (c != '%') {
      if (c < 0x21 || c > 0x7e) return bad("bad character");
      out.Append(c);
      ++i;
      continue;
    }
    if (i + 1 >= domain_spec.size()) return bad("bad macro");
    char n = domain_spec[i + 1];
    if (n == '%' || n == '_' || n == '-') {
      out.Append(n == '%' ? "%" : n == '_' ? " " : "%20");
      i += 2;
      continue;
    }
    MacroSpec m;
    size_t end = 0;
    if (n != '{' || !ScanMacro(domain_spec, i, /*allow_exp_letters=*/false, &m, &end)) return bad("bad macro");
    i = end;
    std::string ip_text;
    std::string_view value;
    switch (Lower(m.letter)) {
      case 's': value = full_sender; break;
      case 'l': value = local; break;
      case 'o': value = sender_domain; break;
      case 'd': value = ctx.domain; break;
      case 'h': value = ctx.helo; break;
      case 'p': value = ctx.validated_domain.empty() ? std::string_view("unknown") : ctx.validated_domain; break;
      case 'i':
      case 'v':
        if (ctx.ip.size() != 4 && ctx.ip.size() != 16) return bad("IP address is not 4 or 16 bytes");
        if (Lower(m.letter) == 'v') {
          value = ctx.ip.size() == 4 ? "in-addr" : "ip6";
        } else {
          ip_text = IpText(ctx.ip);
          value = ip_text;
        }
        break;
      default: return bad("bad macro");
    }
    std::string transformed = Transform(value, m);
    piece.clear();
    if (m.letter >= 'A' && m.letter <= 'Z') {  // RFC 7208 7.3: upper case = URL-escaped
      UrlEscapeInto(transformed, &piece);
    } else {
      piece = std::move(transformed);
    }
    out.Append(piece);
  }
  std::string result;
  if (!out.Truncated(&result)) return bad("expansion has no label boundary within 253 bytes");
  return result;
}

bool InNetwork(const std::vector<uint8_t>& ip, const std::vector<uint8_t>& network, int prefix) {
  if (ip.size() != network.size() || (ip.size() != 4 && ip.size() != 16)) return false;
  if (prefix < 0 || static_cast<size_t>(prefix) > ip.size() * 8) return false;
  size_t full = static_cast<size_t>(prefix) / 8;
  for (size_t i = 0; i < full; ++i) {
    if (ip[i] != network[i]) return false;
  }
  int rem = prefix % 8;
  if (rem == 0) return true;
  auto mask = static_cast<uint8_t>(0xff << (8 - rem));
  return (ip[full] & mask) == (network[full] & mask);
}

}  // namespace mailstack::spf

#include "collectors/parse/maillog.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <span>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace mailstack::maillog {
namespace {

using std::string_view;
constexpr size_t npos = string_view::npos;

// s starts with the literal p: a compare of constant size, which the compiler
// inlines (string_view::starts_with compares min(size, N) bytes by a call).
template <size_t N>
inline bool Starts(string_view s, const char (&p)[N]) {
  return s.size() >= N - 1 && std::memcmp(s.data(), p, N - 1) == 0;
}
template <size_t N>
inline bool Ends(string_view s, const char (&p)[N]) {
  return s.size() >= N - 1 && std::memcmp(s.data() + s.size() - (N - 1), p, N - 1) == 0;
}

// string_view::find(needle) of libstdc++ 12 compares at every position;
// this one lets memchr find the candidates for the first byte (tables of
// needles; literals take the overload below).
size_t Find(string_view s, string_view needle, size_t pos = 0) {
  const size_t n = needle.size();
  if (n == 0) return pos <= s.size() ? pos : npos;
  while (pos < s.size() && s.size() - pos >= n) {
    const void* hit = std::memchr(s.data() + pos, needle[0], s.size() - pos - n + 1);
    if (hit == nullptr) return npos;
    pos = static_cast<size_t>(static_cast<const char*>(hit) - s.data());
    if (std::memcmp(s.data() + pos + 1, needle.data() + 1, n - 1) == 0) return pos;
    ++pos;
  }
  return npos;
}

// A literal needle of at least two bytes, inlined: its first and last bytes
// and the compare of the bytes between are constants. With SSE2, 16
// candidate positions a step whose first and last bytes both match (W. Mula's
// generic SIMD search: few false candidates even for ", " needles), the last
// partial step overlapping; a plain loop on the same two bytes otherwise.
template <size_t N>
[[gnu::always_inline]] inline size_t Find(string_view s, const char (&needle)[N], size_t pos = 0) {
  constexpr size_t n = N - 1;
  static_assert(n >= 2);
  if (pos >= s.size() || s.size() - pos < n) return npos;
  const char* const d = s.data();
  const size_t end = s.size() - n + 1;  // one past the last candidate position
  auto verify = [&](size_t p) { return std::memcmp(d + p + 1, needle + 1, n - 2) == 0; };
#if defined(__SSE2__)
  if (end - pos >= 16) {
    const __m128i vf = _mm_set1_epi8(needle[0]), vl = _mm_set1_epi8(needle[n - 1]);
    auto candidates = [&](size_t p) {
      const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(d + p));
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(d + p + n - 1));
      return static_cast<unsigned>(_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, vf), _mm_cmpeq_epi8(b, vl))));
    };
    while (pos < end) {
      size_t at = pos;
      unsigned mask;
      if (end - pos >= 16) {
        mask = candidates(pos);
        pos += 16;
      } else {
        at = end - 16;  // overlapping: drop the positions already seen
        mask = candidates(at) & (~0u << (pos - at));
        pos = end;
      }
      for (; mask != 0; mask &= mask - 1) {
        const size_t p = at + static_cast<size_t>(__builtin_ctz(mask));
        if (verify(p)) return p;
      }
    }
    return npos;
  }
#endif
  for (; pos < end; ++pos) {
    if (d[pos] == needle[0] && d[pos + n - 1] == needle[n - 1] && verify(pos)) return pos;
  }
  return npos;
}

template <size_t N>
[[gnu::always_inline]] inline bool Contains(string_view s, const char (&needle)[N]) {
  return Find(s, needle) != npos;
}

bool Contains(string_view s, string_view needle) { return Find(s, needle) != npos; }

// The first ": " of s: it ends a Dovecot process prefix such as
// "lmtp(user)<pid><session>" or an OpenDKIM job id (the SIMD search on both
// bytes, a plain loop when s is short).
size_t FindColonSpace(string_view s) { return Find(s, ": "); }

// n bytes at a and b are equal; up to 16 without a call, by two words that
// overlap (a table's prefix has no constant size for memcmp to be inlined).
inline bool EqualBytes(const char* a, const char* b, size_t n) {
  auto same = [&]<typename Word>(Word, size_t at) {
    Word x, y;
    std::memcpy(&x, a + at, sizeof x);
    std::memcpy(&y, b + at, sizeof y);
    return x == y;
  };
  if (n >= 8 && n <= 16) return same(uint64_t{}, 0) && same(uint64_t{}, n - 8);
  if (n >= 4 && n < 8) return same(uint32_t{}, 0) && same(uint32_t{}, n - 4);
  if (n < 4) {
    for (size_t i = 0; i < n; ++i) {
      if (a[i] != b[i]) return false;
    }
    return true;
  }
  return std::memcmp(a, b, n) == 0;
}

// s starts with p (p not empty). The first byte is compared first: in a
// table of prefixes most entries fail there.
inline bool HasPrefix(string_view s, string_view p) {
  return s.size() >= p.size() && s[0] == p[0] && EqualBytes(s.data(), p.data(), p.size());
}

bool StartsWithAny(string_view s, std::span<const string_view> prefixes) {
  if (s.empty()) return false;
  for (string_view p : prefixes) {
    if (HasPrefix(s, p)) return true;
  }
  return false;
}

bool ContainsAny(string_view s, std::span<const string_view> needles) {
  for (string_view n : needles) {
    if (Contains(s, n)) return true;
  }
  return false;
}

// The last occurrence of needle (forward searches: string_view::rfind
// compares at every position).
template <size_t N>
size_t FindLast(string_view s, const char (&needle)[N]) {
  size_t last = npos;
  for (size_t p = Find(s, needle); p != npos; p = Find(s, needle, p + 1)) last = p;
  return last;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
// ASCII letters and digits, by table (a queue id is scanned on most Postfix lines).
constexpr auto kAlnum = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
  return t;
}();
bool IsAlnum(char c) { return kAlnum[static_cast<unsigned char>(c)]; }

// A decimal number "12", "0.14", "3285.5" at s[*pos] (format_tv's output in
// Postfix's log_adhoc.c); advances *pos. Up to 18 digits; exact for the
// logged values (mantissa / power of ten).
[[gnu::always_inline]] inline bool ParseDecimal(string_view s, size_t* pos, double* out) {
  static constexpr double kPow10[] = {1,    1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8, 1e9,
                                      1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18};
  const char* p = s.data() + *pos;
  const char* const end = s.data() + s.size();
  const char* const start = p;
  uint64_t mantissa = 0;
  while (p < end && static_cast<unsigned>(*p - '0') < 10) mantissa = mantissa * 10 + static_cast<unsigned>(*p++ - '0');
  const ptrdiff_t whole = p - start;
  ptrdiff_t fraction = 0;
  if (p < end && *p == '.') {
    const char* const dot = ++p;
    while (p < end && static_cast<unsigned>(*p - '0') < 10)
      mantissa = mantissa * 10 + static_cast<unsigned>(*p++ - '0');
    fraction = p - dot;
    if (fraction == 0) return false;
  }
  if (whole == 0 || whole + fraction > 18) return false;  // 18 digits fit in the mantissa
  *out = static_cast<double>(mantissa) / kPow10[fraction];
  *pos = static_cast<size_t>(p - s.data());
  return true;
}

// 1 to 3 digits at s[*pos]; advances *pos.
[[gnu::always_inline]] inline bool ParseSmallNumber(string_view s, size_t* pos, uint16_t* out) {
  size_t i = *pos;
  unsigned v = 0;
  while (i < s.size() && IsDigit(s[i]) && i - *pos < 3) v = v * 10 + static_cast<unsigned>(s[i++] - '0');
  if (i == *pos || (i < s.size() && IsDigit(s[i]))) return false;
  *out = static_cast<uint16_t>(v);
  *pos = i;
  return true;
}

// An RFC 3463 code "X.Y.Z" at s[*pos] (class 2, 4 or 5); advances *pos.
bool ParseDsn(string_view s, size_t* pos, Dsn* out) {
  size_t i = *pos;
  if (i + 5 > s.size() || (s[i] != '2' && s[i] != '4' && s[i] != '5') || s[i + 1] != '.') return false;
  Dsn d;
  d.status_class = static_cast<uint8_t>(s[i] - '0');
  i += 2;
  if (!ParseSmallNumber(s, &i, &d.subject) || i >= s.size() || s[i] != '.') return false;
  ++i;
  if (!ParseSmallNumber(s, &i, &d.detail)) return false;
  *out = d;
  *pos = i;
  return true;
}

// "QUEUEID: " at the start of m (Postfix short hex or long base-52 queue
// ids, or NOQUEUE): the rest after it, or false.
#if defined(__SSE2__)
// Bit k set when m[k] is an ASCII letter or digit (16 bytes at m): a range
// test is a signed compare after shifting the range's start to -128.
inline unsigned AlnumMask16(const char* m) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(m));
  const __m128i digit = _mm_cmplt_epi8(_mm_add_epi8(v, _mm_set1_epi8(80)), _mm_set1_epi8(-118));        // '0'+80 = -128
  const __m128i folded = _mm_or_si128(v, _mm_set1_epi8(0x20));                                          // 'A' -> 'a'
  const __m128i letter = _mm_cmplt_epi8(_mm_add_epi8(folded, _mm_set1_epi8(31)), _mm_set1_epi8(-102));  // 'a'+31
  return static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(digit, letter)));
}
#endif

// The length of the run of letters and digits at the start of m, up to 21
// (or more: any value above 21 means at least 22).
inline size_t AlnumRun(string_view m) {
#if defined(__SSE2__)
  if (m.size() >= 16) {
    const unsigned other = ~AlnumMask16(m.data()) & 0xFFFF;
    if (other != 0) return static_cast<size_t>(__builtin_ctz(other));
    if (m.size() >= 32) {
      const unsigned other2 = ~AlnumMask16(m.data() + 16) & 0xFFFF;
      return other2 != 0 ? 16 + static_cast<size_t>(__builtin_ctz(other2)) : 32;
    }
  }
#endif
  const size_t limit = std::min<size_t>(m.size(), 21);
  size_t i = 0;
  while (i < limit && IsAlnum(m[i])) ++i;
  return i;
}

bool SplitQueueId(string_view m, string_view* rest) {
  const size_t i = AlnumRun(m);
  if (i > 21) return false;
  if (i < 5 || i + 1 >= m.size() || m[i] != ':' || m[i + 1] != ' ') return false;
  *rest = m.substr(i + 2);
  return true;
}

// ---------------------------------------------------------------- Postfix --

struct DaemonName {
  string_view name;
  Daemon daemon;
};
// Most frequent first.
constexpr DaemonName kDaemons[] = {
    {"smtpd", Daemon::kSmtpd},
    {"smtp", Daemon::kSmtp},
    {"qmgr", Daemon::kQmgr},
    {"cleanup", Daemon::kCleanup},
    {"lmtp", Daemon::kLmtp},
    {"virtual", Daemon::kVirtual},
    {"local", Daemon::kLocal},
    {"postscreen", Daemon::kPostscreen},
    {"bounce", Daemon::kBounce},
    {"pipe", Daemon::kPipe},
    {"error", Daemon::kError},
    {"discard", Daemon::kDiscard},
    {"retry", Daemon::kRetry},
    {"dnsblog", Daemon::kDnsblog},
    {"pickup", Daemon::kPickup},
    {"master", Daemon::kMaster},
    {"postfix-script", Daemon::kPostfixScript},
    {"tlsproxy", Daemon::kTlsproxy},
    {"anvil", Daemon::kAnvil},
    {"scache", Daemon::kScache},
    {"trivial-rewrite", Daemon::kTrivialRewrite},
    {"verify", Daemon::kVerify},
    {"tlsmgr", Daemon::kTlsmgr},
    {"postlogd", Daemon::kPostlogd},
    // Known Postfix programs without matchers of their own (kOther: a
    // non-severity line of theirs is unparsed).
    {"oqmgr", Daemon::kOther},
    {"flush", Daemon::kOther},
    {"showq", Daemon::kOther},
    {"proxymap", Daemon::kOther},
    {"spawn", Daemon::kOther},
    {"qmqpd", Daemon::kOther},
    {"sendmail", Daemon::kOther},
    {"postdrop", Daemon::kOther},
    {"postqueue", Daemon::kOther},
    {"postsuper", Daemon::kOther},
    {"postmap", Daemon::kOther},
    {"postalias", Daemon::kOther},
    {"postconf", Daemon::kOther},
    {"postmulti", Daemon::kOther},
    {"postlog", Daemon::kOther},
    {"postcat", Daemon::kOther},
    {"postkick", Daemon::kOther},
    {"postlock", Daemon::kOther},
};

// The last '/' of a program name (one is there). Its daemon is short: the
// last eight bytes as one word first, an exact zero-byte test on them XOR '/'
// (no borrow between bytes), the highest hit; rfind when they hold none.
size_t LastSlash(string_view program) {
  if (std::endian::native == std::endian::little && program.size() >= 8) {
    uint64_t w;
    std::memcpy(&w, program.data() + program.size() - 8, 8);
    const uint64_t x = w ^ 0x2F2F2F2F2F2F2F2Full;
    const uint64_t zero = ~(((x & 0x7F7F7F7F7F7F7F7Full) + 0x7F7F7F7F7F7F7F7Full) | x | 0x7F7F7F7F7F7F7F7Full);
    if (zero != 0) return program.size() - 8 + static_cast<size_t>(63 - __builtin_clzll(zero)) / 8;
  }
  return program.rfind('/');
}

// "instance[/service...]/daemon": a Postfix program if the daemon is one of
// Postfix's programs, or the instance starts with "postfix" (a syslog_name
// of a multi-instance setup, "postfix-out/smtp").
bool SplitPostfixProgram(string_view program, Event* e) {
  const size_t first = Starts(program, "postfix/") ? 7 : program.find('/');  // most lines: no memchr call
  if (first == npos || first == 0) return false;
  const size_t last = LastSlash(program);
  const string_view daemon = program.substr(last + 1);
  if (daemon.empty()) return false;
  const string_view instance = program.substr(0, first);
  bool known = false;
  for (const DaemonName& d : kDaemons) {
    if (d.name.size() == daemon.size() && HasPrefix(daemon, d.name)) {
      e->daemon = d.daemon;
      known = true;
      break;
    }
  }
  if (!known && !Starts(instance, "postfix")) return false;
  e->family = Family::kPostfix;
  e->instance = instance;
  e->service = first == last ? daemon : program.substr(first + 1, last - first - 1);
  return true;
}

// Postfix msg_warn() and friends (util/msg.c): "warning: text".
Severity PostfixSeverity(string_view* m) {
  struct Prefix {
    string_view text;
    Severity severity;
  };
  static constexpr Prefix kPrefixes[] = {{"warning: ", Severity::kWarning},
                                         {"error: ", Severity::kError},
                                         {"fatal: ", Severity::kFatal},
                                         {"panic: ", Severity::kPanic}};
  // Most messages start with a queue id or another word: one test rules them out.
  if (m->empty() || (*m)[0] < 'e' || (*m)[0] > 'w' ||
      ((*m)[0] != 'w' && (*m)[0] != 'e' && (*m)[0] != 'f' && (*m)[0] != 'p')) {
    return Severity::kNone;
  }
  for (const Prefix& p : kPrefixes) {
    if (HasPrefix(*m, p.text)) {
      m->remove_prefix(p.text.size());
      return p.severity;
    }
  }
  return Severity::kNone;
}

// tls_misc.c tls_log_summary(): "%s TLS connection %s %s %s%s%s: %s with
// cipher ...", trust Anonymous/Verified/Trusted/Untrusted, established or
// reused, direction "from" (server) or "to" (client).
bool ParseTlsSummary(string_view m, string_view direction, TlsTrust* trust) {
  struct Word {
    string_view text;
    TlsTrust trust;
  };
  static constexpr Word kWords[] = {{"Anonymous ", TlsTrust::kAnonymous},
                                    {"Verified ", TlsTrust::kVerified},
                                    {"Trusted ", TlsTrust::kTrusted},
                                    {"Untrusted ", TlsTrust::kUntrusted}};
  if (m.size() < 20 || (m[0] != 'A' && m[0] != 'V' && m[0] != 'T' && m[0] != 'U')) return false;
  for (const Word& w : kWords) {
    if (!HasPrefix(m, w.text)) continue;
    m.remove_prefix(w.text.size());
    if (!Starts(m, "TLS connection ")) return false;
    m.remove_prefix(15);
    if (Starts(m, "established ")) {
      m.remove_prefix(12);
    } else if (Starts(m, "reused ")) {
      m.remove_prefix(7);
    } else {
      return false;
    }
    if (!m.starts_with(direction) || m.size() <= direction.size() || m[direction.size()] != ' ') return false;
    *trust = w.trust;
    return true;
  }
  return false;
}

// The reject reply of smtpd_check.c's smtpd_check_reject() ("%d %s <%s>: %s
// rejected: %s", the reply class names of smtpd_dsn_fix.h) and of the
// default rbl reply (mail_params.h DEF_DEF_RBL_REPLY "... blocked using ...").
// `text` is the reply after the code and DSN, up to log_whatsup()'s "; from=<".
RejectReason ClassifyRejectText(string_view text, const Dsn& dsn) {
  // The address of "<%s>: " is the client's: look past it.
  if (text.starts_with('<')) {
    const size_t end = Find(text, ">: ");
    if (end != npos) text.remove_prefix(end + 3);
  }
  if (Contains(text, "blocked using ")) return RejectReason::kRbl;
  if (Contains(text, "Relay access denied")) return RejectReason::kRelay;
  // smtpd_check.c reject_plaintext_session; smtpd.c's "530 5.7.0 Must issue a STARTTLS command first" is a
  // reply, not a reject line, but policy servers' texts repeat it
  if (Contains(text, "Session encryption is required") || Contains(text, "Must issue a STARTTLS command first")) {
    return RejectReason::kTlsRequired;
  }
  // check_message_size "552 5.3.4 Message size exceeds fixed limit"
  if (Contains(text, "Message size exceeds") || (dsn.subject == 3 && dsn.detail == 4)) return RejectReason::kSize;
  if (Starts(text, "Helo command rejected: ")) return RejectReason::kHelo;
  // reject_unknown_reverse_name / reject_unknown_client
  if (Starts(text, "Client host rejected: cannot find your ")) return RejectReason::kReverseDns;
  // reject_sender_login_mismatch; check_sasl_access
  static constexpr string_view kAuth[] = {"Sender address rejected: not owned by user",
                                          "Sender address rejected: not logged in", "SASL login name rejected",
                                          "Authentication required"};
  if (ContainsAny(text, kAuth)) return RejectReason::kAuth;
  // User unknown, Domain not found, undeliverable/unverified address: X.1.x
  if (dsn.subject == 1 && Starts(text, "Recipient address rejected: ")) return RejectReason::kUnknownRecipient;
  if (dsn.subject == 1 && Starts(text, "Sender address rejected: ")) return RejectReason::kUnknownSender;
  // Access maps and policy services: X.7.x (their default "5.7.1 Access
  // denied"), and the greylisting policy servers' "Greylisted".
  static constexpr string_view kPolicy[] = {"Access denied", "Greylisted", "greylisted"};
  if (dsn.subject == 7 || ContainsAny(text, kPolicy)) return RejectReason::kPolicy;
  return RejectReason::kOther;
}

// "reject: RCPT from name[addr]: 550 5.1.1 <a@b>: Recipient address rejected:
// ...; from=<...> to=<...> proto=ESMTP helo=<...>" (log_whatsup). `rest` is
// after "reject: ".
RejectReason ClassifyReject(string_view rest) {
  const size_t from = Find(rest, " from ");
  if (from == npos) return RejectReason::kOther;
  const size_t bracket = rest.find(']', from);
  const size_t colon = Find(rest, ": ", bracket == npos ? from : bracket);
  if (colon == npos) return RejectReason::kOther;
  string_view reply = rest.substr(colon + 2);
  if (const size_t end = Find(reply, "; from=<"); end != npos) {
    reply = reply.substr(0, end);
  } else if (const size_t to = Find(reply, "; to=<"); to != npos) {
    reply = reply.substr(0, to);
  } else if (const size_t proto = Find(reply, "; proto="); proto != npos) {
    reply = reply.substr(0, proto);
  }
  size_t i = 0;
  if (reply.size() > 4 && IsDigit(reply[0]) && IsDigit(reply[1]) && IsDigit(reply[2]) && reply[3] == ' ') i = 4;
  Dsn dsn;
  if (ParseDsn(reply, &i, &dsn) && i < reply.size() && reply[i] == ' ') ++i;
  return ClassifyRejectText(reply.substr(i), dsn);
}

// smtpd.c: "lost connection after %s from %s", DATA/BDAT with " (%lu bytes)".
SmtpStage ParseStage(string_view after) {
  struct Name {
    string_view text;
    SmtpStage stage;
  };
  // HELO is EHLO's stage, BDAT (CHUNKING) DATA's.
  static constexpr Name kNames[] = {{"CONNECT ", SmtpStage::kConnect}, {"EHLO ", SmtpStage::kEhlo},
                                    {"HELO ", SmtpStage::kEhlo},       {"STARTTLS ", SmtpStage::kStarttls},
                                    {"AUTH ", SmtpStage::kAuth},       {"MAIL ", SmtpStage::kMail},
                                    {"RCPT ", SmtpStage::kRcpt},       {"DATA ", SmtpStage::kData},
                                    {"BDAT ", SmtpStage::kData},       {"END-OF-MESSAGE ", SmtpStage::kEndOfMessage}};
  if (after.empty()) return SmtpStage::kOther;
  for (const Name& n : kNames) {
    if (HasPrefix(after, n.text)) return n.stage;
  }
  return SmtpStage::kOther;
}

// The delivery line of log_adhoc.c: "to=<%s>[, orig_to=<%s>], relay=%s[,
// conn_use=%d], delay=%s, delays=%s/%s/%s/%s[, tls=...], dsn=%s, status=%s (%s)".
// `rest` starts with "to=<". Fields are found forward from the relay, so an
// address or a remote reply text cannot stand in for them.
Kind ParseDelivery(string_view rest, Event* e) {
  size_t i = Find(rest, ", relay=");
  if (i == npos) return Kind::kUnparsed;
  i = Find(rest, ", delay=", i);
  if (i == npos) return Kind::kUnparsed;
  i += 8;
  if (!ParseDecimal(rest, &i, &e->delay) || !Starts(rest.substr(i), ", delays=")) return Kind::kUnparsed;
  i += 9;
  for (size_t k = 0; k < 4; ++k) {
    if (k > 0) {
      if (i >= rest.size() || rest[i] != '/') return Kind::kUnparsed;
      ++i;
    }
    if (!ParseDecimal(rest, &i, &e->delays[k])) return Kind::kUnparsed;
  }
  i = Find(rest, ", dsn=", i);
  if (i == npos) return Kind::kUnparsed;
  i += 6;
  if (!ParseDsn(rest, &i, &e->dsn) || !Starts(rest.substr(i), ", status=")) return Kind::kUnparsed;
  i += 9;
  string_view status = rest.substr(i);
  string_view reason;
  if (const size_t sp = status.find(' '); sp != npos) {
    reason = status.substr(sp + 1);
    status = status.substr(0, sp);
  }
  if (status == "sent") {
    e->status = DeliveryStatus::kSent;
  } else if (status == "deferred" || status == "SOFTBOUNCE") {  // bounce.c: soft_bounce logs SOFTBOUNCE, keeps it
    e->status = DeliveryStatus::kDeferred;
  } else if (status == "bounced") {
    e->status = DeliveryStatus::kBounced;
  } else if (status == "deliverable" || status == "undeliverable") {
    return Kind::kInformational;  // verify(8) probes (sent.c/bounce.c "deliverable"/"undeliverable")
  } else {
    return Kind::kUnparsed;
  }
  // smtp_addr.c/dns_lookup.c: DNS failures are on the delivery line only.
  static constexpr string_view kDns[] = {"(Host or domain name not found", "(unable to look up host ",
                                         "(Name service error for "};
  if (e->status != DeliveryStatus::kSent && StartsWithAny(reason, kDns)) {
    e->has_connect_failure = true;
    e->connect_failure = ConnectFailure::kDns;
  }
  return Kind::kDelivery;
}

Transport TransportOf(Daemon d) {
  switch (d) {
    case Daemon::kSmtp: return Transport::kSmtp;
    case Daemon::kLmtp: return Transport::kLmtp;
    case Daemon::kLocal: return Transport::kLocal;
    case Daemon::kVirtual: return Transport::kVirtual;
    case Daemon::kPipe: return Transport::kPipe;
    case Daemon::kError: return Transport::kError;
    case Daemon::kDiscard: return Transport::kDiscard;
    case Daemon::kRetry: return Transport::kRetry;
    default: return Transport::kOther;
  }
}

// smtpd.c, smtpd_check.c, smtpd_sasl_glue.c, tls_misc.c.
Kind ClassifySmtpd(string_view m, Event* e) {
  if (Starts(m, "connect from ")) return Kind::kSmtpdConnect;
  // smtpd.c "disconnect from %s%s" (command counts), "%s after %s from %s"
  // (timeout, too many errors), "improper command pipelining after %s from %s".
  static constexpr string_view kInfo[] = {"disconnect from ",          "timeout after ",
                                          "too many errors after ",    "improper command pipelining after ",
                                          "SSL_accept error from ",    "setting up TLS connection from ",
                                          "discarding EHLO keywords: "};
  if (Starts(m, "lost connection after ")) {
    e->lost_after = ParseStage(m.substr(22));
    return Kind::kSmtpdLostConnection;
  }
  if (ParseTlsSummary(m, "from", &e->tls_trust)) return Kind::kSmtpdTls;
  if (StartsWithAny(m, kInfo)) return Kind::kInformational;
  string_view rest;
  if (!SplitQueueId(m, &rest)) return Kind::kUnparsed;
  if (Starts(rest, "client=")) {
    e->sasl_login = Contains(rest, ", sasl_username=");
    return Kind::kSmtpdClient;
  }
  static constexpr string_view kRejects[] = {"reject: ", "milter-reject: ", "proxy-reject: "};
  for (string_view r : kRejects) {
    if (rest.starts_with(r)) {
      e->reject_reason = ClassifyReject(rest.substr(r.size()));
      return Kind::kSmtpdReject;
    }
  }
  // Postfix >= 3.9 prefixes the queue id (or NOQUEUE) to the session end lines.
  if (Starts(rest, "lost connection after ")) {
    e->lost_after = ParseStage(rest.substr(22));
    return Kind::kSmtpdLostConnection;
  }
  // Access/milter actions that are no reject (smtpd_check.c check_table_result, smtpd_milter).
  static constexpr string_view kActions[] = {"reject_warning: ", "warn: ",
                                             "hold: ",           "discard: ",
                                             "filter: ",         "redirect: ",
                                             "permit: ",         "milter-hold: ",
                                             "milter-discard: ", "proxy-accept: ",
                                             "prepend: ",        "bcc: ",
                                             "timeout after ",   "too many errors after ",
                                             "disconnect from "};
  if (StartsWithAny(rest, kActions)) return Kind::kInformational;
  return Kind::kUnparsed;
}

// postscreen.c, postscreen_early.c, postscreen_misc.c, postscreen_smtpd.c.
Kind ClassifyPostscreen(string_view m, Event* e) {
  struct Shape {
    string_view prefix;
    PostscreenEvent event;
  };
  static constexpr Shape kShapes[] = {
      {"CONNECT from [", PostscreenEvent::kConnect},
      {"PASS NEW [", PostscreenEvent::kPassNew},
      {"PASS OLD [", PostscreenEvent::kPassOld},
      {"DNSBL rank ", PostscreenEvent::kDnsbl},
      {"PREGREET ", PostscreenEvent::kPregreet},
      {"HANGUP after ", PostscreenEvent::kHangup},
      {"NOQUEUE: reject: ", PostscreenEvent::kReject},
      {"reject: connect from [", PostscreenEvent::kReject},  // all screening ports busy
      {"DISCONNECT [", PostscreenEvent::kOther},
      // "%sLISTED" with respectful_logging ALLOW/DENY, else WHITE/BLACK
      {"ALLOWLISTED [", PostscreenEvent::kOther},
      {"WHITELISTED [", PostscreenEvent::kOther},
      {"DENYLISTED [", PostscreenEvent::kOther},
      {"BLACKLISTED [", PostscreenEvent::kOther},
      {"ALLOWLIST VETO [", PostscreenEvent::kOther},
      {"WHITELIST VETO [", PostscreenEvent::kOther},
      {"COMMAND PIPELINING from [", PostscreenEvent::kOther},
      {"COMMAND TIME LIMIT from [", PostscreenEvent::kOther},
      {"COMMAND COUNT LIMIT from [", PostscreenEvent::kOther},
      {"COMMAND LENGTH LIMIT from [", PostscreenEvent::kOther},
      {"NON-SMTP COMMAND from [", PostscreenEvent::kOther},
      {"BARE NEWLINE from [", PostscreenEvent::kOther},
      {"DATA without valid RCPT from [", PostscreenEvent::kOther},
      {"BDAT without valid RCPT from [", PostscreenEvent::kOther},
  };
  for (const Shape& s : kShapes) {
    if (!m.empty() && HasPrefix(m, s.prefix)) {
      e->postscreen = s.event;
      return Kind::kPostscreen;
    }
  }
  // dict_cache.c "cache %s full cleanup: retained=%d dropped=%d entries"
  if (Starts(m, "cache ") && Contains(m, " cleanup: ")) return Kind::kInformational;
  return Kind::kUnparsed;
}

// cleanup_message.c, cleanup_milter.c (cleanup_act_log, "%s: %s: %s from %s[%s]: %s;").
Kind ClassifyCleanup(string_view m) {
  string_view rest;
  if (!SplitQueueId(m, &rest)) return Kind::kUnparsed;
  if (Starts(rest, "message-id=")) return Kind::kCleanupMessage;
  if (Starts(rest, "reject: ") || Starts(rest, "milter-reject: ")) return Kind::kCleanupReject;
  static constexpr string_view kInfo[] = {
      "resent-message-id=", "warning: ",    "info: ",    "hold: ",  "discard: ",     "replace: ",
      "redirect: ",         "filter: ",     "prepend: ", "strip: ", "milter-hold: ", "milter-discard: ",
      "milter-header-",     "milter-body-", "bcc: ",     "to=<"};
  if (StartsWithAny(rest, kInfo)) return Kind::kInformational;
  return Kind::kUnparsed;
}

// qmgr_active.c ("%s: removed", "%s: from=<%s>, status=%s, returned to
// sender"), global/opened.c ("%s: from=<%s>, size=%ld, nrcpt=%d (queue active)").
Kind ClassifyQmgr(string_view m, Event* e) {
  string_view rest;
  if (!SplitQueueId(m, &rest)) {
    static constexpr string_view kInfo[] = {"table ", "warning: "};
    return StartsWithAny(m, kInfo) ? Kind::kInformational : Kind::kUnparsed;
  }
  if (rest == "removed") return Kind::kQmgrRemoved;
  if (Starts(rest, "from=<")) {
    if (Ends(rest, " (queue active)") && Contains(rest, ", nrcpt=")) return Kind::kQmgrInserted;
    if (Ends(rest, ", returned to sender") &&
        (Contains(rest, ", status=expired,") || Contains(rest, ", status=force-expired,"))) {
      return Kind::kQmgrExpired;
    }
    return Kind::kUnparsed;
  }
  if (Starts(rest, "to=<")) {
    e->transport = Transport::kOther;
    return ParseDelivery(rest, e);
  }
  if (Starts(rest, "skipped, still being delivered")) return Kind::kInformational;
  return Kind::kUnparsed;
}

// bounce_notify_service.c, bounce_one_service.c, bounce_trace_service.c, bounce_warn_service.c.
Kind ClassifyBounce(string_view m) {
  string_view rest;
  if (!SplitQueueId(m, &rest)) return Kind::kUnparsed;
  if (Starts(rest, "sender non-delivery notification: ")) return Kind::kBounceNotification;
  static constexpr string_view kInfo[] = {
      "postmaster non-delivery notification: ", "sender delivery status notification: ", "sender delay notification: ",
      "postmaster delay notification: "};
  return StartsWithAny(rest, kInfo) ? Kind::kInformational : Kind::kUnparsed;
}

// smtp_connect.c: "connect to %s[%s]:%d: %m" (one per failed address; the
// delivery line that follows repeats the last one as its reason).
ConnectFailure ConnectFailureOf(string_view m) {
  const size_t colon = FindLast(m, ": ");
  const string_view err = colon == npos ? string_view() : m.substr(colon + 2);
  if (Starts(err, "Connection refused")) return ConnectFailure::kRefused;
  if (Starts(err, "Connection timed out")) return ConnectFailure::kTimeout;
  if (Starts(err, "No route to host") || Starts(err, "Network is unreachable")) {
    return ConnectFailure::kNoRoute;
  }
  return ConnectFailure::kOther;
}

// Delivery agents: smtp/lmtp (smtp_connect.c, smtp_proto.c, smtp_trouble.c,
// tls_misc.c), local, virtual, pipe, error, discard, retry: log_adhoc.c.
Kind ClassifyDeliveryAgent(string_view m, Event* e) {
  const bool smtp = e->daemon == Daemon::kSmtp || e->daemon == Daemon::kLmtp;
  if (smtp && Starts(m, "connect to ")) {
    e->has_connect_failure = true;
    e->connect_failure = ConnectFailureOf(m);
    return Kind::kSmtpConnectFailure;
  }
  if (smtp && ParseTlsSummary(m, "to", &e->tls_trust)) return Kind::kSmtpTls;
  string_view rest;
  if (!SplitQueueId(m, &rest)) {
    static constexpr string_view kInfo[] = {"SSL_connect error to ", "setting up TLS connection to ",
                                            "certificate verification failed for ",
                                            "server certificate verification failed for "};
    return StartsWithAny(m, kInfo) ? Kind::kInformational : Kind::kUnparsed;
  }
  if (Starts(rest, "to=<")) {
    e->transport = TransportOf(e->daemon);
    return ParseDelivery(rest, e);
  }
  // smtp_proto.c/smtp_trouble.c details of a delivery whose line follows.
  static constexpr string_view kInfo[] = {
      "host ",          "lost connection with ", "conversation with ", "enabling PIX workarounds",
      "breaking line ", "Server certificate not"};
  if (smtp && StartsWithAny(rest, kInfo)) return Kind::kInformational;
  return Kind::kUnparsed;
}

// master.c, postfix-script, pickup.c, dnsblog.c, anvil.c, scache.c.
Kind ClassifyOtherPostfix(string_view m, Daemon d) {
  static constexpr string_view kMaster[] = {"daemon started -- version ", "reload -- version ",
                                            "terminating on signal "};
  static constexpr string_view kScript[] = {"starting the Postfix mail system", "stopping the Postfix mail system",
                                            "refreshing the Postfix mail system",
                                            "waiting for the Postfix mail system to terminate"};
  static constexpr string_view kStats[] = {"statistics: "};
  string_view rest;
  switch (d) {
    case Daemon::kMaster: return StartsWithAny(m, kMaster) ? Kind::kInformational : Kind::kUnparsed;
    case Daemon::kPostfixScript: return StartsWithAny(m, kScript) ? Kind::kInformational : Kind::kUnparsed;
    case Daemon::kPickup:
      return SplitQueueId(m, &rest) && Starts(rest, "uid=") ? Kind::kInformational : Kind::kUnparsed;
    case Daemon::kDnsblog:  // "addr %s listed by domain %s as %s"
      return Starts(m, "addr ") && Contains(m, " listed by domain ") ? Kind::kInformational : Kind::kUnparsed;
    case Daemon::kAnvil:
    case Daemon::kScache: return StartsWithAny(m, kStats) ? Kind::kInformational : Kind::kUnparsed;
    default: return Kind::kUnparsed;
  }
}

Kind ClassifyPostfixMessage(string_view m, Event* e) {
  switch (e->daemon) {
    case Daemon::kSmtpd: return ClassifySmtpd(m, e);
    case Daemon::kPostscreen: return ClassifyPostscreen(m, e);
    case Daemon::kCleanup: return ClassifyCleanup(m);
    case Daemon::kQmgr: return ClassifyQmgr(m, e);
    case Daemon::kBounce: return ClassifyBounce(m);
    case Daemon::kSmtp:
    case Daemon::kLmtp:
    case Daemon::kLocal:
    case Daemon::kVirtual:
    case Daemon::kPipe:
    case Daemon::kError:
    case Daemon::kDiscard:
    case Daemon::kRetry: return ClassifyDeliveryAgent(m, e);
    default: return ClassifyOtherPostfix(m, e->daemon);
  }
}

void ClassifyPostfix(string_view m, Event* e) {
  e->severity = PostfixSeverity(&m);
  if (e->severity == Severity::kNone) {
    e->kind = ClassifyPostfixMessage(m, e);
    return;
  }
  e->kind = Kind::kLogMessage;
  // smtpd_sasl_glue.c: "%s: SASL %.100s authentication failed: %s[, sasl_username=%.100s]"
  if (e->daemon == Daemon::kSmtpd && e->severity == Severity::kWarning) {
    const size_t sasl = Find(m, ": SASL ");
    if (sasl != npos && Find(m, " authentication failed", sasl + 7) != npos) e->kind = Kind::kSmtpdSaslFailure;
  }
}

// ---------------------------------------------------------------- Dovecot --

// The process part of a Dovecot log prefix: "imap-login", "lmtp(user)<pid><session>", "auth-worker(123)".
string_view DovecotBase(string_view process) {
  size_t i = 0;
  while (i < process.size() && process[i] != '(' && process[i] != '<') ++i;
  return process.substr(0, i);
}

bool IsDovecotProcess(string_view base) {
  static constexpr string_view kNames[] = {"imap-login",
                                           "pop3-login",
                                           "managesieve-login",
                                           "submission-login",
                                           "imap",
                                           "pop3",
                                           "managesieve",
                                           "submission",
                                           "lmtp",
                                           "lda",
                                           "auth",
                                           "auth-worker",
                                           "master",
                                           "config",
                                           "log",
                                           "anvil",
                                           "stats",
                                           "indexer",
                                           "indexer-worker",
                                           "dict",
                                           "dict-async",
                                           "doveadm",
                                           "replicator",
                                           "aggregator",
                                           "director",
                                           "quota-status",
                                           "imap-hibernate",
                                           "imap-urlauth",
                                           "imap-urlauth-login",
                                           "imap-urlauth-worker",
                                           "dns-client",
                                           "old-stats",
                                           "ssl-params"};
  if (base.empty()) return false;
  for (string_view n : kNames) {
    if (n.size() == base.size() && HasPrefix(base, n)) return true;
  }
  return false;
}

// lib/failures.c failure_log_type_prefixes; syslog lines have none for Info.
Severity DovecotSeverity(string_view* text) {
  struct Prefix {
    string_view text;
    Severity severity;
  };
  static constexpr Prefix kPrefixes[] = {{"Info: ", Severity::kNone},       {"Debug: ", Severity::kNone},
                                         {"Warning: ", Severity::kWarning}, {"Error: ", Severity::kError},
                                         {"Fatal: ", Severity::kFatal},     {"Panic: ", Severity::kPanic}};
  if (text->empty()) return Severity::kNone;
  for (const Prefix& p : kPrefixes) {
    if (HasPrefix(*text, p.text)) {
      text->remove_prefix(p.text.size());
      return p.severity;
    }
  }
  return Severity::kNone;
}

DovecotProtocol LoginProtocol(string_view base) {
  if (base == "imap-login") return DovecotProtocol::kImap;
  if (base == "pop3-login") return DovecotProtocol::kPop3;
  if (base == "managesieve-login") return DovecotProtocol::kManagesieve;
  if (base == "submission-login") return DovecotProtocol::kSubmission;
  return DovecotProtocol::kOther;
}

// login-common/client-common.c (2.3: client_get_extra_disconnect_reason,
// "Disconnected: %s (auth failed, %u attempts in %u secs)"; 2.2 "Aborted
// login"/"Disconnected (...)"; 2.4 "Login aborted: %s (%s)").
Kind ClassifyLoginProcess(string_view base, string_view text, Event* e) {
  e->protocol = LoginProtocol(base);
  if (Starts(text, "Login: ")) return Kind::kDovecotLogin;
  static constexpr string_view kFailures[] = {"Disconnected", "Aborted login", "Login aborted"};
  if (!StartsWithAny(text, kFailures)) return Kind::kUnparsed;
  // The reason comes before the user's fields (login_log_format "%$: %s").
  const string_view reason = text.substr(0, Find(text, "): user=<") + 1);
  if (Contains(reason, "(auth failed, ")) {
    e->login_failure = LoginFailure::kAuthFailed;
  } else if (Contains(reason, "(no auth attempts")) {
    e->login_failure = LoginFailure::kNoAuthAttempts;
  } else if (Contains(reason, "(tried to use disallowed plaintext auth)") ||
             Contains(reason, "(tried to use disallowed cleartext auth)")) {
    e->login_failure = LoginFailure::kPlaintextDisallowed;
  } else {
    e->login_failure = LoginFailure::kOther;
  }
  return Kind::kDovecotLoginFailure;
}

// auth/auth-request.c auth_request_log_login_failure ("unknown user",
// AUTH_LOG_MSG_PASSWORD_MISMATCH "Password mismatch"), passdb-pam.c
// ("pam_authenticate() failed: %s (Password mismatch?)"), after the
// "passdb(user,rip[,<session>]): " prefix.
Kind ClassifyAuth(string_view text, Event* e) {
  const size_t p = Find(text, "): ");
  if (p == npos) return Kind::kUnparsed;
  const string_view what = text.substr(p + 3);
  if (Starts(what, "unknown user")) {
    e->auth_failure = AuthFailure::kUnknownUser;
  } else if (Starts(what, "Password mismatch")) {
    e->auth_failure = AuthFailure::kPasswordMismatch;
  } else if (Starts(what, "pam_authenticate() failed: ")) {
    e->auth_failure = Contains(what, "(Password mismatch?)") ? AuthFailure::kPasswordMismatch : AuthFailure::kOther;
  } else {
    return Kind::kUnparsed;
  }
  return Kind::kDovecotAuthFailure;
}

// lib-lda/mail-deliver.c ("saved mail to %s", "save failed to %s: %s" after
// deliver_log_format's "msgid=%m: "), Pigeonhole sieve-actions.c ("stored
// mail into mailbox %s", "failed to store into mailbox %s: %s"); quota
// plugin quota.c "Quota exceeded (mailbox for user is full)",
// lib-storage MAIL_ERRSTR_NO_QUOTA "Not enough disk quota". The msgid is the
// sender's text: the result is what follows its last ">: ".
Kind ClassifyDelivery(string_view text, Event* e) {
  static constexpr string_view kInfo[] = {"Connect from ", "Disconnect from "};
  if (StartsWithAny(text, kInfo)) return Kind::kInformational;
  // The result follows the last "msgid=<...>: " ("sieve: msgid=<...>: " with Pigeonhole).
  const size_t id_end = FindLast(text, ">: ");
  const string_view result = id_end == npos ? text : text.substr(id_end + 3);
  if (Starts(result, "saved mail to ") || Starts(result, "stored mail into mailbox ")) {
    e->lmtp_status = LmtpStatus::kSaved;
    return Kind::kDovecotDelivery;
  }
  if (Starts(result, "save failed to ") || Starts(result, "failed to store into mailbox ")) {
    e->lmtp_status = Contains(result, "Quota exceeded") || Contains(result, "Not enough disk quota")
                         ? LmtpStatus::kQuotaExceeded
                         : LmtpStatus::kFailed;
    return Kind::kDovecotDelivery;
  }
  return Kind::kUnparsed;
}

// imap/pop3/managesieve/submission session ends (imap-client.c "Disconnected: %s", "Logged out").
Kind ClassifyMailProcess(string_view text) {
  static constexpr string_view kInfo[] = {"Disconnected", "Logged out", "Connection closed"};
  return StartsWithAny(text, kInfo) ? Kind::kInformational : Kind::kUnparsed;
}

void ClassifyDovecotProcess(string_view process, string_view text, Event* e) {
  e->family = Family::kDovecot;
  e->severity = DovecotSeverity(&text);
  const string_view base = DovecotBase(process);
  Kind kind = Kind::kUnparsed;
  if (Ends(base, "-login")) {
    kind = ClassifyLoginProcess(base, text, e);
  } else if (base == "auth" || base == "auth-worker") {
    kind = ClassifyAuth(text, e);
  } else if (base == "lmtp" || base == "lda") {
    e->dovecot_lda = base == "lda";
    kind = ClassifyDelivery(text, e);
  } else if (base == "imap" || base == "pop3" || base == "managesieve" || base == "submission") {
    kind = ClassifyMailProcess(text);
  } else if (base == "master" && Starts(text, "Dovecot v") && Contains(text, " starting up")) {
    kind = Kind::kInformational;  // master/main.c "Dovecot v%s starting up for %s"
  }
  if (kind == Kind::kUnparsed && e->severity != Severity::kNone) kind = Kind::kLogMessage;
  e->kind = kind;
}

// --------------------------------------------------------------- OpenDKIM --

// opendkim.c syslog() calls; most start with the job id (the MTA's queue id).
Kind ClassifyOpendkim(string_view m, Event* e) {
  e->family = Family::kOpendkim;
  string_view text = m;
  if (const size_t colon = FindColonSpace(m.substr(0, 66)); colon != npos && m.substr(0, colon).find(' ') == npos) {
    text = m.substr(colon + 2);
  }
  if (Starts(text, "DKIM-Signature field added")) return Kind::kDkimSignature;
  struct Shape {
    string_view prefix;
    DkimResult result;
  };
  static constexpr Shape kVerify[] = {{"DKIM verification successful", DkimResult::kPass},
                                      {"bad signature data", DkimResult::kFail},
                                      {"no signature data", DkimResult::kNone}};
  for (const Shape& s : kVerify) {
    if (!text.empty() && HasPrefix(text, s.prefix)) {
      e->dkim_result = s.result;
      return Kind::kDkimVerification;
    }
  }
  // dkimf_log_ssl_errors: "s=%s d=%s SSL %s" (a signature's verification
  // failed in OpenSSL), "SSL %s" (no signature at hand: signing).
  if (Starts(text, "s=") && Contains(text, " d=") && Contains(text, " SSL ")) {
    e->dkim_result = DkimResult::kFail;
    return Kind::kDkimVerification;
  }
  if (Starts(text, "signing table references unknown key ")) {
    e->dkim_error = DkimError::kUnknownKey;
    return Kind::kDkimError;
  }
  if (Starts(text, "key retrieval failed")) {
    e->dkim_error = DkimError::kKeyRetrieval;
    return Kind::kDkimError;
  }
  static constexpr string_view kErrors[] = {"SSL ",
                                            "error loading key ",
                                            "error reading signing table",
                                            "signature generation error",
                                            "failed to add signature",
                                            "key data is not secure",
                                            "dkimf_db_get() failed",
                                            "signature processing failed",
                                            "dkim_eom(): internal error from libopendkim",
                                            "internal error from libopendkim"};
  if (StartsWithAny(text, kErrors) || Contains(text, "internal error from libopendkim")) {
    e->dkim_error = DkimError::kOther;
    return Kind::kDkimError;
  }
  static constexpr string_view kInfo[] = {"OpenDKIM Filter v",
                                          "no signing table match for ",
                                          "not authenticated",
                                          "skipping signing of mail to ",
                                          "external host ",
                                          "domain '",
                                          "signature=",
                                          "ignoring ",
                                          "no MTA name match ",
                                          "no signing domain match for ",
                                          "no signing subdomain match for "};
  // "%s: %s [%s] not internal" (LogWhy)
  if (StartsWithAny(text, kInfo) || StartsWithAny(m, kInfo) || Ends(text, " not internal")) {
    return Kind::kInformational;
  }
  return Kind::kUnparsed;
}

}  // namespace

std::string_view DsnLabel(Dsn d) {
  static constexpr string_view kLabels[3][8] = {
      {"2.0", "2.1", "2.2", "2.3", "2.4", "2.5", "2.6", "2.7"},
      {"4.0", "4.1", "4.2", "4.3", "4.4", "4.5", "4.6", "4.7"},
      {"5.0", "5.1", "5.2", "5.3", "5.4", "5.5", "5.6", "5.7"},
  };
  if (d.subject > 7) return {};
  switch (d.status_class) {
    case 2: return kLabels[0][d.subject];
    case 4: return kLabels[1][d.subject];
    case 5: return kLabels[2][d.subject];
    default: return {};
  }
}

std::string_view KindName(Kind k) {
  static constexpr string_view kNames[kKindCount] = {"ignored",
                                                     "unparsed",
                                                     "informational",
                                                     "log_message",
                                                     "smtpd_connect",
                                                     "smtpd_client",
                                                     "smtpd_sasl_failure",
                                                     "smtpd_reject",
                                                     "smtpd_tls",
                                                     "smtpd_lost_connection",
                                                     "postscreen",
                                                     "cleanup_message",
                                                     "cleanup_reject",
                                                     "qmgr_inserted",
                                                     "qmgr_removed",
                                                     "qmgr_expired",
                                                     "bounce_notification",
                                                     "delivery",
                                                     "smtp_connect_failure",
                                                     "smtp_tls",
                                                     "dovecot_login",
                                                     "dovecot_login_failure",
                                                     "dovecot_auth_failure",
                                                     "dovecot_delivery",
                                                     "dkim_signature",
                                                     "dkim_verification",
                                                     "dkim_error"};
  const auto i = static_cast<size_t>(k);
  return i < kKindCount && !kNames[i].empty() ? kNames[i] : string_view("unknown");
}

Event Classify(std::string_view program, std::string_view message, bool has_host) {
  Event e;
  if (SplitPostfixProgram(program, &e)) {
    ClassifyPostfix(message, &e);
    return e;
  }
  if (program == "dovecot") {
    // syslog: "imap-login: Login: ...", the process prefix inside the message.
    const size_t colon = FindColonSpace(message);
    const string_view process = colon == npos ? string_view() : message.substr(0, colon);
    if (process.empty() || process.find(' ') != npos) {
      e.family = Family::kDovecot;
      e.kind = Kind::kUnparsed;
      return e;
    }
    ClassifyDovecotProcess(process, message.substr(colon + 2), &e);
    return e;
  }
  if (program == "opendkim" || program == "OpenDKIM") {
    e.kind = ClassifyOpendkim(message, &e);
    return e;
  }
  if (!has_host && IsDovecotProcess(DovecotBase(program))) {
    ClassifyDovecotProcess(program, message, &e);
    return e;
  }
  return e;  // kIgnored
}

}  // namespace mailstack::maillog

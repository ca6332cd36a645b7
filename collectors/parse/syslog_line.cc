#include "collectors/parse/syslog_line.h"

#include <bit>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace mailstack::parse {
namespace {

constexpr size_t kMaxHostBytes = 255;
constexpr size_t kMaxTagBytes = 255;
constexpr int64_t kDay = 86400;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
int Digit(char c) { return c - '0'; }

// Two ASCII digits at s[0], s[1] (the caller checked the length), -1 otherwise.
int TwoDigits(const char* s) { return IsDigit(s[0]) && IsDigit(s[1]) ? Digit(s[0]) * 10 + Digit(s[1]) : -1; }

// The length of the valid UTF-8 sequence starting with a byte >= 0x80 at p
// (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), 0 if
// it is not one.
size_t Utf8SequenceLength(const unsigned char* p, const unsigned char* end) {
  const unsigned char c = p[0];
  size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;  // overlong
    if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;  // overlong
    if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;  // a continuation byte, C0/C1 (overlong) or F5..FF
  }
  if (static_cast<size_t>(end - p) < len) return 0;
  if (p[1] < lo || p[1] > hi) return 0;
  for (size_t i = 2; i < len; ++i) {
    if (p[i] < 0x80 || p[i] > 0xBF) return 0;
  }
  return len;
}

// True when all n bytes are in 0x01..0x7F. With SSE2, 64 bytes a step: such a
// byte is greater than zero as a signed byte, so the AND of the comparisons is
// all ones iff every byte is; the line's last 16 bytes (overlapping) cover the
// rest.
bool AllAsciiWithoutNul(const unsigned char* p, size_t n) {
#if defined(__SSE2__)
  if (n >= 16) {
    const __m128i zero = _mm_setzero_si128();
    auto good = [&](const unsigned char* q) {
      return _mm_cmpgt_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q)), zero);
    };
    __m128i acc = good(p + n - 16);
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
      acc = _mm_and_si128(acc, _mm_and_si128(_mm_and_si128(good(p + i), good(p + i + 16)),
                                             _mm_and_si128(good(p + i + 32), good(p + i + 48))));
    }
    if (i + 32 <= n) {
      acc = _mm_and_si128(acc, _mm_and_si128(good(p + i), good(p + i + 16)));
      i += 32;
    }
    if (i + 16 <= n) acc = _mm_and_si128(acc, good(p + i));
    return _mm_movemask_epi8(acc) == 0xFFFF;
  }
#endif
  uint64_t bad = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    bad |= (w - 0x0101010101010101ull) | w;
  }
  for (; i < n; ++i) bad |= (p[i] == 0 || p[i] >= 0x80) ? 0x80 : 0;
  return (bad & 0x8080808080808080ull) == 0;
}

// Month 1..12 from an English abbreviation as syslog writes it ("Jan"), 0
// otherwise: a perfect hash of the three bytes (the multiplier found by a
// search) into 16 slots, then one compare with the slot's name.
constexpr uint32_t MonthKey(unsigned char a, unsigned char b, unsigned char c) {
  return static_cast<uint32_t>(a) | static_cast<uint32_t>(b) << 8 | static_cast<uint32_t>(c) << 16;
}
constexpr uint32_t MonthSlot(uint32_t key) { return (key * 26597u) >> 28; }
struct MonthSlots {
  uint32_t key[16] = {};
  uint8_t month[16] = {};
  int filled = 0;
};
constexpr MonthSlots kMonthSlots = [] {
  constexpr const char* kNames[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  MonthSlots t;
  for (int m = 0; m < 12; ++m) {
    const uint32_t k = MonthKey(kNames[m][0], kNames[m][1], kNames[m][2]);
    if (t.month[MonthSlot(k)] == 0) ++t.filled;
    t.key[MonthSlot(k)] = k;
    t.month[MonthSlot(k)] = static_cast<uint8_t>(m + 1);
  }
  return t;
}();
static_assert(kMonthSlots.filled == 12, "the month hash has a collision");

int Month(const char* s) {
  const uint32_t key =
      MonthKey(static_cast<unsigned char>(s[0]), static_cast<unsigned char>(s[1]), static_cast<unsigned char>(s[2]));
  const uint32_t slot = MonthSlot(key);
  return kMonthSlots.key[slot] == key ? kMonthSlots.month[slot] : 0;
}

struct Clock {
  int hour = 0, minute = 0, second = 0;
};

// "HH:MM:SS" at s (8 bytes available); false when it is not a time of day.
// One 8-byte word: XOR with "00:00:00" leaves the digits' values and zero
// colons; a digit byte is then at most 9 (no high nibble, no carry when 6 is
// added), a colon byte exactly 0.
inline bool ParseClock(const char* s, Clock* c) {
  uint64_t w;
  std::memcpy(&w, s, 8);
  if constexpr (std::endian::native == std::endian::big) w = __builtin_bswap64(w);
  const uint64_t x = w ^ 0x30303A30303A3030ull;  // little-endian "00:00:00"
  if ((x & 0xF0F0FFF0F0FFF0F0ull) != 0 || ((x + 0x0606000606000606ull) & 0xF0F0F0F0F0F0F0F0ull) != 0) return false;
  const uint64_t pairs = x * 10 + (x >> 8);  // byte k: 10 * digit k + digit k+1 (at most 99, no carry)
  c->hour = static_cast<int>(pairs & 0xFF);
  c->minute = static_cast<int>((pairs >> 24) & 0xFF);
  c->second = static_cast<int>((pairs >> 48) & 0xFF);
  return c->hour < 24 && c->minute < 60 && c->second <= 60;
}

bool ValidDay(int year, int month, int day) {
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (day < 1 || day > kDays[month - 1]) return false;
  if (month == 2 && day == 29) return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return true;
}

int64_t SecondsOfDay(const Clock& c) { return c.hour * 3600 + c.minute * 60 + c.second; }

// "Mmm dd HH:MM:SS " (space- or zero-padded day). Returns the bytes used
// (including the trailing space), 0 if it is not one.
size_t ParseTraditional(std::string_view s, const TimeContext& tc, SyslogLine* out) {
  if (s.size() < 16 || s[3] != ' ' || s[6] != ' ' || s[15] != ' ') return 0;
  const int month = Month(s.data());
  if (month == 0) return 0;
  int day;
  if (s[4] == ' ' && IsDigit(s[5])) {
    day = Digit(s[5]);
    out->format = TimestampFormat::kTraditional;
  } else {
    day = TwoDigits(s.data() + 4);
    out->format = s[4] == '0' ? TimestampFormat::kZeroPaddedDay : TimestampFormat::kTraditional;
  }
  Clock c;
  if (!ParseClock(s.data() + 7, &c) || !ValidDay(2000, month, day)) return 0;  // 2000: a leap year, Feb 29 passes
  out->unix_seconds = tc.Resolve(month, day, SecondsOfDay(c));
  out->nanoseconds = 0;
  return 16;
}

// "+HH:MM", "-HH:MM", "Z" at s; seconds east of UTC into *offset; bytes used, 0 if none.
size_t ParseUtcOffset(std::string_view s, int64_t* offset) {
  if (!s.empty() && (s[0] == 'Z' || s[0] == 'z')) {
    *offset = 0;
    return 1;
  }
  if (s.size() < 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':') return 0;
  const int h = TwoDigits(s.data() + 1), m = TwoDigits(s.data() + 4);
  if (h < 0 || h > 23 || m < 0 || m > 59) return 0;
  *offset = (s[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
  return 6;
}

// "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM) ". Returns the bytes used (including
// the trailing space), 0 if it is not one.
size_t ParseRfc3339(std::string_view s, SyslogLine* out) {
  if (s.size() < 21 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't')) return 0;
  const int y_hi = TwoDigits(s.data()), y_lo = TwoDigits(s.data() + 2);
  const int month = TwoDigits(s.data() + 5), day = TwoDigits(s.data() + 8);
  if (y_hi < 0 || y_lo < 0 || month < 1 || month > 12) return 0;
  const int year = y_hi * 100 + y_lo;
  Clock c;
  if (!ValidDay(year, month, day) || !ParseClock(s.data() + 11, &c)) return 0;
  size_t i = 19;
  uint32_t nanos = 0;
  if (s[i] == '.') {
    ++i;
    const size_t first = i;
    uint32_t scale = 100000000;
    while (i < s.size() && IsDigit(s[i])) {
      nanos += Digit(s[i]) * scale;  // digits past the ninth add 0
      scale /= 10;
      ++i;
    }
    if (i == first) return 0;
  }
  int64_t offset = 0;
  const size_t used = ParseUtcOffset(s.substr(i), &offset);
  if (used == 0) return 0;
  i += used;
  if (i >= s.size() || s[i] != ' ') return 0;
  out->format = TimestampFormat::kRfc3339;
  out->unix_seconds = DaysFromCivil(year, month, day) * kDay + SecondsOfDay(c) - offset;
  out->nanoseconds = nanos;
  return i + 1;
}

// The pid digits before tag[close] == ']' by one 8-byte word (tag[close-8 ..
// close-1], little-endian, close >= 8): the number of digits (1..7, 0 when
// there is none; 8 means "look further") into *count and their value.
inline uint32_t PidDigits(const char* tag, size_t close, size_t* count) {
  uint64_t w;
  std::memcpy(&w, tag + close - 8, 8);
  const uint64_t t = w ^ 0x3030303030303030ull;  // a digit's value, or a byte above 9
  const uint64_t other = (t | ((t & 0x0F0F0F0F0F0F0F0Full) + 0x0606060606060606ull)) & 0xF0F0F0F0F0F0F0F0ull;
  if (other == 0) {
    *count = 8;
    return 0;
  }
  const size_t k = static_cast<size_t>(__builtin_clzll(other)) / 8;  // digits at the top (the end of the tag)
  *count = k;
  if (k == 0) return 0;
  // The k digits right-aligned in eight with zeros before them, then the
  // pairs, quads and the eight combined (D. Lemire's parse_eight_digits).
  uint64_t v = t & (~0ull << (8 * (8 - k)));
  v = v * 10 + (v >> 8);
  v = (((v & 0x000000FF000000FFull) * 0x000F424000000064ull) +
       (((v >> 16) & 0x000000FF000000FFull) * 0x0000271000000001ull)) >>
      32;
  return static_cast<uint32_t>(v);
}

// "prog[pid]" or "prog" (the tag without its ':').
bool SplitTag(std::string_view tag, SyslogLine* out) {
  if (tag.empty() || tag.size() > kMaxTagBytes) return false;
  out->has_pid = false;
  out->pid = 0;
  if (tag.back() == ']') {
    // "[pid]": up to 9 digits before the ']'.
    const size_t close = tag.size() - 1;
    size_t i = close, k = 8;
    uint32_t pid = 0;
    if (std::endian::native == std::endian::little && close >= 8) {
      pid = PidDigits(tag.data(), close, &k);
      i = close - k;
    }
    if (k == 8) {  // short tag or a long run of digits: byte by byte
      const size_t lowest = close > 9 ? close - 9 : 0;
      i = close;
      pid = 0;
      for (uint32_t scale = 1; i > lowest && IsDigit(tag[i - 1]); --i, scale *= 10) {
        pid += static_cast<uint32_t>(Digit(tag[i - 1])) * scale;  // scale wraps after the ninth digit, unused then
      }
    }
    if (i < 2 || i == close || tag[i - 1] != '[') return false;  // no program, no digits, or no '['
    out->has_pid = true;
    out->pid = pid;
    tag = tag.substr(0, i - 1);
  }
  // "x[1][2]": a tag holds one [pid].
  if (tag.back() == ']') return false;
  out->program = tag;
  return true;
}

// The offsets of the first two spaces of s (npos when missing). With SSE2 and
// 48 bytes at hand, one mask of the spaces among them (host and tag are
// rarely longer); otherwise memchr.
void FirstTwoSpaces(std::string_view s, size_t* first, size_t* second) {
#if defined(__SSE2__)
  if (s.size() >= 48) {
    const __m128i space = _mm_set1_epi8(' ');
    auto spaces = [&](int k) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + 16 * k));
      return static_cast<uint64_t>(static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, space)))) << (16 * k);
    };
    uint64_t mask = spaces(0) | spaces(1) | spaces(2);
    if (mask != 0) {
      *first = static_cast<size_t>(__builtin_ctzll(mask));
      mask &= mask - 1;
      *second = mask != 0 ? static_cast<size_t>(__builtin_ctzll(mask)) : s.find(' ', 48);
      return;
    }
  }
#endif
  *first = s.find(' ');
  *second = *first == std::string_view::npos ? std::string_view::npos : s.find(' ', *first + 1);
}

// After the timestamp: "[host ]tag: message".
SyslogStatus ParseHeader(std::string_view rest, SyslogLine* out) {
  size_t sp, sp2;
  FirstTwoSpaces(rest, &sp, &sp2);
  std::string_view first = rest.substr(0, sp);
  if (first.empty()) return SyslogStatus::kBadHeader;
  if (first.back() == ':') {  // no host: the tag's colon ends the first word
    out->host = {};
  } else {
    if (first.size() > kMaxHostBytes || sp == std::string_view::npos) return SyslogStatus::kBadHeader;
    out->host = first;
    first = rest.substr(sp + 1, sp2 == std::string_view::npos ? std::string_view::npos : sp2 - sp - 1);
    if (first.size() < 2 || first.back() != ':') return SyslogStatus::kBadHeader;
    sp = sp2;
  }
  if (!SplitTag(first.substr(0, first.size() - 1), out)) return SyslogStatus::kBadHeader;
  out->message = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
  return SyslogStatus::kOk;
}

}  // namespace

std::string_view SyslogStatusName(SyslogStatus s) {
  switch (s) {
    case SyslogStatus::kOk: return "ok";
    case SyslogStatus::kEmpty: return "empty";
    case SyslogStatus::kTooLong: return "too_long";
    case SyslogStatus::kNulByte: return "nul_byte";
    case SyslogStatus::kInvalidUtf8: return "invalid_utf8";
    case SyslogStatus::kBadTimestamp: return "bad_timestamp";
    case SyslogStatus::kBadHeader: return "bad_header";
  }
  return "unknown";
}

int64_t TimeContext::ResolveAroundNewYear(int month, int day, int64_t seconds_of_day) const {
  // Days before the month in a common year.
  static constexpr int kBefore[13] = {0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
  auto local = [&](int i) {
    const int64_t doy = kBefore[month] + day - 1 + (leap_[i] && month > 2 ? 1 : 0);
    return (jan1_[i] + doy) * kDay + seconds_of_day;
  };
  int64_t t = local(1);
  if (t > now_local_ + kDay) {
    t = local(0);  // a December line read in January
  } else if (month == 1 && local(2) <= now_local_ + kDay) {
    t = local(2);  // a January 1st line read on December 31st
  }
  return t - offset_;
}

SyslogStatus CheckLineBytes(std::string_view line) {
  if (line.size() > kMaxLogLineBytes) return SyslogStatus::kTooLong;
  if (line.empty()) return SyslogStatus::kEmpty;
  const auto* p = reinterpret_cast<const unsigned char*>(line.data());
  const auto* const end = p + line.size();
  if (AllAsciiWithoutNul(p, line.size())) return SyslogStatus::kOk;  // the common case, without a branch per byte
  while (p < end) {
    // Eight bytes at a time while they are all in 0x01..0x7F: (w - 0x01..) | w
    // has a byte's high bit set iff that byte is 0 or >= 0x80 (a borrow only
    // starts at a zero byte, which is a hit anyway).
    while (end - p >= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      if (((w - 0x0101010101010101ull) | w) & 0x8080808080808080ull) break;
      p += 8;
    }
    if (p == end) break;
    if (*p == 0) return SyslogStatus::kNulByte;
    if (*p < 0x80) {
      ++p;
      continue;
    }
    const size_t len = Utf8SequenceLength(p, end);
    if (len == 0) return SyslogStatus::kInvalidUtf8;
    p += len;
  }
  return SyslogStatus::kOk;
}

SyslogStatus ParseSyslogLine(std::string_view line, const TimeContext& tc, SyslogLine* out) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (const SyslogStatus s = CheckLineBytes(line); s != SyslogStatus::kOk) return s;
  size_t used = IsDigit(line[0]) ? ParseRfc3339(line, out) : ParseTraditional(line, tc, out);
  if (used == 0) return SyslogStatus::kBadTimestamp;
  return ParseHeader(line.substr(used), out);
}

}  // namespace mailstack::parse

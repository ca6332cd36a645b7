#include "collectors/parse/syslog_line.h"

#include <cstring>

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

// Month 1..12 from an English abbreviation as syslog writes it ("Jan"), 0 otherwise.
int Month(const char* s) {
  static constexpr char kNames[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  for (int m = 0; m < 12; ++m) {
    const char* n = kNames + 3 * m;
    if (s[0] == n[0] && s[1] == n[1] && s[2] == n[2]) return m + 1;
  }
  return 0;
}

struct Clock {
  int hour = 0, minute = 0, second = 0;
};

// "HH:MM:SS" at s (8 bytes available); false when it is not a time of day.
bool ParseClock(const char* s, Clock* c) {
  if (s[2] != ':' || s[5] != ':') return false;
  c->hour = TwoDigits(s);
  c->minute = TwoDigits(s + 3);
  c->second = TwoDigits(s + 6);
  return c->hour >= 0 && c->hour < 24 && c->minute >= 0 && c->minute < 60 && c->second >= 0 && c->second <= 60;
}

bool ValidDay(int year, int month, int day) {
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (day < 1 || day > kDays[month - 1]) return false;
  if (month == 2 && day == 29) return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return true;
}

int64_t SecondsOfDay(const Clock& c) { return c.hour * 3600 + c.minute * 60 + c.second; }

// The year of a year-less local date and time, see ParseSyslogLine.
int64_t InferYear(int month, int day, int64_t local_seconds_of_day, const TimeContext& tc) {
  const int64_t now_local = tc.now_unix + tc.utc_offset_seconds;
  // Year of now_local (civil_from_days, H. Hinnant's algorithm, year part).
  const int64_t z = (now_local >= 0 ? now_local : now_local - (kDay - 1)) / kDay + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t now_month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (now_month <= 2 ? 1 : 0);

  auto local = [&](int64_t y) { return DaysFromCivil(y, month, day) * kDay + local_seconds_of_day; };
  if (local(year) > now_local + kDay) return year - 1;
  if (local(year + 1) <= now_local + kDay) return year + 1;
  return year;
}

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
  const int64_t sod = SecondsOfDay(c);
  const int64_t year = InferYear(month, day, sod, tc);
  out->unix_seconds = DaysFromCivil(year, month, day) * kDay + sod - tc.utc_offset_seconds;
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

// "prog[pid]" or "prog" (the tag without its ':').
bool SplitTag(std::string_view tag, SyslogLine* out) {
  if (tag.empty() || tag.size() > kMaxTagBytes) return false;
  out->has_pid = false;
  out->pid = 0;
  if (tag.back() == ']') {
    const size_t open = tag.rfind('[');
    if (open == std::string_view::npos || open == 0) return false;
    const std::string_view digits = tag.substr(open + 1, tag.size() - open - 2);
    if (digits.empty() || digits.size() > 9) return false;
    uint32_t pid = 0;
    for (char c : digits) {
      if (!IsDigit(c)) return false;
      pid = pid * 10 + Digit(c);
    }
    out->has_pid = true;
    out->pid = pid;
    tag = tag.substr(0, open);
  }
  if (tag.find_first_of("[]") != std::string_view::npos) return false;
  out->program = tag;
  return true;
}

// After the timestamp: "[host ]tag: message".
SyslogStatus ParseHeader(std::string_view rest, SyslogLine* out) {
  size_t sp = rest.find(' ');
  std::string_view first = rest.substr(0, sp);
  if (first.empty()) return SyslogStatus::kBadHeader;
  if (first.back() == ':') {  // no host: the tag's colon ends the first word
    out->host = {};
  } else {
    if (first.size() > kMaxHostBytes || sp == std::string_view::npos) return SyslogStatus::kBadHeader;
    out->host = first;
    rest.remove_prefix(sp + 1);
    sp = rest.find(' ');
    first = rest.substr(0, sp);
    if (first.size() < 2 || first.back() != ':') return SyslogStatus::kBadHeader;
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

int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day) {
  // H. Hinnant's days_from_civil.
  year -= month <= 2 ? 1 : 0;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const int64_t yoe = year - era * 400;
  const int64_t doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

SyslogStatus CheckLineBytes(std::string_view line) {
  if (line.size() > kMaxLogLineBytes) return SyslogStatus::kTooLong;
  if (line.empty()) return SyslogStatus::kEmpty;
  const auto* p = reinterpret_cast<const unsigned char*>(line.data());
  const auto* const end = p + line.size();
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

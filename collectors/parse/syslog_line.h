// Splits one log line into timestamp, host, program (the syslog tag), pid and
// message, without allocating: every string_view points into the line. Pure,
// no I/O. Three timestamp formats, which may be mixed in one file:
//   traditional (Debian rsyslog)  "Dec  4 18:35:04 host prog[pid]: msg"
//   zero-padded day (Postfix's maillog_file via postlogd, Dovecot's own log_path
//   with its default log_timestamp)  "Dec 04 18:35:05 host postfix/master[26698]: msg"
//   RFC 3339 (rsyslog RSYSLOG_FileFormat)  "2026-12-04T18:35:04.123456+01:00 host prog[pid]: msg"
// The host may be missing: a raw /dev/log datagram (RFC 3164 as glibc's
// syslog() sends it, which the lab's socket reader writes as it is) has none,
// "Dec  4 18:35:04 opendkim[26510]: msg", and neither has Dovecot's own log
// file, "Dec 04 18:35:06 imap-login: Info: msg". A first word that ends in ':'
// (the tag's colon) is a tag, not a host.
//
// Untrusted input: a line longer than kMaxLineBytes, one with a NUL byte, invalid
// UTF-8 (overlong forms, surrogates, > U+10FFFF, truncated sequences), a bad
// timestamp or no "tag:" gives a SyslogStatus other than kOk, never UB.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace mailstack::parse {

inline constexpr size_t kMaxLogLineBytes = 64 * 1024;

enum class SyslogStatus : uint8_t {
  kOk = 0,
  kEmpty,         // nothing but an optional '\r'
  kTooLong,       // more than kMaxLogLineBytes
  kNulByte,       // a NUL anywhere in the line
  kInvalidUtf8,   // not UTF-8
  kBadTimestamp,  // none of the three formats, or an impossible date/time
  kBadHeader,     // no "tag:" (or "host tag:") after the timestamp, a bad [pid]
};
std::string_view SyslogStatusName(SyslogStatus s);

enum class TimestampFormat : uint8_t {
  kTraditional = 0,  // "Dec  4" (space-padded day, rsyslog's RSYSLOG_TraditionalFileFormat)
  kZeroPaddedDay,    // "Dec 04" (postlogd, Dovecot's log_timestamp "%b %d %H:%M:%S ")
  kRfc3339,          // "2026-12-04T18:35:04.123456+01:00"
};

// Days since 1970-01-01 of a proleptic Gregorian date (month 1..12; H. Hinnant's days_from_civil).
constexpr int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day) {
  year -= month <= 2 ? 1 : 0;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const int64_t yoe = year - era * 400;
  const int64_t doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// What a year-less timestamp needs to become a Unix time: the reference
// "now" (the reader's clock) and the UTC offset of the log's local time
// (tm_gmtoff of localtime_r at the time of reading; a line written before a
// DST switch and read after it is one hour off; RFC 3339 lines carry their
// own). Built once per batch of lines: it precomputes the local year of now
// and the first days of the years around it, so a line costs no calendar
// arithmetic.
class TimeContext {
 public:
  constexpr TimeContext() : TimeContext(0, 0) {}
  constexpr TimeContext(int64_t now_unix, int32_t utc_offset_seconds)
      : now_unix_(now_unix), now_local_(now_unix + utc_offset_seconds), offset_(utc_offset_seconds) {
    // The year of now_local: the civil year of its day (civil_from_days' year part).
    const int64_t days = (now_local_ >= 0 ? now_local_ : now_local_ - 86399) / 86400;
    int64_t y = (days * 400) / 146097 + 1970;  // close; corrected below
    while (DaysFromCivil(y, 1, 1) > days) --y;
    while (DaysFromCivil(y + 1, 1, 1) <= days) ++y;
    year_ = y;
    for (int i = 0; i < 3; ++i) {
      const int64_t yy = y - 1 + i;
      jan1_[i] = DaysFromCivil(yy, 1, 1);
      leap_[i] = (yy % 4 == 0 && yy % 100 != 0) || yy % 400 == 0;
    }
    constexpr int kBefore[13] = {0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
    for (int m = 1; m <= 12; ++m) month_base_[m] = (jan1_[1] + kBefore[m] + (leap_[1] && m > 2 ? 1 : 0) - 1) * 86400;
  }
  constexpr int64_t now_unix() const { return now_unix_; }
  constexpr int32_t utc_offset_seconds() const { return offset_; }
  // Unix time of a year-less local date and time (month 1..12), the year inferred as ParseSyslogLine says.
  // Inline for the common case: a date of this year, not ahead of now, not in January.
  int64_t Resolve(int month, int day, int64_t seconds_of_day) const {
    const int64_t t = month_base_[month] + day * int64_t{86400} + seconds_of_day;
    if (month != 1 && t <= now_local_ + 86400) return t - offset_;
    return ResolveAroundNewYear(month, day, seconds_of_day);
  }

 private:
  int64_t now_unix_, now_local_;
  int32_t offset_;
  int64_t year_ = 1970;
  int64_t jan1_[3] = {};  // days of Jan 1st of year_-1, year_, year_+1
  bool leap_[3] = {};
  int64_t month_base_[13] = {};  // local seconds of the day before the 1st of each month of year_

  int64_t ResolveAroundNewYear(int month, int day, int64_t seconds_of_day) const;
};

struct SyslogLine {
  int64_t unix_seconds = 0;
  uint32_t nanoseconds = 0;  // RFC 3339 fraction; 0 for the other formats
  TimestampFormat format = TimestampFormat::kTraditional;
  std::string_view host;     // empty when the line has none
  std::string_view program;  // the full tag without [pid] and ':', e.g. "postfix/submission/smtpd"
  bool has_pid = false;
  uint32_t pid = 0;
  std::string_view message;  // after "tag: "; without a trailing '\r'

  double UnixTime() const { return static_cast<double>(unix_seconds) + nanoseconds * 1e-9; }
};

// Parses `line` (without its '\n'; a trailing '\r' is dropped). On kOk, `out`
// is filled; otherwise `out` is left in an unspecified but valid state.
//
// Year inference for the two year-less formats: the year of `now` in the
// log's local time, unless that puts the line more than one day in the future
// (then the year before: a December line read in January), or the next
// year's date is at most one day ahead of now (a January 1st line read on
// December 31st by a reader whose clock is behind).
SyslogStatus ParseSyslogLine(std::string_view line, const TimeContext& tc, SyslogLine* out);

// Whole-line checks that ParseSyslogLine does first (exposed for tests and
// for readers that want them alone): kOk, kEmpty, kTooLong, kNulByte or kInvalidUtf8.
SyslogStatus CheckLineBytes(std::string_view line);

}  // namespace mailstack::parse

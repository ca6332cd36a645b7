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

// What a year-less timestamp needs to become a Unix time: the reference
// "now" (the reader's clock) and the UTC offset of the log's local time
// (tm_gmtoff of localtime_r at the time of reading; a line written before a
// DST switch and read after it is one hour off; RFC 3339 lines carry their own).
struct TimeContext {
  int64_t now_unix = 0;
  int32_t utc_offset_seconds = 0;
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

// Days since 1970-01-01 of a proleptic Gregorian date (month 1..12); exposed for tests.
int64_t DaysFromCivil(int64_t year, unsigned month, unsigned day);

}  // namespace mailstack::parse

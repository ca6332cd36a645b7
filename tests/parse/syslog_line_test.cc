#include "collectors/parse/syslog_line.h"

#include <gtest/gtest.h>

#include <deque>
#include <string>

namespace mailstack::parse {
namespace {

using namespace std::string_literals;

// 2026-12-04T18:40:00Z, a few minutes after the lab run the lines come from.
constexpr int64_t kNow = 1796409600;
constexpr TimeContext kUtc{kNow, 0};

// Unix time of a UTC date and time.
int64_t Utc(int64_t y, unsigned mo, unsigned d, int h, int mi, int s) {
  return DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

// What a parse returns points into its line: every line a test parses is
// kept until the test binary ends.
const std::string& Keep(const std::string& line) {
  static std::deque<std::string>* const lines = new std::deque<std::string>;
  return lines->emplace_back(line);
}

SyslogLine MustParse(const std::string& line_arg, const TimeContext& tc = kUtc) {
  const std::string& line = Keep(line_arg);
  SyslogLine out;
  const SyslogStatus s = ParseSyslogLine(line, tc, &out);
  EXPECT_EQ(s, SyslogStatus::kOk) << SyslogStatusName(s) << ": " << line;
  return out;
}

TEST(DaysFromCivilTest, KnownDates) {
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(DaysFromCivil(2000, 3, 1), 11017);
  EXPECT_EQ(DaysFromCivil(1969, 12, 31), -1);
  EXPECT_EQ(Utc(2026, 12, 4, 18, 40, 0), kNow);
}

// Debian rsyslog's traditional format, lab-traffic-mail.log (host-less, see below).
TEST(SyslogLineTest, TraditionalSpacePaddedDay) {
  const SyslogLine l =
      MustParse("Dec  4 18:36:55 opendkim[29019]: C616710E311: DKIM-Signature field added (s=mail, d=example.test)");
  EXPECT_EQ(l.format, TimestampFormat::kTraditional);
  EXPECT_EQ(l.unix_seconds, Utc(2026, 12, 4, 18, 36, 55));
  EXPECT_EQ(l.nanoseconds, 0u);
  EXPECT_EQ(l.host, "");
  EXPECT_EQ(l.program, "opendkim");
  EXPECT_TRUE(l.has_pid);
  EXPECT_EQ(l.pid, 29019u);
  EXPECT_EQ(l.message, "C616710E311: DKIM-Signature field added (s=mail, d=example.test)");
}

TEST(SyslogLineTest, TraditionalWithHost) {
  const SyslogLine l =
      MustParse("Dec  4 18:35:06 mail postfix/submission/smtpd[26749]: connect from localhost[127.0.0.1]");
  EXPECT_EQ(l.format, TimestampFormat::kTraditional);
  EXPECT_EQ(l.unix_seconds, Utc(2026, 12, 4, 18, 35, 6));
  EXPECT_EQ(l.host, "mail");
  EXPECT_EQ(l.program, "postfix/submission/smtpd");
  EXPECT_EQ(l.pid, 26749u);
  EXPECT_EQ(l.message, "connect from localhost[127.0.0.1]");
}

// Postfix's maillog_file (postlogd), lab-mail.log.
TEST(SyslogLineTest, PostlogdZeroPaddedDay) {
  const SyslogLine l = MustParse(
      "Dec 04 18:35:05 mail postfix/master[26698]: daemon started -- version 3.7.11, configuration "
      "/var/lib/mailstack-test/postfix/etc");
  EXPECT_EQ(l.format, TimestampFormat::kZeroPaddedDay);
  EXPECT_EQ(l.unix_seconds, Utc(2026, 12, 4, 18, 35, 5));
  EXPECT_EQ(l.host, "mail");
  EXPECT_EQ(l.program, "postfix/master");
  EXPECT_EQ(l.pid, 26698u);
  EXPECT_EQ(l.message, "daemon started -- version 3.7.11, configuration /var/lib/mailstack-test/postfix/etc");
}

// A two-digit day is the same in both year-less formats.
TEST(SyslogLineTest, TwoDigitDay) {
  const SyslogLine l = MustParse("Nov 14 03:04:05 mail postfix/qmgr[1]: 4F2A3B1C2D: removed");
  EXPECT_EQ(l.format, TimestampFormat::kTraditional);
  EXPECT_EQ(l.unix_seconds, Utc(2026, 11, 14, 3, 4, 5));
}

// rsyslog's RSYSLOG_FileFormat.
TEST(SyslogLineTest, Rfc3339WithFractionAndOffset) {
  const SyslogLine l =
      MustParse("2026-12-04T18:35:04.123456+01:00 mail postfix/smtpd[26750]: connect from localhost[127.0.0.1]");
  EXPECT_EQ(l.format, TimestampFormat::kRfc3339);
  EXPECT_EQ(l.unix_seconds, Utc(2026, 12, 4, 17, 35, 4));
  EXPECT_EQ(l.nanoseconds, 123456000u);
  EXPECT_DOUBLE_EQ(l.UnixTime(), static_cast<double>(Utc(2026, 12, 4, 17, 35, 4)) + 0.123456);
  EXPECT_EQ(l.host, "mail");
  EXPECT_EQ(l.program, "postfix/smtpd");
  EXPECT_EQ(l.pid, 26750u);
  EXPECT_EQ(l.message, "connect from localhost[127.0.0.1]");
}

TEST(SyslogLineTest, Rfc3339Variants) {
  EXPECT_EQ(MustParse("2026-12-04T18:35:04Z mail dovecot: imap-login: Login: user=<a>").unix_seconds,
            Utc(2026, 12, 4, 18, 35, 4));
  EXPECT_EQ(MustParse("2026-12-04t18:35:04z mail dovecot: x").unix_seconds, Utc(2026, 12, 4, 18, 35, 4));
  const SyslogLine west = MustParse("2026-12-04T18:35:04.5-05:30 mail opendkim[1]: x");
  EXPECT_EQ(west.unix_seconds, Utc(2026, 12, 5, 0, 5, 4));
  EXPECT_EQ(west.nanoseconds, 500000000u);
  // Digits past nanoseconds are dropped.
  EXPECT_EQ(MustParse("2026-12-04T18:35:04.1234567891234+00:00 mail a: x").nanoseconds, 123456789u);
  // A year-less reference does not matter here: the year is in the line.
  EXPECT_EQ(MustParse("2024-02-29T00:00:00Z mail a: x", TimeContext{0, 0}).unix_seconds, Utc(2024, 2, 29, 0, 0, 0));
}

// The formats may be mixed in one file; each line stands alone.
TEST(SyslogLineTest, MixedFormatsInOneFile) {
  const std::string lines[] = {
      "Dec  4 18:35:04 mail postfix/smtpd[1]: connect from a[192.0.2.1]",
      "Dec 04 18:35:04 mail postfix/smtpd[1]: connect from a[192.0.2.1]",
      "2026-12-04T18:35:04.000000+00:00 mail postfix/smtpd[1]: connect from a[192.0.2.1]",
  };
  for (const std::string& line : lines) {
    const SyslogLine l = MustParse(line);
    EXPECT_EQ(l.unix_seconds, Utc(2026, 12, 4, 18, 35, 4)) << line;
    EXPECT_EQ(l.program, "postfix/smtpd") << line;
    EXPECT_EQ(l.message, "connect from a[192.0.2.1]") << line;
  }
}

TEST(SyslogLineTest, YearInference) {
  // A December line read in January is last year's.
  const TimeContext jan{Utc(2027, 1, 1, 0, 0, 10), 0};
  EXPECT_EQ(MustParse("Dec 31 23:59:59 mail postfix/qmgr[1]: x", jan).unix_seconds, Utc(2026, 12, 31, 23, 59, 59));
  EXPECT_EQ(MustParse("Jan  1 00:00:05 mail postfix/qmgr[1]: x", jan).unix_seconds, Utc(2027, 1, 1, 0, 0, 5));
  // A January 1st line read on December 31st by a reader whose clock is behind.
  const TimeContext dec31{Utc(2026, 12, 31, 23, 59, 50), 0};
  EXPECT_EQ(MustParse("Jan  1 00:00:05 mail postfix/qmgr[1]: x", dec31).unix_seconds, Utc(2027, 1, 1, 0, 0, 5));
  // Earlier this year.
  EXPECT_EQ(MustParse("Jun  1 12:00:00 mail a: x").unix_seconds, Utc(2026, 6, 1, 12, 0, 0));
  // Less than a day ahead (clock skew) stays this year; more is last year's.
  EXPECT_EQ(MustParse("Dec  5 10:00:00 mail a: x").unix_seconds, Utc(2026, 12, 5, 10, 0, 0));
  EXPECT_EQ(MustParse("Dec  6 10:00:00 mail a: x").unix_seconds, Utc(2025, 12, 6, 10, 0, 0));
  // In March, a February line is this year's, a November line last year's.
  const TimeContext march{Utc(2026, 3, 10, 0, 0, 0), 0};
  EXPECT_EQ(MustParse("Feb 28 08:00:00 mail a: x", march).unix_seconds, Utc(2026, 2, 28, 8, 0, 0));
  EXPECT_EQ(MustParse("Nov 30 08:00:00 mail a: x", march).unix_seconds, Utc(2025, 11, 30, 8, 0, 0));
}

TEST(SyslogLineTest, LocalTimeOffset) {
  // The log is in UTC+1: 18:35:04 local is 17:35:04Z.
  const TimeContext cet{kNow, 3600};
  EXPECT_EQ(MustParse("Dec  4 18:35:04 mail a: x", cet).unix_seconds, Utc(2026, 12, 4, 17, 35, 4));
  // New Year in UTC-5: read at 2027-01-01 01:00Z (local 2026-12-31 20:00), a Dec 31 19:00 local line is 2026's.
  const TimeContext est{Utc(2027, 1, 1, 1, 0, 0), -5 * 3600};
  EXPECT_EQ(MustParse("Dec 31 19:00:00 mail a: x", est).unix_seconds, Utc(2027, 1, 1, 0, 0, 0));
}

// Shapes without a host: Dovecot's own log file (lab-dovecot.log) and a raw
// /dev/log datagram (lab-mail.log's opendkim line).
TEST(SyslogLineTest, HostlessLines) {
  const SyslogLine d = MustParse(
      "Dec 04 18:35:06 imap-login: Info: Disconnected: Connection closed (no auth attempts in 0 secs): user=<>, "
      "rip=127.0.0.1, lip=127.0.0.1, secured, session=<ZRSXItNhZo1/AAAB>");
  EXPECT_EQ(d.format, TimestampFormat::kZeroPaddedDay);
  EXPECT_EQ(d.host, "");
  EXPECT_EQ(d.program, "imap-login");
  EXPECT_FALSE(d.has_pid);
  EXPECT_EQ(d.message.substr(0, 19), "Info: Disconnected:");

  const SyslogLine m = MustParse(
      "Dec 04 18:35:05 master: Info: Dovecot v2.3.19.1 (9b53102964) starting up for imap, pop3, sieve (core dumps "
      "disabled)");
  EXPECT_EQ(m.program, "master");
  EXPECT_EQ(m.host, "");

  const SyslogLine o = MustParse(
      "Dec  4 18:35:04 opendkim[26510]: OpenDKIM Filter v2.11.0 starting (args: -f -x "
      "/var/lib/mailstack-test/opendkim/opendkim.conf)");
  EXPECT_EQ(o.host, "");
  EXPECT_EQ(o.program, "opendkim");
  EXPECT_EQ(o.pid, 26510u);

  const SyslogLine lmtp = MustParse("Dec 04 18:35:06 lmtp(alice@example.test)<26801><abcd>: Info: msgid=<m@x>: saved");
  EXPECT_EQ(lmtp.program, "lmtp(alice@example.test)<26801><abcd>");
}

TEST(SyslogLineTest, TagWithoutPidAndEmptyMessage) {
  const SyslogLine l = MustParse("Dec  4 18:35:04 mail dovecot: imap-login: Login: user=<a>");
  EXPECT_EQ(l.program, "dovecot");
  EXPECT_FALSE(l.has_pid);
  EXPECT_EQ(l.message, "imap-login: Login: user=<a>");
  EXPECT_EQ(MustParse("Dec  4 18:35:04 mail postfix/smtpd[12]:").message, "");
  EXPECT_EQ(MustParse("Dec  4 18:35:04 mail postfix/smtpd[12]: ").message, "");
  // A trailing CR (a file written with CRLF) is not part of the message.
  EXPECT_EQ(MustParse("Dec  4 18:35:04 mail postfix/smtpd[12]: connect from x\r").message, "connect from x");
}

TEST(SyslogLineTest, Utf8IsAccepted) {
  const SyslogLine l =
      MustParse("Dec  4 18:35:04 mail dovecot: auth: passwd-file(j\xc3\xb6rg,\xe2\x82\xac,\xf0\x9d\x84\x9e): x");
  EXPECT_EQ(l.program, "dovecot");
}

struct BadLine {
  std::string line;
  SyslogStatus status;
};

TEST(SyslogLineTest, GarbageIsACleanError) {
  const BadLine bad[] = {
      {"", SyslogStatus::kEmpty},
      {"\r", SyslogStatus::kEmpty},
      {"hello world", SyslogStatus::kBadTimestamp},
      {"Dec", SyslogStatus::kBadTimestamp},
      {"Foo  4 18:35:04 mail a: x", SyslogStatus::kBadTimestamp},
      {"dec  4 18:35:04 mail a: x", SyslogStatus::kBadTimestamp},
      {"Dec 32 18:35:04 mail a: x", SyslogStatus::kBadTimestamp},
      {"Dec  0 18:35:04 mail a: x", SyslogStatus::kBadTimestamp},
      {"Feb 30 18:35:04 mail a: x", SyslogStatus::kBadTimestamp},
      {"Dec  4 24:00:00 mail a: x", SyslogStatus::kBadTimestamp},
      {"Dec  4 18:60:00 mail a: x", SyslogStatus::kBadTimestamp},
      {"Dec  4 18:35:4x mail a: x", SyslogStatus::kBadTimestamp},
      {"Dec 4 18:35:04 mail a: x", SyslogStatus::kBadTimestamp},
      {"Dec  4 18:35:04mail a: x", SyslogStatus::kBadTimestamp},
      {"2026-13-04T18:35:04Z mail a: x", SyslogStatus::kBadTimestamp},
      {"2026-02-29T18:35:04Z mail a: x", SyslogStatus::kBadTimestamp},  // 2026 is no leap year
      {"2026-12-04 18:35:04Z mail a: x", SyslogStatus::kBadTimestamp},
      {"2026-12-04T18:35:04 mail a: x", SyslogStatus::kBadTimestamp},  // no offset
      {"2026-12-04T18:35:04.Z mail a: x", SyslogStatus::kBadTimestamp},
      {"2026-12-04T18:35:04+1:00 mail a: x", SyslogStatus::kBadTimestamp},
      {"2026-12-04T18:35:04+24:00 mail a: x", SyslogStatus::kBadTimestamp},
      {"2026-12-04T18:35:04Zmail a: x", SyslogStatus::kBadTimestamp},
      {"Dec  4 18:35:04 ", SyslogStatus::kBadHeader},
      {"Dec  4 18:35:04 mail", SyslogStatus::kBadHeader},
      {"Dec  4 18:35:04 mail prog message without a colon", SyslogStatus::kBadHeader},
      {"Dec  4 18:35:04 mail :", SyslogStatus::kBadHeader},
      {"Dec  4 18:35:04 mail prog[12a]: x", SyslogStatus::kBadHeader},
      {"Dec  4 18:35:04 mail prog[]: x", SyslogStatus::kBadHeader},
      {"Dec  4 18:35:04 mail [12]: x", SyslogStatus::kBadHeader},
      {"Dec  4 18:35:04 mail prog[1234567890]: x", SyslogStatus::kBadHeader},
      {"Dec  4 18:35:04 " + std::string(300, 'h') + " prog: x", SyslogStatus::kBadHeader},
      {"Dec  4 18:35:04 mail " + std::string(300, 'p') + ": x", SyslogStatus::kBadHeader},
      {"Dec  4 18:35:04 mail postfix/smtpd[1]: a\0b"s, SyslogStatus::kNulByte},
      {"\0Dec  4 18:35:04 mail a: x"s, SyslogStatus::kNulByte},
      {"Dec  4 18:35:04 mail a: 0123456789\0"s, SyslogStatus::kNulByte},
      {"Dec  4 18:35:04 mail a: \xc0\x80", SyslogStatus::kInvalidUtf8},          // overlong NUL
      {"Dec  4 18:35:04 mail a: \xe0\x80\xaf", SyslogStatus::kInvalidUtf8},      // overlong '/'
      {"Dec  4 18:35:04 mail a: \xed\xa0\x80", SyslogStatus::kInvalidUtf8},      // surrogate
      {"Dec  4 18:35:04 mail a: \xf4\x90\x80\x80", SyslogStatus::kInvalidUtf8},  // > U+10FFFF
      {"Dec  4 18:35:04 mail a: \xf5\x80\x80\x80", SyslogStatus::kInvalidUtf8},
      {"Dec  4 18:35:04 mail a: \x80", SyslogStatus::kInvalidUtf8},      // lone continuation
      {"Dec  4 18:35:04 mail a: \xe2\x82", SyslogStatus::kInvalidUtf8},  // truncated at the end
      {"Dec  4 18:35:04 mail a: \xe2\x82xx", SyslogStatus::kInvalidUtf8},
      {"Dec  4 18:35:04 mail a: caf\xe9 latin-1", SyslogStatus::kInvalidUtf8},
      {"\xff\xfe\x00\x01 binary junk"s, SyslogStatus::kInvalidUtf8},
      {"Dec  4 18:35:04 mail a: " + std::string(kMaxLogLineBytes, 'x'), SyslogStatus::kTooLong},
  };
  for (const BadLine& b : bad) {
    SyslogLine out;
    EXPECT_EQ(ParseSyslogLine(b.line, kUtc, &out), b.status) << '"' << b.line.substr(0, 80) << '"';
  }
}

TEST(SyslogLineTest, LengthLimitIsInclusive) {
  std::string line = "Dec  4 18:35:04 mail a: ";
  line += std::string(kMaxLogLineBytes - line.size(), 'x');
  ASSERT_EQ(line.size(), kMaxLogLineBytes);
  EXPECT_EQ(MustParse(line).message.size(), kMaxLogLineBytes - 24);
  SyslogLine out;
  EXPECT_EQ(ParseSyslogLine(line + "x", kUtc, &out), SyslogStatus::kTooLong);
}

// Every offset of a NUL or a bad byte is found, on both sides of the 8-byte fast path.
TEST(SyslogLineTest, CheckLineBytesEveryOffset) {
  const std::string base = "Dec  4 18:35:04 mail postfix/smtpd[1]: connect from x";
  for (size_t i = 0; i < base.size(); ++i) {
    std::string nul = base, high = base;
    nul[i] = '\0';
    high[i] = '\xff';
    EXPECT_EQ(CheckLineBytes(nul), SyslogStatus::kNulByte) << i;
    EXPECT_EQ(CheckLineBytes(high), SyslogStatus::kInvalidUtf8) << i;
  }
  EXPECT_EQ(CheckLineBytes(base), SyslogStatus::kOk);
  EXPECT_EQ(CheckLineBytes(std::string(kMaxLogLineBytes, 'a')), SyslogStatus::kOk);
}

TEST(SyslogLineTest, StatusNames) {
  EXPECT_EQ(SyslogStatusName(SyslogStatus::kOk), "ok");
  EXPECT_EQ(SyslogStatusName(SyslogStatus::kInvalidUtf8), "invalid_utf8");
  EXPECT_EQ(SyslogStatusName(SyslogStatus::kBadHeader), "bad_header");
}

}  // namespace
}  // namespace mailstack::parse

#include "collectors/logs/logs_collector.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>

#include "collectors/core/config_node.h"
#include "tests/support/option_errors.h"
#include "tests/support/samples.h"

namespace mailstack {
namespace {

namespace fs = std::filesystem;
using namespace std::string_literals;

std::string TestData(const std::string& name) {
  return std::string(MAILSTACK_SOURCE_DIR) + "/tests/parse/testdata/" + name;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/logs_collector_test.XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void Append(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::app | std::ios::binary);
  out << text;
}

LogsCollector::Options ParseOrDie(const std::string& yaml) {
  auto root = ParseYaml(yaml, "t.yml");
  EXPECT_TRUE(root.ok()) << root.status().message();
  auto o = LogsCollector::ParseOptions(*root);
  EXPECT_TRUE(o.ok()) << o.status().message();
  return *o;
}

// One run; "family,label=value,..." -> value (histograms: _count and _sum).
std::map<std::string, double> RunOnce(LogsCollector& c) {
  std::atomic<bool> stop{false};
  CollectContext ctx{Deadline::After(std::chrono::seconds(10)), &stop};
  MetricSink sink(c.Describe());
  EXPECT_TRUE(c.Collect(ctx, sink).ok());
  return testing::FlatSamples(testing::TakeChecked(sink));
}

double Get(const std::map<std::string, double>& m, const std::string& key) {
  auto it = m.find(key);
  if (it == m.end()) {
    ADD_FAILURE() << "no sample " << key;
    return -1;
  }
  return it->second;
}

LogsCollector::Options FileOptions(const std::vector<std::string>& files) {
  LogsCollector::Options o;
  o.sources.clear();
  for (const auto& f : files) o.sources.push_back({LogsCollector::Source::Kind::kFile, f});
  o.start_at_end = false;
  return o;
}

TEST(LogsCollectorOptionsTest, Defaults) {
  auto o = ParseOrDie("{}");
  ASSERT_EQ(o.sources.size(), 1u);
  EXPECT_EQ(o.sources[0].path, "/var/log/mail.log");
  EXPECT_TRUE(o.start_at_end);
  EXPECT_EQ(o.postfix_instances, (std::map<std::string, std::string>{{"postfix", "postfix"}}));
  ASSERT_EQ(o.patterns.size(), 5u);
  EXPECT_EQ(o.patterns[2].name, "connect_refused");
  EXPECT_FALSE(o.fail2ban.has_value());
}

TEST(LogsCollectorOptionsTest, EverySetting) {
  auto o = ParseOrDie(R"(
sources:
  - file: /var/log/mail.log
  - journal: {}
  - journal: {directory: /run/log/journal}
start_at: beginning
postfix_instances: {postfix: main, postfix-out: out}
patterns:
  - {name: relay_access_denied, contains: "Relay access DENIED"}
  - {name: greylisted, contains: ["status=deferred", "greylist"]}
fail2ban: {file: /var/log/f2b.log, jails: [postfix, dovecot]}
)");
  ASSERT_EQ(o.sources.size(), 3u);
  EXPECT_EQ(o.sources[1].Label(), "journal");
  EXPECT_EQ(o.sources[2].Label(), "journal:/run/log/journal");
  EXPECT_FALSE(o.start_at_end);
  EXPECT_EQ(o.postfix_instances.at("postfix-out"), "out");
  ASSERT_EQ(o.patterns.size(), 6u);  // the default of that name replaced, one added
  EXPECT_EQ(o.patterns[1].parts, std::vector<std::string>{"Relay access DENIED"});
  EXPECT_EQ(o.patterns[5].parts, (std::vector<std::string>{"status=deferred", "greylist"}));
  ASSERT_TRUE(o.fail2ban.has_value());
  EXPECT_EQ(o.fail2ban->jails, (std::vector<std::string>{"postfix", "dovecot"}));
  EXPECT_EQ(ParseOrDie("default_patterns: false").patterns.size(), 0u);
}

TEST(LogsCollectorOptionsTest, ErrorsNameFileLineColumn) {
  testing::ExpectOptionErrors<LogsCollector>({
      {"sources: [{file: mail.log}]", "t.yml:1:18: sources[0].file: must be an absolute path (got \"mail.log\")"},
      {"sources: [{file: /a, journal: {}}]", "t.yml:1:11: sources[0]: must have exactly one of file, journal"},
      {"sources: [{}]", "t.yml:1:11: sources[0]: must have exactly one of file, journal"},
      {"sources: [{file: /a}, {file: /a}]", "t.yml:1:23: sources[1]: duplicate source \"/a\""},
      {"sources: []", "t.yml:1:10: sources: must name at least one source"},
      {"sources: [{journal: {dir: /x}}]", "t.yml:1:22: sources[0].journal.dir: unknown key (allowed: directory)"},
      {"start_at: middle", "t.yml:1:11: start_at: must be one of end, beginning (got \"middle\")"},
      {"patterns: [{name: Bad-Name, contains: x}]",
       "t.yml:1:19: patterns[0].name: must be lower-case letters, digits and _ (got \"Bad-Name\")"},
      {"patterns: [{name: a}]", "t.yml:1:12: patterns[0].contains: is required"},
      {"patterns: [{name: a, contains: []}]", "t.yml:1:32: patterns[0].contains: must not be empty"},
      {"patterns: [{name: a, contains: x}, {name: a, contains: y}]",
       "t.yml:1:43: patterns[1].name: duplicate pattern \"a\""},
      {"fail2ban: {jails: []}", "t.yml:1:19: fail2ban.jails: must name at least one jail"},
      {"postfix_instances: {postfix/x: a}",
       "t.yml:1:32: postfix_instances.postfix/x: is a syslog_name prefix without '/' (got \"postfix/x\")"},
      {"postfix_instances: {a: x, b: x}", "t.yml:1:30: postfix_instances.b: duplicate postfix_instance label \"x\""},
      {"sources: [{file: /a}]\nfail2ban: {file: /a, jails: [x]}", "t.yml:2:18: fail2ban.file: is also a source: /a"},
      {"bogus: 1",
       "t.yml:1:1: bogus: unknown key (allowed: sources, start_at, postfix_instances, patterns, default_patterns, "
       "fail2ban)"},
  });
}

// The lab's real traffic log (tests/parse/testdata): every value below was
// counted with grep on that file.
TEST(LogsCollectorTest, CountsTheLabsTrafficLogExactly) {
  LogsCollector c(FileOptions({TestData("lab-traffic-mail.log")}));
  auto m = RunOnce(c);
  const std::string src = "source=" + TestData("lab-traffic-mail.log");
  EXPECT_EQ(Get(m, "mailstack_log_lines_total," + src), 66);
  EXPECT_EQ(Get(m, "mailstack_log_source_up," + src), 1);
  EXPECT_EQ(Get(m, "mailstack_log_rotations_total," + src), 0);
  const std::string pf = "mailstack_postfix_smtpd_";
  const std::string sub = ",postfix_instance=postfix,service=submission";
  const std::string smtpd = ",postfix_instance=postfix,service=smtpd";
  EXPECT_EQ(Get(m, pf + "connections_total" + smtpd), 4);
  EXPECT_EQ(Get(m, pf + "connections_total" + sub), 5);
  EXPECT_EQ(Get(m, pf + "connections_total,postfix_instance=postfix,service=submissions"), 1);
  EXPECT_EQ(Get(m, pf + "connections_total,postfix_instance=postfix,service=fill"), 1);
  EXPECT_EQ(Get(m, pf + "messages_total" + sub), 3);
  EXPECT_EQ(Get(m, pf + "sasl_logins_total" + sub), 3);
  EXPECT_EQ(Get(m, pf + "messages_total,postfix_instance=postfix,service=fill"), 1);
  EXPECT_EQ(Get(m, pf + "sasl_logins_total,postfix_instance=postfix,service=fill"), 0);
  EXPECT_EQ(Get(m, pf + "sasl_failures_total" + sub), 4);
  EXPECT_EQ(Get(m, pf + "tls_connections_total" + sub), 5);
  EXPECT_EQ(Get(m, pf + "rejects_total" + smtpd + ",reason=unknown_recipient"), 2);
  EXPECT_EQ(Get(m, pf + "rejects_total" + smtpd + ",reason=relay"), 1);
  EXPECT_EQ(Get(m, pf + "rejects_total" + smtpd + ",reason=rbl"), 0);
  EXPECT_EQ(Get(m, pf + "lost_connections_total" + smtpd + ",after=EHLO"), 1);
  EXPECT_EQ(Get(m, "mailstack_postfix_cleanup_messages_total,postfix_instance=postfix"), 5);
  EXPECT_EQ(Get(m, "mailstack_postfix_qmgr_messages_inserted_total,postfix_instance=postfix"), 5);
  EXPECT_EQ(Get(m, "mailstack_postfix_qmgr_messages_removed_total,postfix_instance=postfix"), 4);
  const std::string dv = "mailstack_postfix_deliveries_total,postfix_instance=postfix";
  EXPECT_EQ(Get(m, dv + ",transport=virtual,status=sent"), 4);
  EXPECT_EQ(Get(m, dv + ",transport=error,status=deferred"), 1);
  EXPECT_EQ(Get(m, dv + ",transport=lmtp,status=sent"), 0);
  EXPECT_EQ(
      Get(m, "mailstack_postfix_delivery_delay_seconds_count,postfix_instance=postfix,transport=virtual,status=sent"),
      4);
  EXPECT_DOUBLE_EQ(
      Get(m, "mailstack_postfix_delivery_delay_seconds_sum,postfix_instance=postfix,transport=virtual,status=sent"),
      0.34);
  const std::string stage =
      "mailstack_postfix_delivery_delay_stage_seconds_total,postfix_instance=postfix,transport=virtual,stage=";
  EXPECT_DOUBLE_EQ(Get(m, stage + "before_queue_manager"), 0.30);
  EXPECT_DOUBLE_EQ(Get(m, stage + "in_queue_manager"), 0.02);
  EXPECT_EQ(
      Get(m,
          "mailstack_postfix_delivery_failures_total,postfix_instance=postfix,transport=error,status=deferred,dsn=4.3"),
      1);
  EXPECT_EQ(
      Get(m,
          "mailstack_postfix_delivery_failures_total,postfix_instance=postfix,transport=smtp,status=bounced,dsn=5.7"),
      0);
  EXPECT_EQ(Get(m, "mailstack_postfix_log_messages_total,postfix_instance=postfix,severity=warning"), 4);
  EXPECT_EQ(Get(m, "mailstack_opendkim_signatures_total"), 3);
  EXPECT_EQ(Get(m, "mailstack_log_pattern_matches_total,pattern=relay_access_denied"), 1);
  EXPECT_EQ(Get(m, "mailstack_log_pattern_matches_total,pattern=authentication_failure"), 4);
  EXPECT_EQ(Get(m, "mailstack_log_pattern_matches_total,pattern=connect_refused"), 0);
  for (const char* p : {"postfix", "dovecot", "opendkim"}) {
    EXPECT_EQ(Get(m, std::string("mailstack_log_lines_unparsed_total,program=") + p), 0) << p;
  }
}

// A fail2ban ban, a second instance, a bounce by a receiver that blocks us, a
// refused connection and junk: each counted once where it belongs.
TEST(LogsCollectorTest, InstancesBlocksPatternsFail2banAndJunk) {
  TempDir dir;
  const std::string log = dir.File("mail.log"), f2b = dir.File("fail2ban.log");
  Append(log,
         "Dec  4 18:00:00 mx postfix-out/smtp[10]: connect to mx.example.net[192.0.2.7]:25: Connection refused\n"
         "Dec  4 18:00:01 mx postfix-out/smtp[10]: 4B7F81234: to=<a@example.net>, relay=mx.example.net[192.0.2.8]:25, "
         "delay=130, delays=0.1/0/0.2/129.7, dsn=5.7.1, status=bounced (host mx.example.net[192.0.2.8] said: 554 "
         "5.7.1 Service unavailable; Client host [198.51.100.1] blocked using zen.spamhaus.org (in reply to RCPT TO "
         "command))\n"
         "Dec  4 18:00:02 mx postfix-out/smtp[10]: 4B7F81235: to=<b@example.net>, relay=mx.example.net[192.0.2.8]:25, "
         "delay=1, delays=0.1/0/0.2/0.7, dsn=5.1.1, status=bounced (host mx.example.net[192.0.2.8] said: 550 5.1.1 "
         "<b@example.net>: user unknown (in reply to RCPT TO command))\n"
         "Dec  4 18:00:03 mx postfix/smtpd[11]: warning: TLS library problem: error:0A000126:SSL routines::unexpected "
         "eof while reading\n"
         "Dec  4 18:00:04 mx postfix/smtpd[11]: a message no matcher knows\n"
         "\x01\x02 binary junk \xff\n"
         "Dec  4 18:00:05 mx postfix/smtpd[11]: NUL\0inside\n"
         "\n"s);
  Append(f2b,
         "2026-12-04 18:00:00,123 fail2ban.actions        [99]: NOTICE  [postfix-sasl] Ban 203.0.113.5\n"
         "2026-12-04 18:00:01,123 fail2ban.actions        [99]: NOTICE  [postfix-sasl] Restore Ban 203.0.113.6\n"
         "2026-12-04 18:00:02,123 fail2ban.actions        [99]: NOTICE  [sshd] Ban 203.0.113.7\n"
         "2026-12-04 18:00:03,123 fail2ban.actions        [99]: NOTICE  [postfix-sasl] Unban 203.0.113.5\n");
  auto o = FileOptions({log});
  o.postfix_instances = {{"postfix", "main"}, {"postfix-out", "out"}};
  o.fail2ban = LogsCollector::Fail2ban{f2b, {"postfix-sasl", "dovecot"}};
  LogsCollector c(o);
  auto m = RunOnce(c);
  const std::string src = "source=" + log;
  EXPECT_EQ(Get(m, "mailstack_log_lines_total," + src), 8);
  EXPECT_EQ(Get(m, "mailstack_log_lines_malformed_total," + src + ",reason=invalid_utf8"), 1);
  EXPECT_EQ(Get(m, "mailstack_log_lines_malformed_total," + src + ",reason=nul_byte"), 1);
  EXPECT_EQ(Get(m, "mailstack_log_lines_malformed_total," + src + ",reason=empty"), 1);
  EXPECT_EQ(Get(m, "mailstack_log_lines_unparsed_total,program=postfix"), 1);
  EXPECT_EQ(Get(m, "mailstack_postfix_smtp_connect_failures_total,postfix_instance=out,reason=refused"), 1);
  EXPECT_EQ(Get(m, "mailstack_postfix_smtp_connect_failures_total,postfix_instance=main,reason=refused"), 0);
  EXPECT_EQ(Get(m, "mailstack_postfix_deliveries_total,postfix_instance=out,transport=smtp,status=bounced"), 2);
  EXPECT_EQ(Get(m, "mailstack_postfix_delivery_blocked_total,postfix_instance=out,transport=smtp,status=bounced"), 1);
  EXPECT_EQ(
      Get(m, "mailstack_postfix_delivery_failures_total,postfix_instance=out,transport=smtp,status=bounced,dsn=5.7"),
      1);
  EXPECT_EQ(
      Get(m, "mailstack_postfix_delivery_failures_total,postfix_instance=out,transport=smtp,status=bounced,dsn=5.1"),
      1);
  EXPECT_EQ(Get(m, "mailstack_postfix_log_messages_total,postfix_instance=main,severity=warning"), 1);
  EXPECT_EQ(Get(m, "mailstack_log_pattern_matches_total,pattern=connect_refused"), 1);
  EXPECT_EQ(Get(m, "mailstack_log_pattern_matches_total,pattern=tls_library_problem"), 1);
  EXPECT_EQ(Get(m, "mailstack_fail2ban_bans_total,jail=postfix-sasl"), 1);
  EXPECT_EQ(Get(m, "mailstack_fail2ban_bans_total,jail=dovecot"), 0);
  EXPECT_EQ(m.count("mailstack_fail2ban_bans_total,jail=sshd"), 0u);
  EXPECT_EQ(Get(m, "mailstack_log_lines_total,source=" + f2b), 4);
  EXPECT_EQ(Get(m, "mailstack_log_source_up,source=" + f2b), 1);
  // Lines that are not syslog lines carry no time: the newest line with one is 18:00:04.
  const time_t now = ::time(nullptr);
  struct tm tm {};
  localtime_r(&now, &tm);
  tm.tm_mon = 11;
  tm.tm_mday = 4;
  tm.tm_hour = 18;
  tm.tm_min = 0;
  tm.tm_sec = 4;
  tm.tm_isdst = -1;
  if (tm.tm_mon > 11) tm.tm_year -= 1;
  const double want = static_cast<double>(mktime(&tm));
  const double got = Get(m, "mailstack_log_last_line_timestamp_seconds," + src);
  // The year is inferred (this year, or last year if that would be in the future).
  EXPECT_TRUE(got == want || got + 365 * 86400 == want || got + 366 * 86400 == want) << got << " vs " << want;
}

TEST(LogsCollectorTest, EveryFixedLabelSetIsZeroFilledBeforeAnyLine) {
  TempDir dir;
  LogsCollector c(FileOptions({dir.File("missing.log")}));
  auto m = RunOnce(c);
  EXPECT_EQ(Get(m, "mailstack_log_source_up,source=" + dir.File("missing.log")), 0);
  EXPECT_EQ(m.count("mailstack_log_last_line_timestamp_seconds,source=" + dir.File("missing.log")), 0u);
  size_t rejects = 0, lost = 0, deliveries = 0, failures = 0, logins = 0, login_failures = 0;
  for (const auto& [k, v] : m) {
    EXPECT_EQ(v, 0) << k;
    rejects += k.starts_with("mailstack_postfix_smtpd_rejects_total,");
    lost += k.starts_with("mailstack_postfix_smtpd_lost_connections_total,");
    deliveries += k.starts_with("mailstack_postfix_deliveries_total,");
    failures += k.starts_with("mailstack_postfix_delivery_failures_total,");
    logins += k.starts_with("mailstack_dovecot_logins_total,");
    login_failures += k.starts_with("mailstack_dovecot_login_failures_total,");
  }
  EXPECT_EQ(rejects, 11u);          // service smtpd x 11 reasons
  EXPECT_EQ(lost, 9u);              // 9 stages
  EXPECT_EQ(deliveries, 27u);       // 9 transports x 3 statuses
  EXPECT_EQ(failures, 9u * 2 * 8);  // deferred 4.0-4.7, bounced 5.0-5.7 per transport
  EXPECT_EQ(logins, 4u);
  EXPECT_EQ(login_failures, 16u);
  EXPECT_EQ(Get(m, "mailstack_opendkim_verifications_total,result=fail"), 0);
  EXPECT_EQ(Get(m, "mailstack_dovecot_lmtp_deliveries_total,status=quota_exceeded"), 0);
}

TEST(LogsCollectorTest, ReadsOnlyNewLinesAndAPartialLineOnceItEnds) {
  TempDir dir;
  const std::string log = dir.File("mail.log");
  Append(log, "Dec  4 18:00:00 mx postfix/smtpd[1]: connect from a[192.0.2.1]\n");
  auto o = FileOptions({log});
  o.start_at_end = true;
  LogsCollector c(o);
  const std::string key = "mailstack_postfix_smtpd_connections_total,postfix_instance=postfix,service=smtpd";
  EXPECT_EQ(Get(RunOnce(c), key), 0);  // start_at: end
  Append(log,
         "Dec  4 18:00:01 mx postfix/smtpd[1]: connect from a[192.0.2.1]\nDec  4 18:00:02 mx postfix/smtpd[1]: con");
  EXPECT_EQ(Get(RunOnce(c), key), 1);
  Append(log, "nect from a[192.0.2.1]\n");
  auto m = RunOnce(c);
  EXPECT_EQ(Get(m, key), 2);
  EXPECT_EQ(Get(m, "mailstack_log_lines_total,source=" + log), 2);
}

TEST(LogsCollectorTest, ARotationLosesNothingAndIsCounted) {
  TempDir dir;
  const std::string log = dir.File("mail.log");
  const std::string line = "Dec  4 18:00:00 mx postfix/smtpd[1]: connect from a[192.0.2.1]\n";
  Append(log, line + line);
  LogsCollector c(FileOptions({log}));
  const std::string key = "mailstack_postfix_smtpd_connections_total,postfix_instance=postfix,service=smtpd";
  EXPECT_EQ(Get(RunOnce(c), key), 2);
  Append(log, line);
  fs::rename(log, log + ".1");
  Append(log, line + line);
  auto m = RunOnce(c);
  EXPECT_EQ(Get(m, key), 5);
  EXPECT_EQ(Get(m, "mailstack_log_rotations_total,source=" + log), 1);
}

TEST(LogsCollectorTest, AnUnreadableSourceIsDownAndRecovers) {
  TempDir dir;
  const std::string log = dir.File("mail.log");
  fs::create_directory(log);
  LogsCollector c(FileOptions({log}));
  EXPECT_EQ(Get(RunOnce(c), "mailstack_log_source_up,source=" + log), 0);
  fs::remove(log);
  Append(log, "Dec  4 18:00:00 mx postfix/smtpd[1]: connect from a[192.0.2.1]\n");
  auto m = RunOnce(c);
  EXPECT_EQ(Get(m, "mailstack_log_source_up,source=" + log), 1);
  EXPECT_EQ(Get(m, "mailstack_postfix_smtpd_connections_total,postfix_instance=postfix,service=smtpd"), 1);
}

TEST(LogsCollectorTest, AReloadKeepsPositionAndCountsOfWhatIsStillConfigured) {
  TempDir dir;
  const std::string a = dir.File("a.log"), b = dir.File("b.log");
  const std::string line =
      "Dec  4 18:00:00 mx postfix/smtpd[1]: NOQUEUE: reject: RCPT from a[192.0.2.1]: 554 5.7.1 "
      "<x@y.test>: Relay access denied; from=<s@t.test> to=<x@y.test> proto=ESMTP helo=<h>\n";
  Append(a, line);
  Append(b, line + line);
  auto o1 = FileOptions({a, b});
  auto c1 = std::make_unique<LogsCollector>(o1);
  auto m1 = RunOnce(*c1);
  EXPECT_EQ(Get(m1, "mailstack_log_pattern_matches_total,pattern=relay_access_denied"), 3);
  // The new section drops b and adds a pattern; a's position and every count stay.
  auto o2 = FileOptions({a});
  o2.patterns.push_back({"relay_words", {"Relay", "denied"}});
  LogsCollector c2(o2);
  c2.TakeStateFrom(*c1);
  c1.reset();
  Append(a, line);
  auto m2 = RunOnce(c2);
  EXPECT_EQ(Get(m2, "mailstack_log_lines_total,source=" + a), 2);
  EXPECT_EQ(m2.count("mailstack_log_lines_total,source=" + b), 0u);
  EXPECT_EQ(Get(m2, "mailstack_log_pattern_matches_total,pattern=relay_access_denied"), 4);
  EXPECT_EQ(Get(m2, "mailstack_log_pattern_matches_total,pattern=relay_words"), 1);
  EXPECT_EQ(Get(m2, "mailstack_postfix_smtpd_rejects_total,postfix_instance=postfix,service=smtpd,reason=relay"), 4);
}

}  // namespace
}  // namespace mailstack

namespace mailstack {
namespace {

// The issue's figure: a 1M-line stream with 100 rotations of each kind
// (rename + create, copytruncate, delete + recreate), the writer's chunks
// ending mid-line, and a run between chunks: mailstack_log_lines_total is
// exactly the lines written, and so is every family's count.
TEST(LogsCollectorStreamTest, AMillionLinesWithThreeHundredRotationsAreCountedExactlyOnce) {
  const std::string base = fs::exists("/dev/shm") ? "/dev/shm" : "/tmp";
  char tmpl[64];
  std::snprintf(tmpl, sizeof(tmpl), "%s/logs_stream.XXXXXX", base.c_str());
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string log = dir + "/mail.log";
  LogsCollector::Options o;
  o.sources = {{LogsCollector::Source::Kind::kFile, log}};
  o.start_at_end = false;
  LogsCollector c(o);
  constexpr size_t kLines = 1000000, kRotations = 300;
  const std::string connect = "Dec  4 18:00:00 mx postfix/smtpd[1]: connect from a[192.0.2.1]\n";
  const std::string sent =
      "Dec  4 18:00:01 mx postfix/lmtp[2]: 4B7F81234: to=<u@example.test>, relay=mx[private/dovecot-lmtp], "
      "delay=0.2, delays=0.1/0/0/0.1, dsn=2.0.0, status=sent (250 2.0.0 <u@example.test> Saved)\n";
  std::ofstream out;
  auto open = [&] { out.open(log, std::ios::app | std::ios::binary); };
  open();
  size_t written = 0, connects = 0;
  std::mt19937 rng(13);
  for (size_t r = 0; r < kRotations; ++r) {
    const size_t chunk = (kLines - written) / (kRotations - r);
    std::string text;
    for (size_t i = 0; i < chunk; ++i) {
      const bool is_connect = rng() % 2 == 0;
      connects += is_connect;
      text += is_connect ? connect : sent;
    }
    written += chunk;
    // The chunk's last line in two writes with a run between: a partial line waits for its newline.
    const size_t last = text.rfind('\n', text.size() - 2) + 1;
    const size_t cut = last + (text.size() - last) / 2;
    out << text.substr(0, cut);
    out.flush();
    if (r % 4 == 0) RunOnce(c);
    out << text.substr(cut);
    out.flush();
    switch (r % 3) {
      case 0:  // rename + create
        out.close();
        fs::rename(log, log + ".1");
        open();
        break;
      case 1: {      // copytruncate
        RunOnce(c);  // the copy holds what was not read: at most one rotation between runs
        fs::copy_file(log, log + ".1", fs::copy_options::overwrite_existing);
        fs::resize_file(log, 0);
        break;
      }
      case 2:  // delete + recreate
        out.close();
        fs::remove(log);
        open();
        break;
    }
    RunOnce(c);
  }
  out.close();
  auto m = RunOnce(c);
  EXPECT_EQ(Get(m, "mailstack_log_lines_total,source=" + log), kLines);
  EXPECT_EQ(Get(m, "mailstack_log_rotations_total,source=" + log), kRotations);
  EXPECT_EQ(Get(m, "mailstack_postfix_smtpd_connections_total,postfix_instance=postfix,service=smtpd"), connects);
  EXPECT_EQ(Get(m, "mailstack_postfix_deliveries_total,postfix_instance=postfix,transport=lmtp,status=sent"),
            kLines - connects);
  for (const char* p : {"postfix", "dovecot", "opendkim"}) {
    EXPECT_EQ(Get(m, std::string("mailstack_log_lines_unparsed_total,program=") + p), 0) << p;
  }
  EXPECT_EQ(Get(m, "mailstack_log_lines_malformed_total,source=" + log + ",reason=bad_timestamp"), 0);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace mailstack

namespace mailstack {
namespace {

// A writer that dies mid-line before a rotation: the rotated file's
// unterminated last line is one line (handed out when that file is done),
// the rest in the new file another; neither is lost, for each kind.
TEST(LogsCollectorTest, ALineCutByARotationIsTwoLinesNeitherLost) {
  for (int variant = 0; variant < 6; ++variant) {
    const int kind = variant % 3;
    const bool read_before = variant < 3;  // the cut line read (partly) before the rotation, or not at all
    TempDir dir;
    const std::string log = dir.File("mail.log");
    LogsCollector c(FileOptions({log}));
    // The file is open and not empty (copytruncate of a file that was empty at the last run looks like a new
    // file: file_tailer.h).
    Append(log, "Dec  4 18:00:00 mx postfix/smtpd[1]: connect from a[192.0.2.1]\n");
    RunOnce(c);
    Append(log, "Dec  4 18:00:01 mx postfix/smtpd[1]: con");
    if (read_before) RunOnce(c);
    if (kind == 0) fs::rename(log, log + ".1");
    if (kind == 1) {
      fs::copy_file(log, log + ".1");
      fs::resize_file(log, 0);
    }
    if (kind == 2) fs::remove(log);
    Append(log, "nect from a[192.0.2.1]\nDec  4 18:00:02 mx postfix/smtpd[1]: connect from a[192.0.2.1]\n");
    RunOnce(c);
    auto m = RunOnce(c);
    EXPECT_EQ(Get(m, "mailstack_log_lines_total,source=" + log), 4) << "variant " << variant;
    EXPECT_EQ(Get(m, "mailstack_postfix_smtpd_connections_total,postfix_instance=postfix,service=smtpd"), 2)
        << "variant " << variant;
  }
}

}  // namespace
}  // namespace mailstack

namespace mailstack {
namespace {

// Permission denied (mail.log is root:adm 0640 on Debian): source_up 0, and
// 1 again once the file may be read, lines from where the file begins. Run
// as an unprivileged user in a child process (root reads anything).
TEST(LogsCollectorTest, PermissionDeniedIsSourceDownAndRecovers) {
  if (::geteuid() != 0) GTEST_SKIP() << "switching to an unprivileged user needs root";
  TempDir dir;
  const std::string log = dir.File("mail.log");
  Append(log, "Dec  4 18:00:00 mx postfix/smtpd[1]: connect from a[192.0.2.1]\n");
  constexpr uid_t kNobody = 65534;
  ASSERT_EQ(::chmod(log.c_str(), 0), 0);
  ASSERT_EQ(::chown(log.c_str(), kNobody, kNobody), 0);
  ASSERT_EQ(::chmod(fs::path(log).parent_path().c_str(), 0755), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Child: exit code bit i set when check i failed.
    int failed = 0;
    if (::setgid(kNobody) != 0 || ::setuid(kNobody) != 0) ::_exit(64);
    LogsCollector c(FileOptions({log}));
    auto down = RunOnce(c);
    if (down["mailstack_log_source_up,source=" + log] != 0) failed |= 1;
    if (::chmod(log.c_str(), 0644) != 0) ::_exit(65);
    auto up = RunOnce(c);
    if (up["mailstack_log_source_up,source=" + log] != 1) failed |= 2;
    if (up["mailstack_postfix_smtpd_connections_total,postfix_instance=postfix,service=smtpd"] != 1) failed |= 4;
    ::_exit(failed);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "bit 1: not down while denied; 2: not up once readable; 4: line not counted";
}

}  // namespace
}  // namespace mailstack

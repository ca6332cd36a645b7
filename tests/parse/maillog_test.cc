// Table tests of the mail log classifier. Rows marked "lab" are lines of the
// lab's real Postfix 3.7 / Dovecot 2.3.19 / OpenDKIM 2.11 logs
// (tests/parse/testdata/, copied from /tmp/lab-mail.log, lab-dovecot.log and
// lab-traffic-mail.log); the other rows are built from the format string in
// the daemon's source file named next to them (Postfix 3.12 source, Dovecot
// 2.3.19.1 and 2.4, Pigeonhole, OpenDKIM 2.11), for shapes the lab did not
// produce. No row is an invented shape.
#include "collectors/parse/maillog.h"

#include <gtest/gtest.h>

#include <deque>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace mailstack::maillog {
namespace {

constexpr parse::TimeContext kUtc{1796409600, 0};  // 2026-12-04T18:40:00Z

// What a parse returns points into its line: every line a test parses is
// kept until the test binary ends.
const std::string& Keep(const std::string& line) {
  static std::deque<std::string>* const lines = new std::deque<std::string>;
  return lines->emplace_back(line);
}

Event Of(const std::string& line_arg) {
  const std::string& line = Keep(line_arg);
  parse::SyslogLine l;
  const parse::SyslogStatus s = parse::ParseSyslogLine(line, kUtc, &l);
  EXPECT_EQ(s, parse::SyslogStatus::kOk) << parse::SyslogStatusName(s) << ": " << line;
  return Classify(l);
}

// A syslog line of `program` with `message` (the shapes taken from source).
std::string Pf(const std::string& program, const std::string& message) {
  return "Dec  4 18:35:04 mail " + program + "[1234]: " + message;
}
std::string Dovecot(const std::string& message) { return "Dec  4 18:35:04 mail dovecot: " + message; }

// ------------------------------------------------------------ program names

struct ProgramRow {
  std::string line;
  Family family;
  Kind kind;
  std::string instance, service;
  Daemon daemon;
};

TEST(MaillogTest, ProgramNames) {
  const ProgramRow rows[] = {
      // lab
      {"Dec 04 18:35:06 mail postfix/smtpd[26750]: connect from localhost[127.0.0.1]", Family::kPostfix,
       Kind::kSmtpdConnect, "postfix", "smtpd", Daemon::kSmtpd},
      {"Dec 04 18:35:06 mail postfix/submission/smtpd[26749]: connect from localhost[127.0.0.1]", Family::kPostfix,
       Kind::kSmtpdConnect, "postfix", "submission", Daemon::kSmtpd},
      {"Dec 04 18:35:06 mail postfix/submissions/smtpd[26794]: connect from localhost[127.0.0.1]", Family::kPostfix,
       Kind::kSmtpdConnect, "postfix", "submissions", Daemon::kSmtpd},
      {"Dec 04 18:37:34 mail postfix/fill/smtpd[29493]: connect from localhost[127.0.0.1]", Family::kPostfix,
       Kind::kSmtpdConnect, "postfix", "fill", Daemon::kSmtpd},
      {"Dec 04 18:35:05 mail postfix/postfix-script[26696]: starting the Postfix mail system", Family::kPostfix,
       Kind::kInformational, "postfix", "postfix-script", Daemon::kPostfixScript},
      // multi-instance syslog_name (postmulti: "postfix-out"), smtps (master.cf -o syslog_name=postfix/smtps)
      {Pf("postfix-out/smtp", "connect to mx.remote.test[192.0.2.20]:25: Connection refused"), Family::kPostfix,
       Kind::kSmtpConnectFailure, "postfix-out", "smtp", Daemon::kSmtp},
      {Pf("postfix/smtps/smtpd", "connect from unknown[192.0.2.10]"), Family::kPostfix, Kind::kSmtpdConnect, "postfix",
       "smtps", Daemon::kSmtpd},
      {Pf("postfix-in/postscreen", "PASS NEW [192.0.2.10]:41234"), Family::kPostfix, Kind::kPostscreen, "postfix-in",
       "postscreen", Daemon::kPostscreen},
      {Pf("postfix/relay/smtp", "connect to mx.remote.test[192.0.2.20]:25: Connection timed out"), Family::kPostfix,
       Kind::kSmtpConnectFailure, "postfix", "relay", Daemon::kSmtp},
      // a Postfix program without matchers, an unknown daemon of a postfix instance
      {Pf("postfix/postqueue", "some text"), Family::kPostfix, Kind::kUnparsed, "postfix", "postqueue", Daemon::kOther},
      {Pf("postfix/newdaemon", "some text"), Family::kPostfix, Kind::kUnparsed, "postfix", "newdaemon", Daemon::kOther},
      // programs we do not watch
      {Pf("mta/newdaemon", "some text"), Family::kOther, Kind::kIgnored, "", "", Daemon::kOther},
      {Pf("CRON", "(root) CMD (true)"), Family::kOther, Kind::kIgnored, "", "", Daemon::kOther},
      {Pf("systemd", "Started postfix@-.service"), Family::kOther, Kind::kIgnored, "", "", Daemon::kOther},
      {Pf("postfix", "no slash"), Family::kOther, Kind::kIgnored, "", "", Daemon::kOther},
      {Pf("/smtpd", "connect from x"), Family::kOther, Kind::kIgnored, "", "", Daemon::kOther},
      {Pf("postfix/", "connect from x"), Family::kOther, Kind::kIgnored, "", "", Daemon::kOther},
      // with a host, a Dovecot process name is someone else's program
      {Pf("imap-login", "Login: user=<a>"), Family::kOther, Kind::kIgnored, "", "", Daemon::kOther},
  };
  for (const ProgramRow& r : rows) {
    const Event e = Of(r.line);
    EXPECT_EQ(e.family, r.family) << r.line;
    EXPECT_EQ(KindName(e.kind), KindName(r.kind)) << r.line;
    EXPECT_EQ(e.instance, r.instance) << r.line;
    EXPECT_EQ(e.service, r.service) << r.line;
    EXPECT_EQ(e.daemon, r.daemon) << r.line;
  }
}

// --------------------------------------------------------- kinds, in general

struct KindRow {
  std::string line;
  Kind kind;
};

void ExpectKinds(const std::vector<KindRow>& rows) {
  for (const KindRow& r : rows) EXPECT_EQ(KindName(Of(r.line).kind), KindName(r.kind)) << r.line;
}

TEST(MaillogTest, SmtpdKinds) {
  ExpectKinds({
      // lab
      {"Dec 04 18:35:06 mail postfix/smtpd[26750]: disconnect from localhost[127.0.0.1] ehlo=2 starttls=1 quit=1 "
       "commands=4",
       Kind::kInformational},
      {"Dec 04 18:35:06 mail postfix/smtpd[26750]: improper command pipelining after CONNECT from "
       "localhost[127.0.0.1]: \\026\\003\\001\\001 \\001\\000\\001\\034\\003\\003XMc\\360We\\2655$\\224Xk",
       Kind::kInformational},
      {"Dec 04 18:36:55 mail postfix/submission/smtpd[29267]: C616710E311: client=localhost[127.0.0.1], "
       "sasl_method=PLAIN, sasl_username=probe@example.test",
       Kind::kSmtpdClient},
      // smtpd.c "%s: %s after %s from %s" (timeout, too many errors)
      {Pf("postfix/smtpd", "timeout after DATA (1234 bytes) from unknown[192.0.2.10]"), Kind::kInformational},
      {Pf("postfix/smtpd", "too many errors after RCPT from unknown[192.0.2.10]"), Kind::kInformational},
      {Pf("postfix/smtpd", "NOQUEUE: timeout after EHLO from unknown[192.0.2.10]"), Kind::kInformational},
      // smtpd_check.c check_table_result: actions that are no reject
      {Pf("postfix/smtpd",
          "NOQUEUE: reject_warning: RCPT from unknown[192.0.2.10]: 554 5.7.1 <b@remote.test>: Relay access "
          "denied; from=<a@remote.test> to=<b@remote.test> proto=ESMTP helo=<x>"),
       Kind::kInformational},
      {Pf("postfix/smtpd",
          "4F2A3B1C2D: hold: RCPT from unknown[192.0.2.10]: <a@remote.test>: Sender address triggers HOLD "
          "action; from=<a@remote.test> to=<b@example.test> proto=ESMTP helo=<x>"),
       Kind::kInformational},
      // smtpd.c: an unknown line of smtpd
      {Pf("postfix/smtpd", "something new in Postfix 4"), Kind::kUnparsed},
      {Pf("postfix/smtpd", "4F2A3B1C2D: something new"), Kind::kUnparsed},
  });
}

TEST(MaillogTest, SaslLogins) {
  const Event sasl =
      Of("Dec 04 18:36:56 mail postfix/submissions/smtpd[29276]: 33C5610E38A: client=localhost[127.0.0.1], "
         "sasl_method=PLAIN, sasl_username=probe@example.test");  // lab
  EXPECT_EQ(sasl.kind, Kind::kSmtpdClient);
  EXPECT_TRUE(sasl.sasl_login);
  EXPECT_EQ(sasl.service, "submissions");
  const Event plain = Of("Dec 04 18:37:34 mail postfix/fill/smtpd[29493]: 0F97D10E011: client=localhost[127.0.0.1]");
  EXPECT_EQ(plain.kind, Kind::kSmtpdClient);  // lab
  EXPECT_FALSE(plain.sasl_login);
  // Postfix long queue ids (enable_long_queue_ids = yes), base 52.
  EXPECT_EQ(Of(Pf("postfix/smtpd", "4Kw2tq6Dfnz1xh8: client=unknown[192.0.2.10]")).kind, Kind::kSmtpdClient);

  const Event failed =
      Of("Dec 04 18:36:58 mail postfix/submission/smtpd[29267]: warning: localhost[127.0.0.1]: SASL PLAIN "
         "authentication failed: (reason unavailable), sasl_username=probe@example.test");  // lab
  EXPECT_EQ(failed.kind, Kind::kSmtpdSaslFailure);
  EXPECT_EQ(failed.severity, Severity::kWarning);
  EXPECT_EQ(failed.service, "submission");
  EXPECT_EQ(Of("Dec 04 18:37:04 mail postfix/submission/smtpd[29267]: warning: localhost[127.0.0.1]: SASL LOGIN "
               "authentication failed: (reason unavailable), sasl_username=probe@example.test")
                .kind,
            Kind::kSmtpdSaslFailure);  // lab
  // smtpd_sasl_glue.c before sasl_username= was added; Cyrus's own
  // "SASL authentication failure" line is a plain warning.
  EXPECT_EQ(
      Of(Pf("postfix/smtpd", "warning: unknown[192.0.2.10]: SASL LOGIN authentication failed: UGFzc3dvcmQ6")).kind,
      Kind::kSmtpdSaslFailure);
  const Event cyrus = Of(Pf("postfix/smtpd", "warning: SASL authentication failure: Password verification failed"));
  EXPECT_EQ(cyrus.kind, Kind::kLogMessage);
  EXPECT_EQ(cyrus.severity, Severity::kWarning);
}

// ----------------------------------------------------------------- rejects

struct RejectRow {
  std::string line;
  RejectReason reason;
};

TEST(MaillogTest, RejectReasons) {
  const RejectRow rows[] = {
      // lab: reject_unlisted_recipient, reject_unauth_destination
      {"Dec 04 18:36:56 mail postfix/smtpd[29277]: NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 550 5.1.1 "
       "<nobody0@example.test>: Recipient address rejected: User unknown in virtual mailbox table; "
       "from=<a@remote.test> to=<nobody0@example.test> proto=ESMTP helo=<client.example.test>",
       RejectReason::kUnknownRecipient},
      {"Dec 04 18:37:16 mail postfix/smtpd[29277]: NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 554 5.7.1 "
       "<someone@elsewhere.test>: Relay access denied; from=<a@remote.test> to=<someone@elsewhere.test> "
       "proto=ESMTP helo=<client.example.test>",
       RejectReason::kRelay},
      // smtpd_check.c reject_rbl_addr with mail_params.h DEF_DEF_RBL_REPLY
      {Pf("postfix/smtpd",
          "NOQUEUE: reject: RCPT from unknown[192.0.2.10]: 554 5.7.1 Service unavailable; Client host "
          "[192.0.2.10] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.10; "
          "from=<a@remote.test> to=<b@example.test> proto=ESMTP helo=<client.remote.test>"),
       RejectReason::kRbl},
      // smtpd_check.c reject_rbl_domain (reject_rhsbl_sender)
      {Pf("postfix/smtpd",
          "NOQUEUE: reject: RCPT from unknown[192.0.2.10]: 554 5.7.1 Service unavailable; Sender address "
          "[a@spam.test] blocked using dbl.spamhaus.org; from=<a@spam.test> to=<b@example.test> proto=ESMTP "
          "helo=<x>"),
       RejectReason::kRbl},
      // smtpd_check.c reject_unknown_address: "<%s>: %s rejected: Domain not found" (4.1.8 sender)
      {Pf("postfix/smtpd",
          "NOQUEUE: reject: RCPT from unknown[192.0.2.10]: 450 4.1.8 <a@nonexistent.test>: Sender address "
          "rejected: Domain not found; from=<a@nonexistent.test> to=<b@example.test> proto=ESMTP helo=<x>"),
       RejectReason::kUnknownSender},
      // smtpd_check.c reject_unverified_address: "<%s>: %s rejected: undeliverable address: %s"
      {Pf("postfix/smtpd",
          "NOQUEUE: reject: RCPT from unknown[192.0.2.10]: 550 5.1.1 <c@example.test>: Recipient address "
          "rejected: undeliverable address: host mx.example.test[192.0.2.1] said: 550 5.1.1 User unknown (in "
          "reply to RCPT TO command); from=<a@remote.test> to=<c@example.test> proto=ESMTP helo=<x>"),
       RejectReason::kUnknownRecipient},
      // smtpd_check.c reject_unknown_address for the recipient domain (4.1.2)
      {Pf("postfix/smtpd",
          "NOQUEUE: reject: RCPT from unknown[192.0.2.10]: 450 4.1.2 <b@nonexistent.test>: Recipient address "
          "rejected: Domain not found; from=<a@example.test> to=<b@nonexistent.test> proto=ESMTP helo=<x>"),
       RejectReason::kUnknownRecipient},
      // smtpd_check.c reject_unknown_client: "Client host rejected: cannot find your hostname, [%s]" (4.7.25)
      {Pf("postfix/smtpd",
          "NOQUEUE: reject: CONNECT from unknown[192.0.2.10]: 450 4.7.25 Client host rejected: cannot find your "
          "hostname, [192.0.2.10]; proto=SMTP"),
       RejectReason::kReverseDns},
      // smtpd_check.c reject_unknown_reverse_name
      {Pf("postfix/smtpd",
          "NOQUEUE: reject: RCPT from unknown[192.0.2.10]: 450 4.7.1 Client host rejected: cannot find your "
          "reverse hostname, [192.0.2.10]; from=<a@remote.test> to=<b@example.test> proto=ESMTP helo=<x>"),
       RejectReason::kReverseDns},
      // smtpd_check.c reject_non_fqdn_hostname: "<%s>: %s rejected: need fully-qualified hostname"
      {Pf("postfix/smtpd",
          "NOQUEUE: reject: RCPT from unknown[192.0.2.10]: 504 5.5.2 <localhost>: Helo command rejected: need "
          "fully-qualified hostname; from=<a@remote.test> to=<b@example.test> proto=ESMTP helo=<localhost>"),
       RejectReason::kHelo},
      // smtpd_check.c reject_unknown_hostname: "<%s>: %s rejected: Host not found" (4.7.1)
      {Pf("postfix/smtpd",
          "NOQUEUE: reject: RCPT from unknown[192.0.2.10]: 450 4.7.1 <bogus.invalid>: Helo command rejected: "
          "Host not found; from=<a@remote.test> to=<b@example.test> proto=ESMTP helo=<bogus.invalid>"),
       RejectReason::kHelo},
      // smtpd_check.c check_table_result REJECT without text: "<%s>: %s rejected: Access denied" (5.7.1)
      {Pf("postfix/smtpd",
          "NOQUEUE: reject: RCPT from unknown[192.0.2.10]: 554 5.7.1 <b@example.test>: Recipient address "
          "rejected: Access denied; from=<a@remote.test> to=<b@example.test> proto=ESMTP helo=<x>"),
       RejectReason::kPolicy},
      {Pf("postfix/smtpd",
          "NOQUEUE: reject: CONNECT from unknown[192.0.2.10]: 554 5.7.1 <unknown[192.0.2.10]>: Client host "
          "rejected: Access denied; proto=SMTP"),
       RejectReason::kPolicy},
      // check_policy_service reply text (postgrey's "Greylisted") through check_table_result
      {Pf("postfix/smtpd",
          "NOQUEUE: reject: RCPT from unknown[192.0.2.10]: 450 4.2.0 <b@example.test>: Recipient address "
          "rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.test.html; from=<a@remote.test> "
          "to=<b@example.test> proto=ESMTP helo=<x>"),
       RejectReason::kPolicy},
      // smtpd.c milter reply ("%s: %s: %s from %s: %s;%s", milter-reject)
      {Pf("postfix/smtpd",
          "NOQUEUE: milter-reject: RCPT from unknown[192.0.2.10]: 550 5.7.1 Command rejected; "
          "from=<a@remote.test> to=<b@example.test> proto=ESMTP helo=<x>"),
       RejectReason::kPolicy},
      // smtpd_check.c reject_plaintext_session: "Session encryption is required" (4.7.1)
      {Pf("postfix/smtpd",
          "NOQUEUE: reject: MAIL from unknown[192.0.2.10]: 450 4.7.1 Session encryption is required; "
          "from=<a@remote.test> proto=ESMTP helo=<x>"),
       RejectReason::kTlsRequired},
      // smtpd_check.c reject_sender_login_mismatch: "not logged in" / "not owned by user %s"
      {Pf("postfix/submission/smtpd",
          "NOQUEUE: reject: RCPT from unknown[192.0.2.10]: 553 5.7.1 <ceo@example.test>: Sender address rejected: "
          "not logged in; from=<ceo@example.test> to=<b@remote.test> proto=ESMTP helo=<x>"),
       RejectReason::kAuth},
      {Pf("postfix/submission/smtpd",
          "NOQUEUE: reject: RCPT from unknown[192.0.2.10]: 553 5.7.1 <ceo@example.test>: Sender address rejected: "
          "not owned by user alice@example.test; from=<ceo@example.test> to=<b@remote.test> proto=ESMTP "
          "helo=<x> sasl_method=PLAIN sasl_username=alice@example.test"),
       RejectReason::kAuth},
      // smtpd_check.c check_message_size: "552 5.3.4 Message size exceeds fixed limit"
      {Pf("postfix/smtpd",
          "NOQUEUE: reject: MAIL from unknown[192.0.2.10]: 552 5.3.4 Message size exceeds fixed limit; "
          "from=<a@remote.test> proto=ESMTP helo=<x>"),
       RejectReason::kSize},
      // smtpd_check.c reject_unauth_pipelining (5.5.0), "Multi-recipient bounce" (5.5.3, queued), "Server
      // configuration error" (4.3.5), smtpd.c "bare <LF> received" (log_whatsup without a reply code)
      {Pf("postfix/smtpd",
          "NOQUEUE: reject: RCPT from unknown[192.0.2.10]: 503 5.5.0 <b@example.test>: Recipient address "
          "rejected: Improper use of SMTP command pipelining; from=<a@remote.test> to=<b@example.test> "
          "proto=SMTP helo=<x>"),
       RejectReason::kOther},
      {Pf("postfix/smtpd",
          "4F2A3B1C2D: reject: DATA from unknown[192.0.2.10]: 550 5.5.3 <DATA>: Data command rejected: "
          "Multi-recipient bounce; from=<> proto=ESMTP helo=<x>"),
       RejectReason::kOther},
      {Pf("postfix/smtpd",
          "NOQUEUE: reject: RCPT from unknown[192.0.2.10]: 451 4.3.5 Server configuration error; "
          "from=<a@remote.test> to=<b@example.test> proto=ESMTP helo=<x>"),
       RejectReason::kOther},
      {Pf("postfix/smtpd",
          "4F2A3B1C2D: reject: END-OF-MESSAGE from unknown[192.0.2.10]: bare <LF> received; from=<a@remote.test> "
          "to=<b@example.test> proto=ESMTP helo=<x>"),
       RejectReason::kOther},
      // An address cannot pose as the reason: "blocked using " inside the quoted local part.
      {Pf("postfix/smtpd",
          "NOQUEUE: reject: RCPT from unknown[192.0.2.10]: 550 5.1.1 <\"blocked using \"@example.test>: Recipient "
          "address rejected: User unknown in virtual mailbox table; from=<Relay access denied@x> "
          "to=<\"blocked using \"@example.test> proto=ESMTP helo=<x>"),
       RejectReason::kUnknownRecipient},
  };
  for (const RejectRow& r : rows) {
    const Event e = Of(r.line);
    EXPECT_EQ(e.kind, Kind::kSmtpdReject) << r.line;
    EXPECT_EQ(kRejectReasonNames[static_cast<size_t>(e.reject_reason)],
              kRejectReasonNames[static_cast<size_t>(r.reason)])
        << r.line;
  }
}

// -------------------------------------------------- TLS and lost connections

TEST(MaillogTest, SmtpdTlsAndLostConnections) {
  const Event tls =
      Of("Dec 04 18:35:06 mail postfix/submissions/smtpd[26794]: Anonymous TLS connection established from "
         "localhost[127.0.0.1]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 "
         "server-signature RSA-PSS (2048 bits) server-digest SHA256");  // lab
  EXPECT_EQ(tls.kind, Kind::kSmtpdTls);
  EXPECT_EQ(tls.tls_trust, TlsTrust::kAnonymous);
  EXPECT_EQ(tls.service, "submissions");
  // tls_misc.c tls_log_summary with a client certificate; " to <sni>" after the client (SNI)
  const Event trusted = Of(Pf("postfix/smtpd",
                              "Trusted TLS connection established from client.remote.test[192.0.2.10]: TLSv1.3 "
                              "with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)"));
  EXPECT_EQ(trusted.kind, Kind::kSmtpdTls);
  EXPECT_EQ(trusted.tls_trust, TlsTrust::kTrusted);
  EXPECT_EQ(Of(Pf("postfix/smtpd",
                  "Untrusted TLS connection established from client.remote.test[192.0.2.10] to mail.example.test: "
                  "TLSv1.2 with cipher ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)"))
                .tls_trust,
            TlsTrust::kUntrusted);
  // "to" is the client's direction: not an smtpd line shape.
  EXPECT_EQ(Of(Pf("postfix/smtpd", "Verified TLS connection established to x[192.0.2.1]:25: TLSv1.3")).kind,
            Kind::kUnparsed);

  struct Lost {
    std::string line;
    SmtpStage after;
  };
  const Lost rows[] = {
      // lab
      {"Dec 04 18:35:06 mail postfix/smtpd[26750]: lost connection after CONNECT from localhost[127.0.0.1]",
       SmtpStage::kConnect},
      {"Dec 04 18:37:16 mail postfix/smtpd[29278]: lost connection after EHLO from localhost[127.0.0.1]",
       SmtpStage::kEhlo},
      // smtpd.c: "%s after %s from %s"; DATA and BDAT "%s after %s (%lu bytes) from %s"; Postfix >= 3.9
      // prefixes "%s: " (queue id or NOQUEUE)
      {Pf("postfix/smtpd", "lost connection after HELO from unknown[192.0.2.10]"), SmtpStage::kEhlo},
      {Pf("postfix/smtpd", "lost connection after STARTTLS from unknown[192.0.2.10]"), SmtpStage::kStarttls},
      {Pf("postfix/submission/smtpd", "lost connection after AUTH from unknown[192.0.2.10]"), SmtpStage::kAuth},
      {Pf("postfix/smtpd", "lost connection after MAIL from unknown[192.0.2.10]"), SmtpStage::kMail},
      {Pf("postfix/smtpd", "lost connection after RCPT from unknown[192.0.2.10]"), SmtpStage::kRcpt},
      {Pf("postfix/smtpd", "lost connection after DATA (0 bytes) from unknown[192.0.2.10]"), SmtpStage::kData},
      {Pf("postfix/smtpd", "4F2A3B1C2D: lost connection after BDAT (4096 bytes) from unknown[192.0.2.10]"),
       SmtpStage::kData},
      {Pf("postfix/smtpd", "lost connection after END-OF-MESSAGE from unknown[192.0.2.10]"), SmtpStage::kEndOfMessage},
      {Pf("postfix/smtpd", "NOQUEUE: lost connection after RSET from unknown[192.0.2.10]"), SmtpStage::kOther},
      {Pf("postfix/smtpd", "lost connection after UNKNOWN from unknown[192.0.2.10]"), SmtpStage::kOther},
  };
  for (const Lost& r : rows) {
    const Event e = Of(r.line);
    EXPECT_EQ(e.kind, Kind::kSmtpdLostConnection) << r.line;
    EXPECT_EQ(kSmtpStageNames[static_cast<size_t>(e.lost_after)], kSmtpStageNames[static_cast<size_t>(r.after)])
        << r.line;
  }
}

// -------------------------------------------------------------- postscreen

TEST(MaillogTest, PostscreenEvents) {
  struct Row {
    std::string message;
    PostscreenEvent event;
  };
  const Row rows[] = {
      {"CONNECT from [192.0.2.10]:41234 to [192.0.2.1]:25", PostscreenEvent::kConnect},  // postscreen.c
      {"PASS NEW [192.0.2.10]:41234", PostscreenEvent::kPassNew},                        // postscreen_misc.c
      {"PASS OLD [192.0.2.10]:41234", PostscreenEvent::kPassOld},                        // postscreen.c
      {"DNSBL rank 3 for [192.0.2.10]:41234", PostscreenEvent::kDnsbl},                  // postscreen_early.c
      {"PREGREET 11 after 0.15 from [192.0.2.10]:41234: EHLO x\\r\\n", PostscreenEvent::kPregreet},
      {"HANGUP after 0.6 from [192.0.2.10]:41234 in tests after SMTP handshake", PostscreenEvent::kHangup},
      // postscreen_smtpd.c "NOQUEUE: reject: RCPT from [%s]:%s: %.*s; from=<%s>, to=<%s>, proto=%s, helo=<%s>"
      {"NOQUEUE: reject: RCPT from [192.0.2.10]:41234: 550 5.7.1 Service unavailable; client [192.0.2.10] "
       "blocked using zen.spamhaus.org; from=<a@remote.test>, to=<b@example.test>, proto=ESMTP, helo=<x>",
       PostscreenEvent::kReject},
      // postscreen.c "NOQUEUE: reject: CONNECT from [%s]:%s: too many connections"
      {"NOQUEUE: reject: CONNECT from [192.0.2.10]:41234: too many connections", PostscreenEvent::kReject},
      {"DISCONNECT [192.0.2.10]:41234", PostscreenEvent::kOther},   // postscreen_misc.c
      {"ALLOWLISTED [192.0.2.10]:41234", PostscreenEvent::kOther},  // postscreen.c
      {"DENYLISTED [192.0.2.10]:41234", PostscreenEvent::kOther},   // postscreen.c
      {"COMMAND PIPELINING from [192.0.2.10]:41234 after EHLO: QUIT\\r\\n", PostscreenEvent::kOther},
      {"NON-SMTP COMMAND from [192.0.2.10]:41234 after CONNECT: GET / HTTP/1.1", PostscreenEvent::kOther},
  };
  for (const Row& r : rows) {
    const Event e = Of(Pf("postfix/postscreen", r.message));
    EXPECT_EQ(e.kind, Kind::kPostscreen) << r.message;
    EXPECT_EQ(kPostscreenEventNames[static_cast<size_t>(e.postscreen)],
              kPostscreenEventNames[static_cast<size_t>(r.event)])
        << r.message;
  }
  // util/dict_cache.c "cache %s full cleanup: retained=%d dropped=%d entries"
  EXPECT_EQ(Of(Pf("postfix/postscreen",
                  "cache btree:/var/lib/postfix/postscreen_cache full cleanup: retained=3 dropped=0 entries"))
                .kind,
            Kind::kInformational);
  EXPECT_EQ(Of(Pf("postfix/postscreen", "something else")).kind, Kind::kUnparsed);
}

// ------------------------------------------------ cleanup, qmgr and bounce

TEST(MaillogTest, CleanupQmgrBounce) {
  ExpectKinds({
      // lab
      {"Dec 04 18:36:55 mail postfix/cleanup[29274]: C616710E311: "
       "message-id=<sasl0.1796409415.744561@example.test>",
       Kind::kCleanupMessage},
      {"Dec 04 18:36:55 mail postfix/qmgr[29257]: C616710E311: from=<probe@example.test>, size=580, nrcpt=1 "
       "(queue active)",
       Kind::kQmgrInserted},
      {"Dec 04 18:36:55 mail postfix/qmgr[29257]: C616710E311: removed", Kind::kQmgrRemoved},
      // cleanup_message.c "%s: message-id=<>" and "%s: resent-message-id=%s"
      {Pf("postfix/cleanup", "4F2A3B1C2D: message-id=<>"), Kind::kCleanupMessage},
      {Pf("postfix/cleanup", "4F2A3B1C2D: resent-message-id=<r@x>"), Kind::kInformational},
      // cleanup_message.c cleanup_act_log "%s: %s: %s %.200s from %s;...: %s" (header_checks REJECT, WARN)
      {Pf("postfix/cleanup",
          "4F2A3B1C2D: reject: header Subject: Buy now from unknown[192.0.2.10]; from=<a@remote.test> "
          "to=<b@example.test> proto=ESMTP helo=<x>: 5.7.1 Spam"),
       Kind::kCleanupReject},
      {Pf("postfix/cleanup",
          "4F2A3B1C2D: warning: header Subject: Buy now from unknown[192.0.2.10]; from=<a@remote.test> "
          "to=<b@example.test> proto=ESMTP helo=<x>"),
       Kind::kInformational},
      // cleanup_milter.c "%s: %s: %s from %s[%s]: %s;" (milter-reject)
      {Pf("postfix/cleanup",
          "4F2A3B1C2D: milter-reject: END-OF-MESSAGE from unknown[192.0.2.10]: 5.7.1 Command rejected; "
          "from=<a@remote.test> to=<b@example.test> proto=ESMTP helo=<x>"),
       Kind::kCleanupReject},
      {Pf("postfix/cleanup", "4F2A3B1C2D: something new"), Kind::kUnparsed},
      {Pf("postfix/cleanup", "no queue id here"), Kind::kUnparsed},
      // qmgr_active.c "%s: from=<%s>, status=%s, returned to sender" (expired, force-expired)
      {Pf("postfix/qmgr", "4F2A3B1C2D: from=<a@example.test>, status=expired, returned to sender"), Kind::kQmgrExpired},
      {Pf("postfix/qmgr", "4F2A3B1C2D: from=<>, status=force-expired, returned to sender"), Kind::kQmgrExpired},
      {Pf("postfix/qmgr", "4F2A3B1C2D: from=<a@example.test>, something else"), Kind::kUnparsed},
      // qmgr.c "table %s has changed -- restarting"
      {Pf("postfix/qmgr", "table hash:/etc/postfix/transport(0,lock|fold_fix) has changed -- restarting"),
       Kind::kInformational},
      // bounce_notify_service.c "%s: sender non-delivery notification: %s", "postmaster ..."
      {Pf("postfix/bounce", "4F2A3B1C2D: sender non-delivery notification: 5B3C4D2E1F"), Kind::kBounceNotification},
      {Pf("postfix/bounce", "4F2A3B1C2D: postmaster non-delivery notification: 5B3C4D2E1F"), Kind::kInformational},
      // bounce_warn_service.c, bounce_trace_service.c
      {Pf("postfix/bounce", "4F2A3B1C2D: sender delay notification: 5B3C4D2E1F"), Kind::kInformational},
      {Pf("postfix/bounce", "4F2A3B1C2D: sender delivery status notification: 5B3C4D2E1F"), Kind::kInformational},
      {Pf("postfix/bounce", "4F2A3B1C2D: something new"), Kind::kUnparsed},
      // master.c, postfix-script, pickup.c, dnsblog.c, anvil.c
      {Pf("postfix/master", "reload -- version 3.7.11, configuration /etc/postfix"), Kind::kInformational},
      {Pf("postfix/master", "terminating on signal 15"), Kind::kInformational},
      {Pf("postfix/postfix-script", "stopping the Postfix mail system"), Kind::kInformational},
      {Pf("postfix/pickup", "4F2A3B1C2D: uid=0 from=<root>"), Kind::kInformational},
      {Pf("postfix/dnsblog", "addr 192.0.2.10 listed by domain zen.spamhaus.org as 127.0.0.2"), Kind::kInformational},
      {Pf("postfix/anvil", "statistics: max connection rate 1/60s for (smtp:192.0.2.10) at Dec  4 18:30:00"),
       Kind::kInformational},
      {Pf("postfix/master", "something new"), Kind::kUnparsed},
  });
}

// -------------------------------------------------------------- deliveries

struct DeliveryRow {
  std::string line;
  Transport transport;
  DeliveryStatus status;
  double delay;
  std::array<double, 4> delays;
  std::string dsn;  // DsnLabel
  bool dns_failure;
};

TEST(MaillogTest, Deliveries) {
  const DeliveryRow rows[] = {
      // lab
      {"Dec 04 18:36:55 mail postfix/virtual[29275]: C616710E311: to=<probe@example.test>, relay=virtual, "
       "delay=0.14, delays=0.12/0.02/0/0, dsn=2.0.0, status=sent (delivered to maildir)",
       Transport::kVirtual,
       DeliveryStatus::kSent,
       0.14,
       {0.12, 0.02, 0, 0},
       "2.0",
       false},
      {"Dec 04 18:37:34 mail postfix/error[29494]: 0F97D10E011: to=<x@defer.test>, relay=none, delay=0.09, "
       "delays=0.02/0.05/0/0.03, dsn=4.3.2, status=deferred (deferred transport)",
       Transport::kError,
       DeliveryStatus::kDeferred,
       0.09,
       {0.02, 0.05, 0, 0.03},
       "4.3",
       false},
      // log_adhoc.c "%s: to=<%s>, relay=%s, delay=%s, delays=%s/%s/%s/%s, dsn=%s, status=%s (%s)"
      {Pf("postfix/smtp",
          "4F2A3B1C2D: to=<b@remote.test>, relay=mx.remote.test[192.0.2.20]:25, delay=1.23, "
          "delays=0.1/0.02/0.5/0.61, dsn=2.0.0, status=sent (250 2.0.0 OK 1733337304 x)"),
       Transport::kSmtp,
       DeliveryStatus::kSent,
       1.23,
       {0.1, 0.02, 0.5, 0.61},
       "2.0",
       false},
      // smtp_trouble.c: the remote reply as the reason; its ", delay=" is not the field
      {Pf("postfix/smtp",
          "4F2A3B1C2D: to=<b@remote.test>, relay=mx.remote.test[192.0.2.20]:25, delay=2.5, delays=0.1/0/1.2/1.2, "
          "dsn=5.1.1, status=bounced (host mx.remote.test[192.0.2.20] said: 550 5.1.1 <b@remote.test>: "
          "Recipient address rejected: User unknown, delay=99, dsn=2.0.0 (in reply to RCPT TO command))"),
       Transport::kSmtp,
       DeliveryStatus::kBounced,
       2.5,
       {0.1, 0, 1.2, 1.2},
       "5.1",
       false},
      // smtp_connect.c: the last "connect to" as the reason (its own line counts the connect failure)
      {Pf("postfix/smtp",
          "4F2A3B1C2D: to=<b@remote.test>, relay=none, delay=30, delays=0.01/0/30/0, dsn=4.4.1, status=deferred "
          "(connect to mx.remote.test[192.0.2.20]:25: Connection refused)"),
       Transport::kSmtp,
       DeliveryStatus::kDeferred,
       30,
       {0.01, 0, 30, 0},
       "4.4",
       false},
      // dns_lookup.c "Host or domain name not found. Name service error for name=%s type=%s: %s"
      {Pf("postfix/smtp",
          "4F2A3B1C2D: to=<b@remote.test>, relay=none, delay=0.5, delays=0.01/0/0.49/0, dsn=4.4.3, "
          "status=deferred (Host or domain name not found. Name service error for name=remote.test type=MX: "
          "Host not found, try again)"),
       Transport::kSmtp,
       DeliveryStatus::kDeferred,
       0.5,
       {0.01, 0, 0.49, 0},
       "4.4",
       true},
      // smtp_addr.c "unable to look up host %s: %s" (5.4.4)
      {Pf("postfix/smtp",
          "4F2A3B1C2D: to=<b@remote.test>, relay=none, delay=0.2, delays=0.01/0/0.19/0, dsn=5.4.4, "
          "status=bounced (unable to look up host remote.test: Name or service not known)"),
       Transport::kSmtp,
       DeliveryStatus::kBounced,
       0.2,
       {0.01, 0, 0.19, 0},
       "5.4",
       true},
      // lmtp to Dovecot (the lmtp reply text)
      {Pf("postfix/lmtp",
          "4F2A3B1C2D: to=<alice@example.test>, relay=mail.example.test[private/dovecot-lmtp], delay=0.05, "
          "delays=0.01/0.01/0.01/0.02, dsn=2.0.0, status=sent (250 2.0.0 <alice@example.test> "
          "Rb8RIdB9UGd4ZgAAyQq7Rg Saved)"),
       Transport::kLmtp,
       DeliveryStatus::kSent,
       0.05,
       {0.01, 0.01, 0.01, 0.02},
       "2.0",
       false},
      // lmtp: Dovecot's quota reply (lmtp-local.c 552 5.2.2)
      {Pf("postfix/lmtp",
          "4F2A3B1C2D: to=<alice@example.test>, relay=mail.example.test[private/dovecot-lmtp], delay=0.05, "
          "delays=0.01/0.01/0.01/0.02, dsn=5.2.2, status=bounced (host mail.example.test[private/dovecot-lmtp] "
          "said: 552 5.2.2 <alice@example.test> Quota exceeded (mailbox for user is full) (in reply to end of "
          "DATA command))"),
       Transport::kLmtp,
       DeliveryStatus::kBounced,
       0.05,
       {0.01, 0.01, 0.01, 0.02},
       "5.2",
       false},
      // ", orig_to=<%s>" (local aliases)
      {Pf("postfix/local",
          "4F2A3B1C2D: to=<root@example.test>, orig_to=<root>, relay=local, delay=0.02, delays=0.01/0/0/0.01, "
          "dsn=2.0.0, status=sent (delivered to mailbox)"),
       Transport::kLocal,
       DeliveryStatus::kSent,
       0.02,
       {0.01, 0, 0, 0.01},
       "2.0",
       false},
      {Pf("postfix/pipe",
          "4F2A3B1C2D: to=<alice@example.test>, relay=dovecot, delay=0.1, delays=0.05/0/0/0.05, dsn=2.0.0, "
          "status=sent (delivered via dovecot service)"),
       Transport::kPipe,
       DeliveryStatus::kSent,
       0.1,
       {0.05, 0, 0, 0.05},
       "2.0",
       false},
      {Pf("postfix/discard",
          "4F2A3B1C2D: to=<x@example.test>, relay=none, delay=0.01, delays=0.01/0/0/0, dsn=2.0.0, status=sent "
          "(example.test)"),
       Transport::kDiscard,
       DeliveryStatus::kSent,
       0.01,
       {0.01, 0, 0, 0},
       "2.0",
       false},
      {Pf("postfix/retry",
          "4F2A3B1C2D: to=<b@remote.test>, relay=none, delay=3285, delays=3285/0.01/0/0, dsn=4.4.1, "
          "status=deferred (delivery temporarily suspended: connect to mx.remote.test[192.0.2.20]:25: "
          "Connection refused)"),
       Transport::kRetry,
       DeliveryStatus::kDeferred,
       3285,
       {3285, 0.01, 0, 0},
       "4.4",
       false},
      // ", conn_use=%d" (connection cache), Postfix >= 3.10 ", tls=%s"
      {Pf("postfix-out/smtp",
          "4F2A3B1C2D: to=<b@remote.test>, relay=mx.remote.test[192.0.2.20]:25, conn_use=2, delay=0.42, "
          "delays=0.01/0.01/0/0.4, tls=may/yes, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 123)"),
       Transport::kSmtp,
       DeliveryStatus::kSent,
       0.42,
       {0.01, 0.01, 0, 0.4},
       "2.0",
       false},
      // qmgr's own deferral while the transport is suspended (qmgr_defer.c -> defer.c -> log_adhoc.c)
      {Pf("postfix/qmgr",
          "4F2A3B1C2D: to=<b@remote.test>, relay=none, delay=3600, delays=3599/1/0/0, dsn=4.4.1, status=deferred "
          "(delivery temporarily suspended: connect to mx.remote.test[192.0.2.20]:25: Connection refused)"),
       Transport::kOther,
       DeliveryStatus::kDeferred,
       3600,
       {3599, 1, 0, 0},
       "4.4",
       false},
      // bounce.c: soft_bounce = yes logs SOFTBOUNCE and keeps the message
      {Pf("postfix/smtp",
          "4F2A3B1C2D: to=<b@remote.test>, relay=mx.remote.test[192.0.2.20]:25, delay=1, delays=0/0/0.5/0.5, "
          "dsn=5.7.1, status=SOFTBOUNCE (host mx.remote.test[192.0.2.20] said: 554 5.7.1 blocked)"),
       Transport::kSmtp,
       DeliveryStatus::kDeferred,
       1,
       {0, 0, 0.5, 0.5},
       "5.7",
       false},
  };
  for (const DeliveryRow& r : rows) {
    const Event e = Of(r.line);
    ASSERT_EQ(KindName(e.kind), KindName(Kind::kDelivery)) << r.line;
    EXPECT_EQ(kTransportNames[static_cast<size_t>(e.transport)], kTransportNames[static_cast<size_t>(r.transport)])
        << r.line;
    EXPECT_EQ(e.status, r.status) << r.line;
    EXPECT_EQ(e.delay, r.delay) << r.line;  // exact: the logged decimal, rounded once
    for (size_t k = 0; k < 4; ++k) EXPECT_EQ(e.delays[k], r.delays[k]) << r.line << " stage " << k;
    EXPECT_EQ(DsnLabel(e.dsn), r.dsn) << r.line;
    EXPECT_EQ(e.has_connect_failure, r.dns_failure) << r.line;
    if (r.dns_failure) {
      EXPECT_EQ(e.connect_failure, ConnectFailure::kDns) << r.line;
    }
  }
  const Event d = Of(rows[0].line);
  EXPECT_EQ(d.dsn.status_class, 2);
  EXPECT_EQ(d.dsn.subject, 0);
  EXPECT_EQ(d.dsn.detail, 0);
  EXPECT_EQ(d.instance, "postfix");
}

TEST(MaillogTest, DeliveryOddities) {
  ExpectKinds({
      // sent.c/bounce.c verify(8) probes: "deliverable"/"undeliverable"
      {Pf("postfix/smtp",
          "4F2A3B1C2D: to=<b@remote.test>, relay=mx.remote.test[192.0.2.20]:25, delay=1, delays=0/0/0.5/0.5, "
          "dsn=2.1.5, status=deliverable (250 2.1.5 Ok)"),
       Kind::kInformational},
      {Pf("postfix/smtp",
          "4F2A3B1C2D: to=<b@remote.test>, relay=none, delay=x, delays=0/0/0/0, dsn=2.0.0, status=sent"),
       Kind::kUnparsed},
      {Pf("postfix/smtp", "4F2A3B1C2D: to=<b@remote.test>, relay=none, delay=1, delays=0/0/0, dsn=2.0.0, status=sent"),
       Kind::kUnparsed},
      {Pf("postfix/smtp",
          "4F2A3B1C2D: to=<b@remote.test>, relay=none, delay=1, delays=0/0/0/0, dsn=9.0.0, status=sent"),
       Kind::kUnparsed},
      {Pf("postfix/smtp", "4F2A3B1C2D: to=<b@remote.test>, relay=none, delay=1, delays=0/0/0/0, dsn=2.0.0, status=odd"),
       Kind::kUnparsed},
      {Pf("postfix/smtp", "4F2A3B1C2D: to=<b@remote.test>, delay=1, delays=0/0/0/0, dsn=2.0.0, status=sent"),
       Kind::kUnparsed},
      {Pf("postfix/smtp",
          "4F2A3B1C2D: to=<b@remote.test>, relay=none, delay=1234567890123456789, delays=0/0/0/0, "
          "dsn=2.0.0, status=sent"),
       Kind::kUnparsed},
      // smtp_proto.c/smtp_trouble.c details before the delivery line
      {Pf("postfix/smtp",
          "4F2A3B1C2D: host mx.remote.test[192.0.2.20] said: 450 4.7.1 try later (in reply to RCPT TO command)"),
       Kind::kInformational},
      {Pf("postfix/smtp",
          "4F2A3B1C2D: lost connection with mx.remote.test[192.0.2.20] while receiving the initial server greeting"),
       Kind::kInformational},
      {Pf("postfix/local", "4F2A3B1C2D: something new"), Kind::kUnparsed},
  });
  EXPECT_EQ(DsnLabel(Dsn{5, 7, 26}), "5.7");
  EXPECT_EQ(DsnLabel(Dsn{4, 8, 0}), "");
  EXPECT_EQ(DsnLabel(Dsn{3, 0, 0}), "");
  EXPECT_EQ(DsnLabel(Dsn{}), "");
}

// --------------------------------------------------- smtp client connections

TEST(MaillogTest, SmtpConnectFailuresAndTls) {
  struct Row {
    std::string message;
    ConnectFailure reason;
  };
  // smtp_connect.c "connect to %s[%s]:%d: %m" and "connect to %s[%s]: %m" (errno texts of glibc)
  const Row rows[] = {
      {"connect to mx.remote.test[192.0.2.20]:25: Connection refused", ConnectFailure::kRefused},
      {"connect to mx.remote.test[192.0.2.20]:25: Connection timed out", ConnectFailure::kTimeout},
      {"connect to mx.remote.test[2001:db8::20]:25: No route to host", ConnectFailure::kNoRoute},
      {"connect to mx.remote.test[2001:db8::20]:25: Network is unreachable", ConnectFailure::kNoRoute},
      {"connect to mx.remote.test[192.0.2.20]:25: Connection reset by peer", ConnectFailure::kOther},
  };
  for (const Row& r : rows) {
    const Event e = Of(Pf("postfix/smtp", r.message));
    EXPECT_EQ(e.kind, Kind::kSmtpConnectFailure) << r.message;
    EXPECT_TRUE(e.has_connect_failure);
    EXPECT_EQ(kConnectFailureNames[static_cast<size_t>(e.connect_failure)],
              kConnectFailureNames[static_cast<size_t>(r.reason)])
        << r.message;
  }
  const Event unix_lmtp =
      Of(Pf("postfix/lmtp", "connect to mail.example.test[private/dovecot-lmtp]: No such file or directory"));
  EXPECT_EQ(unix_lmtp.kind, Kind::kSmtpConnectFailure);
  EXPECT_EQ(unix_lmtp.connect_failure, ConnectFailure::kOther);

  struct Tls {
    std::string message;
    TlsTrust trust;
  };
  // tls_misc.c tls_log_summary, client side ("to"), new or reused session
  const Tls tls[] = {
      {"Verified TLS connection established to mx.remote.test[192.0.2.20]:25: TLSv1.3 with cipher "
       "TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) "
       "server-digest SHA256",
       TlsTrust::kVerified},
      {"Trusted TLS connection established to mx.remote.test[192.0.2.20]:25: TLSv1.3 with cipher "
       "TLS_AES_256_GCM_SHA384 (256/256 bits)",
       TlsTrust::kTrusted},
      {"Untrusted TLS connection established to mx.remote.test[192.0.2.20]:25: TLSv1.2 with cipher "
       "ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)",
       TlsTrust::kUntrusted},
      {"Anonymous TLS connection established to mx.remote.test[192.0.2.20]:25: TLSv1.3 with cipher "
       "TLS_AES_256_GCM_SHA384 (256/256 bits)",
       TlsTrust::kAnonymous},
      {"Verified TLS connection reused to mx.remote.test[192.0.2.20]:25: TLSv1.3 with cipher "
       "TLS_AES_256_GCM_SHA384 (256/256 bits)",
       TlsTrust::kVerified},
  };
  for (const Tls& r : tls) {
    const Event e = Of(Pf("postfix/smtp", r.message));
    EXPECT_EQ(e.kind, Kind::kSmtpTls) << r.message;
    EXPECT_EQ(kTlsTrustNames[static_cast<size_t>(e.tls_trust)], kTlsTrustNames[static_cast<size_t>(r.trust)])
        << r.message;
  }
  EXPECT_EQ(Of(Pf("postfix/smtp", "Verified TLS connection established from x[192.0.2.1]: TLSv1.3")).kind,
            Kind::kUnparsed);
  EXPECT_EQ(Of(Pf("postfix/smtp", "Verified TLS connection closed to x[192.0.2.1]: TLSv1.3")).kind, Kind::kUnparsed);
}

// ------------------------------------------------------------- severities

TEST(MaillogTest, PostfixSeverities) {
  struct Row {
    std::string line;
    Severity severity;
  };
  // util/msg.c: msg_warn "warning: ", msg_error "error: ", msg_fatal "fatal: ", msg_panic "panic: "
  const Row rows[] = {
      {Pf("postfix/smtpd",
          "warning: hostname mail.remote.test does not resolve to address 192.0.2.10: Name or service not known"),
       Severity::kWarning},
      {Pf("postfix/smtp", "warning: TLS library problem: error:0A000086:SSL routines::certificate verify failed"),
       Severity::kWarning},
      {Pf("postfix/cleanup", "error: open database /etc/postfix/header_checks.db: No such file or directory"),
       Severity::kError},
      {Pf("postfix/master", "fatal: bind 0.0.0.0 port 25: Address already in use"), Severity::kFatal},
      {Pf("postfix/qmgr", "panic: myfree: corrupt or unallocated memory block"), Severity::kPanic},
      {Pf("postfix/newdaemon", "warning: a known severity on an unknown daemon"), Severity::kWarning},
  };
  for (const Row& r : rows) {
    const Event e = Of(r.line);
    EXPECT_EQ(e.kind, Kind::kLogMessage) << r.line;
    EXPECT_EQ(kSeverityNames[static_cast<size_t>(e.severity)], kSeverityNames[static_cast<size_t>(r.severity)])
        << r.line;
  }
  // cleanup's header_checks WARN is an info line: "QUEUEID: warning: header ..."
  EXPECT_EQ(Of(Pf("postfix/cleanup", "4F2A3B1C2D: warning: header Subject: x from local; from=<a@b>")).severity,
            Severity::kNone);
}

// ---------------------------------------------------------------- Dovecot

struct DovecotRow {
  std::string line;
  Kind kind;
  DovecotProtocol protocol = DovecotProtocol::kOther;
  LoginFailure login_failure = LoginFailure::kOther;
  AuthFailure auth_failure = AuthFailure::kOther;
  LmtpStatus lmtp_status = LmtpStatus::kSaved;
  Severity severity = Severity::kNone;
};

void ExpectDovecot(const std::vector<DovecotRow>& rows) {
  for (const DovecotRow& r : rows) {
    const Event e = Of(r.line);
    EXPECT_EQ(e.family, Family::kDovecot) << r.line;
    EXPECT_EQ(KindName(e.kind), KindName(r.kind)) << r.line;
    EXPECT_EQ(e.severity, r.severity) << r.line;
    if (r.kind == Kind::kDovecotLogin || r.kind == Kind::kDovecotLoginFailure) {
      EXPECT_EQ(e.protocol, r.protocol) << r.line;
    }
    if (r.kind == Kind::kDovecotLoginFailure) {
      EXPECT_EQ(kLoginFailureNames[static_cast<size_t>(e.login_failure)],
                kLoginFailureNames[static_cast<size_t>(r.login_failure)])
          << r.line;
    }
    if (r.kind == Kind::kDovecotAuthFailure) {
      EXPECT_EQ(kAuthFailureNames[static_cast<size_t>(e.auth_failure)],
                kAuthFailureNames[static_cast<size_t>(r.auth_failure)])
          << r.line;
    }
    if (r.kind == Kind::kDovecotDelivery) {
      EXPECT_EQ(kLmtpStatusNames[static_cast<size_t>(e.lmtp_status)],
                kLmtpStatusNames[static_cast<size_t>(r.lmtp_status)])
          << r.line;
    }
  }
}

// Dovecot's own log file (log_path): the process is the tag, no host; lab-dovecot.log.
TEST(MaillogTest, DovecotLogFile) {
  ExpectDovecot({
      {"Dec 04 18:35:05 master: Info: Dovecot v2.3.19.1 (9b53102964) starting up for imap, pop3, sieve (core dumps "
       "disabled)",
       Kind::kInformational},
      {"Dec 04 18:35:06 imap-login: Info: Disconnected: Connection closed (no auth attempts in 0 secs): user=<>, "
       "rip=127.0.0.1, lip=127.0.0.1, secured, session=<ZRSXItNhZo1/AAAB>",
       Kind::kDovecotLoginFailure, DovecotProtocol::kImap, LoginFailure::kNoAuthAttempts},
      {"Dec 04 18:35:06 managesieve-login: Info: Disconnected: Aborted login by logging out (no auth attempts in 0 "
       "secs): user=<>, rip=127.0.0.1, lip=127.0.0.1, TLS, session=<RVmXItNhbJF/AAAB>",
       Kind::kDovecotLoginFailure, DovecotProtocol::kManagesieve, LoginFailure::kNoAuthAttempts},
      {"Dec 04 18:35:06 pop3-login: Info: Disconnected: Aborted login by logging out (no auth attempts in 0 secs): "
       "user=<>, rip=127.0.0.1, lip=127.0.0.1, TLS, session=<N0mXItNh0LJ/AAAB>",
       Kind::kDovecotLoginFailure, DovecotProtocol::kPop3, LoginFailure::kNoAuthAttempts},
      // lib/failures.c prefixes in the log file: "Warning: " etc.
      {"Dec 04 18:35:06 imap(alice@example.test)<26801><abcd>: Error: Mailbox INBOX: open() failed: Permission "
       "denied",
       Kind::kLogMessage, DovecotProtocol::kOther, LoginFailure::kOther, AuthFailure::kOther, LmtpStatus::kSaved,
       Severity::kError},
      {"Dec 04 18:35:06 lmtp(alice@example.test)<26801><abcd>: Info: msgid=<m@x>: saved mail to INBOX",
       Kind::kDovecotDelivery},
      {"Dec 04 18:35:06 anvil: Info: something new", Kind::kUnparsed},
  });
}

TEST(MaillogTest, DovecotSyslog) {
  ExpectDovecot({
      // client-common-auth.c client_destroy_success "Login" with login_log_format_elements
      {Dovecot("imap-login: Login: user=<alice@example.test>, method=PLAIN, rip=192.0.2.10, lip=192.0.2.1, "
               "mpid=1234, TLS, session=<abc>"),
       Kind::kDovecotLogin, DovecotProtocol::kImap},
      {Dovecot("pop3-login: Login: user=<alice@example.test>, method=PLAIN, rip=192.0.2.10, lip=192.0.2.1, "
               "mpid=1234, TLS, session=<abc>"),
       Kind::kDovecotLogin, DovecotProtocol::kPop3},
      {Dovecot("managesieve-login: Login: user=<alice@example.test>, method=PLAIN, rip=192.0.2.10, "
               "lip=192.0.2.1, mpid=1234, TLS, session=<abc>"),
       Kind::kDovecotLogin, DovecotProtocol::kManagesieve},
      {Dovecot("submission-login: Login: user=<alice@example.test>, method=PLAIN, rip=192.0.2.10, "
               "lip=192.0.2.1, mpid=1234, TLS, session=<abc>"),
       Kind::kDovecotLogin, DovecotProtocol::kSubmission},
      // client-common.c 2.3 client_get_extra_disconnect_reason
      {Dovecot("imap-login: Disconnected: Connection closed (auth failed, 1 attempts in 2 secs): "
               "user=<alice@example.test>, method=PLAIN, rip=192.0.2.10, lip=192.0.2.1, TLS, session=<abc>"),
       Kind::kDovecotLoginFailure, DovecotProtocol::kImap, LoginFailure::kAuthFailed},
      {Dovecot("pop3-login: Disconnected: Aborted login by logging out (tried to use disallowed plaintext auth): "
               "user=<>, rip=192.0.2.10, lip=192.0.2.1, session=<abc>"),
       Kind::kDovecotLoginFailure, DovecotProtocol::kPop3, LoginFailure::kPlaintextDisallowed},
      {Dovecot("imap-login: Disconnected: Inactivity during authentication (disconnected while authenticating, "
               "waited 180 secs): user=<>, method=PLAIN, rip=192.0.2.10, lip=192.0.2.1, session=<abc>"),
       Kind::kDovecotLoginFailure, DovecotProtocol::kImap, LoginFailure::kOther},
      // 2.2 forms: "Disconnected (%s)", "Aborted login (%s)"
      {Dovecot("imap-login: Disconnected (no auth attempts in 0 secs): user=<>, rip=192.0.2.10, lip=192.0.2.1, "
               "session=<abc>"),
       Kind::kDovecotLoginFailure, DovecotProtocol::kImap, LoginFailure::kNoAuthAttempts},
      {Dovecot("imap-login: Aborted login (auth failed, 3 attempts in 15 secs): user=<alice>, method=PLAIN, "
               "rip=192.0.2.10, lip=192.0.2.1, session=<abc>"),
       Kind::kDovecotLoginFailure, DovecotProtocol::kImap, LoginFailure::kAuthFailed},
      // 2.4 client-common.c "Login aborted: %s (%s)" with the event reason
      {Dovecot("imap-login: Login aborted: Connection closed (auth failed, 1 attempts in 2 secs) (auth_failed): "
               "user=<alice>, method=PLAIN, rip=192.0.2.10, lip=192.0.2.1, session=<abc>"),
       Kind::kDovecotLoginFailure, DovecotProtocol::kImap, LoginFailure::kAuthFailed},
      {Dovecot("submission-login: Login aborted: Connection closed (tried to use disallowed cleartext auth) "
               "(cleartext_auth_disabled): user=<>, rip=192.0.2.10, lip=192.0.2.1, session=<abc>"),
       Kind::kDovecotLoginFailure, DovecotProtocol::kSubmission, LoginFailure::kPlaintextDisallowed},
      // the user's name cannot pose as the reason
      {Dovecot("imap-login: Disconnected: Connection closed (no auth attempts in 1 secs): user=<(auth failed, "
               "1>, rip=192.0.2.10, lip=192.0.2.1, session=<abc>"),
       Kind::kDovecotLoginFailure, DovecotProtocol::kImap, LoginFailure::kNoAuthAttempts},
      {Dovecot("imap-login: Maximum number of connections from user+IP exceeded (mail_max_userip_connections=10): "
               "user=<alice>, rip=192.0.2.10"),
       Kind::kUnparsed},
      // auth-request.c auth_request_log_login_failure, passdb-pam.c
      {Dovecot("auth: passwd-file(nobody@example.test,192.0.2.10,<abc>): unknown user"), Kind::kDovecotAuthFailure,
       DovecotProtocol::kOther, LoginFailure::kOther, AuthFailure::kUnknownUser},
      {Dovecot("auth: passwd-file(alice@example.test,192.0.2.10,<abc>): Password mismatch"), Kind::kDovecotAuthFailure,
       DovecotProtocol::kOther, LoginFailure::kOther, AuthFailure::kPasswordMismatch},
      {Dovecot("auth: passwd-file(alice@example.test,192.0.2.10,<abc>): Password mismatch (given password: x)"),
       Kind::kDovecotAuthFailure, DovecotProtocol::kOther, LoginFailure::kOther, AuthFailure::kPasswordMismatch},
      {Dovecot("auth-worker(1234): pam(alice,192.0.2.10,<abc>): pam_authenticate() failed: Authentication "
               "failure (Password mismatch?)"),
       Kind::kDovecotAuthFailure, DovecotProtocol::kOther, LoginFailure::kOther, AuthFailure::kPasswordMismatch},
      {Dovecot("auth-worker(1234): pam(bob,192.0.2.10): unknown user"), Kind::kDovecotAuthFailure,
       DovecotProtocol::kOther, LoginFailure::kOther, AuthFailure::kUnknownUser},
      {Dovecot("auth-worker(1234): pam(bob,192.0.2.10): pam_authenticate() failed: Authentication service cannot "
               "retrieve authentication info"),
       Kind::kDovecotAuthFailure, DovecotProtocol::kOther, LoginFailure::kOther, AuthFailure::kOther},
      // passdb-pam.c logs a missing PAM service file as an error (failures.c "Error: " prefix)
      {Dovecot("auth-worker(1234): Error: pam(bob,192.0.2.10): unknown user (/etc/pam.d/dovecot missing?)"),
       Kind::kDovecotAuthFailure, DovecotProtocol::kOther, LoginFailure::kOther, AuthFailure::kUnknownUser,
       LmtpStatus::kSaved, Severity::kError},
      {Dovecot("auth: Error: LDAP: Connection lost to LDAP server, reconnecting"), Kind::kLogMessage,
       DovecotProtocol::kOther, LoginFailure::kOther, AuthFailure::kOther, LmtpStatus::kSaved, Severity::kError},
      {Dovecot("auth: Debug: client in: AUTH"), Kind::kUnparsed},
      // mail-deliver.c with deliver_log_format "msgid=%m: %$"; Pigeonhole sieve-actions.c
      {Dovecot("lmtp(alice@example.test)<1234><abc>: msgid=<m@x>: saved mail to INBOX"), Kind::kDovecotDelivery},
      {Dovecot("lmtp(alice@example.test)<1234><abc>: msgid=<m@x>: save failed to INBOX: Quota exceeded (mailbox "
               "for user is full)"),
       Kind::kDovecotDelivery, DovecotProtocol::kOther, LoginFailure::kOther, AuthFailure::kOther,
       LmtpStatus::kQuotaExceeded},
      {Dovecot("lmtp(alice@example.test)<1234><abc>: msgid=<m@x>: save failed to INBOX: Not enough disk quota"),
       Kind::kDovecotDelivery, DovecotProtocol::kOther, LoginFailure::kOther, AuthFailure::kOther,
       LmtpStatus::kQuotaExceeded},
      {Dovecot("lmtp(alice@example.test)<1234><abc>: sieve: msgid=<m@x>: stored mail into mailbox 'INBOX'"),
       Kind::kDovecotDelivery},
      {Dovecot("lmtp(alice@example.test)<1234><abc>: sieve: msgid=<m@x>: failed to store into mailbox 'INBOX': "
               "Quota exceeded (mailbox for user is full)"),
       Kind::kDovecotDelivery, DovecotProtocol::kOther, LoginFailure::kOther, AuthFailure::kOther,
       LmtpStatus::kQuotaExceeded},
      {Dovecot("lmtp(alice@example.test)<1234><abc>: msgid=<m@x>: save failed to INBOX: Internal error occurred. "
               "Refer to server log for more information."),
       Kind::kDovecotDelivery, DovecotProtocol::kOther, LoginFailure::kOther, AuthFailure::kOther, LmtpStatus::kFailed},
      // the Message-ID is the sender's text: the last marker wins
      {Dovecot("lmtp(alice@example.test)<1234><abc>: msgid=<saved mail to INBOX>: save failed to INBOX: Quota "
               "exceeded (mailbox for user is full)"),
       Kind::kDovecotDelivery, DovecotProtocol::kOther, LoginFailure::kOther, AuthFailure::kOther,
       LmtpStatus::kQuotaExceeded},
      {Dovecot("lmtp(alice@example.test)<1234><abc>: msgid=<save failed to x: Quota exceeded>: saved mail to INBOX"),
       Kind::kDovecotDelivery},
      {Dovecot("lmtp(1234): Connect from local"), Kind::kInformational},
      {Dovecot("lmtp(alice@example.test)<1234><abc>: something new"), Kind::kUnparsed},
      // imap-client.c session end
      {Dovecot("imap(alice@example.test)<1234><abc>: Disconnected: Logged out in=50 out=500 deleted=0 expunged=0 "
               "trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0"),
       Kind::kInformational},
      {Dovecot("master: Dovecot v2.3.19.1 (9b53102964) starting up for imap, pop3 (core dumps disabled)"),
       Kind::kInformational},
      {Dovecot("master: Warning: Killed with signal 15 (by pid=1 uid=0 code=kill)"), Kind::kLogMessage,
       DovecotProtocol::kOther, LoginFailure::kOther, AuthFailure::kOther, LmtpStatus::kSaved, Severity::kWarning},
      {Dovecot("imap(alice@example.test)<1234><abc>: Fatal: master: service(imap): child 1234 killed with signal 9"),
       Kind::kLogMessage, DovecotProtocol::kOther, LoginFailure::kOther, AuthFailure::kOther, LmtpStatus::kSaved,
       Severity::kFatal},
      {Dovecot("auth: Panic: file auth-request.c: line 1: assertion failed"), Kind::kLogMessage,
       DovecotProtocol::kOther, LoginFailure::kOther, AuthFailure::kOther, LmtpStatus::kSaved, Severity::kPanic},
      {Dovecot("config: something new"), Kind::kUnparsed},
      {Dovecot("no process prefix at all"), Kind::kUnparsed},
      {Dovecot(""), Kind::kUnparsed},
  });
  const Event lda =
      Of(Dovecot("lda(alice@example.test)<1234><abc>: sieve: msgid=<m@x>: stored mail into mailbox "
                 "'INBOX'"));
  EXPECT_EQ(lda.kind, Kind::kDovecotDelivery);
  EXPECT_TRUE(lda.dovecot_lda);
  EXPECT_FALSE(Of(Dovecot("lmtp(a)<1><b>: msgid=<m@x>: saved mail to INBOX")).dovecot_lda);
}

// --------------------------------------------------------------- OpenDKIM

TEST(MaillogTest, Opendkim) {
  struct Row {
    std::string line;
    Kind kind;
    DkimResult result = DkimResult::kNone;
    DkimError error = DkimError::kOther;
  };
  const Row rows[] = {
      // lab
      {"Dec  4 18:36:55 opendkim[29019]: C616710E311: DKIM-Signature field added (s=mail, d=example.test)",
       Kind::kDkimSignature},
      {"Dec  4 18:35:04 opendkim[26510]: OpenDKIM Filter v2.11.0 starting (args: -f -x "
       "/var/lib/mailstack-test/opendkim/opendkim.conf)",
       Kind::kInformational},
      // opendkim.c mlfi_eom "%s: DKIM verification successful"; dkimf_libstatus "%s: bad signature data",
      // "%s: no signature data"; dkimf_log_ssl_errors "%s: s=%s d=%s SSL %s"
      {Pf("opendkim", "4F2A3B1C2D: DKIM verification successful"), Kind::kDkimVerification, DkimResult::kPass},
      {Pf("opendkim", "4F2A3B1C2D: bad signature data"), Kind::kDkimVerification, DkimResult::kFail},
      {Pf("opendkim", "4F2A3B1C2D: no signature data"), Kind::kDkimVerification, DkimResult::kNone},
      {Pf("opendkim", "4F2A3B1C2D: s=mail d=remote.test SSL error:02000068:rsa routines::bad signature"),
       Kind::kDkimVerification, DkimResult::kFail},
      // the Debian package's syslog tag when SyslogFacility is set by name: "OpenDKIM"
      {Pf("OpenDKIM", "4F2A3B1C2D: DKIM verification successful"), Kind::kDkimVerification, DkimResult::kPass},
      // opendkim.c dkimf_add_signrequest callers: "%s: signing table references unknown key '%s'";
      // dkimf_libstatus "%s: key retrieval failed (s=%s, d=%s)%s%s" and "%s: key retrieval failed%s%s"
      {Pf("opendkim", "4F2A3B1C2D: signing table references unknown key 'mail._domainkey.example.test'"),
       Kind::kDkimError, DkimResult::kNone, DkimError::kUnknownKey},
      {Pf("opendkim",
          "4F2A3B1C2D: key retrieval failed (s=mail, d=remote.test): 'mail._domainkey.remote.test' query timed "
          "out"),
       Kind::kDkimError, DkimResult::kNone, DkimError::kKeyRetrieval},
      {Pf("opendkim", "4F2A3B1C2D: key retrieval failed"), Kind::kDkimError, DkimResult::kNone,
       DkimError::kKeyRetrieval},
      {Pf("opendkim", "4F2A3B1C2D: error loading key 'mail._domainkey.example.test'"), Kind::kDkimError,
       DkimResult::kNone, DkimError::kOther},
      {Pf("opendkim", "4F2A3B1C2D: dkim_eom(): internal error from libopendkim: ARC-Seal error"), Kind::kDkimError,
       DkimResult::kNone, DkimError::kOther},
      {Pf("opendkim", "4F2A3B1C2D: SSL error:1E08010C:DECODER routines::unsupported"), Kind::kDkimError,
       DkimResult::kNone, DkimError::kOther},
      // informational: "%s v%s terminating with status %d, errno = %d", LogWhy lines
      {Pf("opendkim", "OpenDKIM Filter v2.11.0 terminating with status 0, errno = 0"), Kind::kInformational},
      {Pf("opendkim", "4F2A3B1C2D: no signing table match for 'a@remote.test'"), Kind::kInformational},
      {Pf("opendkim", "4F2A3B1C2D: client.remote.test [192.0.2.10] not internal"), Kind::kInformational},
      {Pf("opendkim", "4F2A3B1C2D: not authenticated"), Kind::kInformational},
      {Pf("opendkim", "4F2A3B1C2D: something new"), Kind::kUnparsed},
  };
  for (const Row& r : rows) {
    const Event e = Of(r.line);
    EXPECT_EQ(e.family, Family::kOpendkim) << r.line;
    EXPECT_EQ(KindName(e.kind), KindName(r.kind)) << r.line;
    if (r.kind == Kind::kDkimVerification) {
      EXPECT_EQ(e.dkim_result, r.result) << r.line;
    }
    if (r.kind == Kind::kDkimError) {
      EXPECT_EQ(e.dkim_error, r.error) << r.line;
    }
  }
}

TEST(MaillogTest, KindNames) {
  EXPECT_EQ(KindName(Kind::kIgnored), "ignored");
  EXPECT_EQ(KindName(Kind::kDelivery), "delivery");
  EXPECT_EQ(KindName(Kind::kDkimError), "dkim_error");
  EXPECT_EQ(KindName(static_cast<Kind>(200)), "unknown");
  for (size_t i = 0; i < kKindCount; ++i) EXPECT_NE(KindName(static_cast<Kind>(i)), "unknown") << i;
}

// ------------------------------------------------- the lab's logs, all lines

std::map<std::string, int> KindsOfFile(const std::string& name, int* lines) {
  std::ifstream in(std::string(MAILSTACK_SOURCE_DIR) + "/tests/parse/testdata/" + name);
  EXPECT_TRUE(in.good()) << name;
  std::map<std::string, int> kinds;
  std::string line;
  *lines = 0;
  while (std::getline(in, line)) {
    ++*lines;
    parse::SyslogLine l;
    const parse::SyslogStatus s = parse::ParseSyslogLine(line, kUtc, &l);
    EXPECT_EQ(s, parse::SyslogStatus::kOk) << line;
    const Event e = Classify(l);
    ++kinds[std::string(KindName(e.kind))];
  }
  return kinds;
}

// Counts from grep on the same files (e.g. grep -c ']: connect from').
TEST(MaillogTest, LabMailLog) {
  int lines = 0;
  const auto kinds = KindsOfFile("lab-mail.log", &lines);
  EXPECT_EQ(lines, 39);
  const std::map<std::string, int> expected = {
      {"smtpd_connect", 12},
      {"smtpd_tls", 8},
      {"smtpd_lost_connection", 2},
      {"informational", 17},  // 12 disconnect, 2 improper command pipelining, 3 daemon starts
  };
  EXPECT_EQ(kinds, expected);
}

TEST(MaillogTest, LabDovecotLog) {
  int lines = 0;
  const auto kinds = KindsOfFile("lab-dovecot.log", &lines);
  EXPECT_EQ(lines, 17);
  const std::map<std::string, int> expected = {{"dovecot_login_failure", 16}, {"informational", 1}};
  EXPECT_EQ(kinds, expected);
}

TEST(MaillogTest, LabTrafficMailLog) {
  int lines = 0;
  const auto kinds = KindsOfFile("lab-traffic-mail.log", &lines);
  EXPECT_EQ(lines, 66);
  const std::map<std::string, int> expected = {
      {"smtpd_connect", 11},  {"smtpd_tls", 6},          {"smtpd_lost_connection", 1},
      {"smtpd_client", 5},    {"smtpd_sasl_failure", 4}, {"smtpd_reject", 3},
      {"cleanup_message", 5}, {"dkim_signature", 3},     {"qmgr_inserted", 5},
      {"qmgr_removed", 4},    {"delivery", 5},           {"informational", 14},  // 11 disconnect, 3 daemon starts
  };
  EXPECT_EQ(kinds, expected);
}

}  // namespace
}  // namespace mailstack::maillog

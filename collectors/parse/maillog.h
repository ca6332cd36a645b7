// Classifies the message of one parsed syslog line (syslog_line.h) of
// Postfix, Dovecot or OpenDKIM into a small Event: enums and a few numbers,
// the label values of the logs collector (the "logs" section of
// shared/docs/product.md). Pure, no I/O, no allocation, no regex: matching is
// on the program name and on fixed message prefixes and needles, the shapes
// the daemons' own format strings produce (each named next to its matcher in
// maillog.cc). An Event never holds an address, a queue id, a client IP or a
// user; its only strings are parts of the program name (instance, service).
//
// A message of a watched program that no matcher knows is kUnparsed (the
// collector counts it as unparsed, never guesses); a line of a program we do
// not watch is kIgnored. A recognised line with nothing to count
// ("disconnect from", "daemon started") is kInformational.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "collectors/parse/syslog_line.h"

namespace mailstack::maillog {

enum class Family : uint8_t { kOther = 0, kPostfix, kDovecot, kOpendkim };

enum class Kind : uint8_t {
  kIgnored = 0,    // a program we do not watch (family kOther)
  kUnparsed,       // a watched program, a message no matcher knows
  kInformational,  // recognised, nothing to count beyond the line
  kLogMessage,     // a warning/error/fatal/panic line with no more specific kind (see severity)
  // Postfix smtpd (service tells which master.cf service)
  kSmtpdConnect,         // "connect from"
  kSmtpdClient,          // "QUEUEID: client=" (a message accepted); sasl_login when it has sasl_username=
  kSmtpdSaslFailure,     // "warning: ...: SASL LOGIN authentication failed: ..."
  kSmtpdReject,          // "NOQUEUE: reject:", "QUEUEID: reject:" (also milter-reject, proxy-reject); reject_reason
  kSmtpdTls,             // "Anonymous TLS connection established from"; tls_trust
  kSmtpdLostConnection,  // "lost connection after X from"; lost_after
  kPostscreen,           // postscreen_event
  kCleanupMessage,       // cleanup "QUEUEID: message-id=<...>"
  kCleanupReject,        // cleanup "QUEUEID: reject:" (header/body checks) and "QUEUEID: milter-reject:"
  kQmgrInserted,         // qmgr "QUEUEID: from=<...>, size=N, nrcpt=N (queue active)"
  kQmgrRemoved,          // qmgr "QUEUEID: removed"
  kQmgrExpired,          // qmgr "QUEUEID: from=<...>, status=expired, returned to sender" (force-expired too)
  kBounceNotification,   // bounce "QUEUEID: sender non-delivery notification: QUEUEID"
  kDelivery,             // "QUEUEID: to=<...>, relay=..., delay=, delays=, dsn=, status=sent|deferred|bounced"
  kSmtpConnectFailure,   // smtp/lmtp "connect to host[ip]:25: Connection refused"; connect_failure
  kSmtpTls,              // smtp/lmtp "Verified TLS connection established to"; tls_trust
  // Dovecot (protocol from the login process)
  kDovecotLogin,         // "imap-login: Login: user=<...>"
  kDovecotLoginFailure,  // "imap-login: Disconnected: ... (auth failed, 1 attempts in 2 secs)"; login_failure
  kDovecotAuthFailure,   // "auth: passwd-file(u,ip): unknown user" / "Password mismatch"; auth_failure
  kDovecotDelivery,      // "lmtp(u)<..>: msgid=<..>: saved mail to INBOX" / "save failed to"; lmtp_status
  // OpenDKIM
  kDkimSignature,     // "QUEUEID: DKIM-Signature field added (s=, d=)"
  kDkimVerification,  // "DKIM verification successful" / "bad signature data" / "s=.. d=.. SSL ..."; dkim_result
  kDkimError,         // "signing table references unknown key", "key retrieval failed", ...; dkim_error
};
inline constexpr size_t kKindCount = static_cast<size_t>(Kind::kDkimError) + 1;

// Postfix msg_warn/msg_error/msg_fatal/msg_panic ("warning: ") and Dovecot's
// failure prefixes ("Warning: ", "Error: ", "Fatal: ", "Panic: ").
enum class Severity : uint8_t { kNone = 0, kWarning, kError, kFatal, kPanic };
inline constexpr size_t kSeverityCount = 5;
inline constexpr std::array<std::string_view, kSeverityCount> kSeverityNames = {"", "warning", "error", "fatal",
                                                                                "panic"};

// The Postfix daemon: the last component of the program name.
enum class Daemon : uint8_t {
  kOther = 0,  // a Postfix program the classifier has no matchers for (counted as unparsed)
  kSmtpd,
  kSmtp,
  kLmtp,
  kLocal,
  kVirtual,
  kPipe,
  kError,
  kDiscard,
  kRetry,
  kQmgr,
  kCleanup,
  kBounce,
  kPostscreen,
  kDnsblog,
  kPickup,
  kMaster,
  kPostfixScript,
  kTlsproxy,
  kAnvil,
  kScache,
  kTrivialRewrite,
  kVerify,
  kTlsmgr,
  kPostlogd,
};

// reason of mailstack_postfix_smtpd_rejects_total.
enum class RejectReason : uint8_t {
  kRbl = 0,
  kRelay,
  kUnknownRecipient,
  kUnknownSender,
  kReverseDns,
  kHelo,
  kPolicy,
  kTlsRequired,
  kAuth,
  kSize,
  kOther,
};
inline constexpr size_t kRejectReasonCount = 11;
inline constexpr std::array<std::string_view, kRejectReasonCount> kRejectReasonNames = {
    "rbl",  "relay", "unknown_recipient", "unknown_sender", "reverse_dns", "helo", "policy", "tls_required", "auth",
    "size", "other"};

// after of mailstack_postfix_smtpd_lost_connections_total.
enum class SmtpStage : uint8_t { kConnect = 0, kEhlo, kStarttls, kAuth, kMail, kRcpt, kData, kEndOfMessage, kOther };
inline constexpr size_t kSmtpStageCount = 9;
inline constexpr std::array<std::string_view, kSmtpStageCount> kSmtpStageNames = {
    "CONNECT", "EHLO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "END-OF-MESSAGE", "other"};

// event of mailstack_postfix_postscreen_events_total.
enum class PostscreenEvent : uint8_t { kConnect = 0, kPassNew, kPassOld, kDnsbl, kPregreet, kHangup, kReject, kOther };
inline constexpr size_t kPostscreenEventCount = 8;
inline constexpr std::array<std::string_view, kPostscreenEventCount> kPostscreenEventNames = {
    "connect", "pass_new", "pass_old", "dnsbl", "pregreet", "hangup", "reject", "other"};

// trust of the TLS summary line (Postfix tls_misc.c tls_log_summary).
enum class TlsTrust : uint8_t { kVerified = 0, kTrusted, kUntrusted, kAnonymous };
inline constexpr size_t kTlsTrustCount = 4;
inline constexpr std::array<std::string_view, kTlsTrustCount> kTlsTrustNames = {"verified", "trusted", "untrusted",
                                                                                "anonymous"};

// transport of the delivery families: the delivering program. kOther is a
// delivery line of a program that is not a delivery agent (qmgr's deferrals
// while a transport is suspended, cleanup's and smtpd's own bounces).
enum class Transport : uint8_t { kSmtp = 0, kLmtp, kLocal, kVirtual, kPipe, kError, kDiscard, kRetry, kOther };
inline constexpr size_t kTransportCount = 9;
inline constexpr std::array<std::string_view, kTransportCount> kTransportNames = {
    "smtp", "lmtp", "local", "virtual", "pipe", "error", "discard", "retry", "other"};

enum class DeliveryStatus : uint8_t { kSent = 0, kDeferred, kBounced };
inline constexpr size_t kDeliveryStatusCount = 3;
inline constexpr std::array<std::string_view, kDeliveryStatusCount> kDeliveryStatusNames = {"sent", "deferred",
                                                                                            "bounced"};

// stage of mailstack_postfix_delivery_delay_stage_seconds_total, in delays=a/b/c/d order.
inline constexpr std::array<std::string_view, 4> kDelayStageNames = {"before_queue_manager", "in_queue_manager",
                                                                     "connection_setup", "transmission"};

// reason of mailstack_postfix_smtp_connect_failures_total.
enum class ConnectFailure : uint8_t { kTimeout = 0, kRefused, kNoRoute, kDns, kOther };
inline constexpr size_t kConnectFailureCount = 5;
inline constexpr std::array<std::string_view, kConnectFailureCount> kConnectFailureNames = {"timeout", "refused",
                                                                                            "no_route", "dns", "other"};

// An RFC 3463 enhanced status code's class and subject ("5.1" of 5.1.1).
struct Dsn {
  uint8_t status_class = 0;  // 2, 4 or 5; 0: none
  uint16_t subject = 0;
  uint16_t detail = 0;
  bool valid() const { return status_class != 0; }
};
// "2.0" .. "5.7" for class 2/4/5 and subject 0..7 (the RFC's subjects), "" otherwise.
std::string_view DsnLabel(Dsn d);

enum class DovecotProtocol : uint8_t { kImap = 0, kPop3, kManagesieve, kSubmission, kOther };
inline constexpr size_t kDovecotProtocolCount = 4;  // kOther is no label value
inline constexpr std::array<std::string_view, kDovecotProtocolCount> kDovecotProtocolNames = {
    "imap", "pop3", "managesieve", "submission"};

enum class LoginFailure : uint8_t { kAuthFailed = 0, kNoAuthAttempts, kPlaintextDisallowed, kOther };
inline constexpr size_t kLoginFailureCount = 4;
inline constexpr std::array<std::string_view, kLoginFailureCount> kLoginFailureNames = {
    "auth_failed", "no_auth_attempts", "plaintext_disallowed", "other"};

enum class AuthFailure : uint8_t { kUnknownUser = 0, kPasswordMismatch, kOther };
inline constexpr size_t kAuthFailureCount = 3;
inline constexpr std::array<std::string_view, kAuthFailureCount> kAuthFailureNames = {"unknown_user",
                                                                                      "password_mismatch", "other"};

// status of mailstack_dovecot_lmtp_deliveries_total.
enum class LmtpStatus : uint8_t { kSaved = 0, kQuotaExceeded, kFailed };
inline constexpr size_t kLmtpStatusCount = 3;
inline constexpr std::array<std::string_view, kLmtpStatusCount> kLmtpStatusNames = {"saved", "quota_exceeded",
                                                                                    "failed"};

enum class DkimResult : uint8_t { kPass = 0, kFail, kNone };
inline constexpr size_t kDkimResultCount = 3;
inline constexpr std::array<std::string_view, kDkimResultCount> kDkimResultNames = {"pass", "fail", "none"};

enum class DkimError : uint8_t { kUnknownKey = 0, kKeyRetrieval, kOther };
inline constexpr size_t kDkimErrorCount = 3;
inline constexpr std::array<std::string_view, kDkimErrorCount> kDkimErrorNames = {"unknown_key", "key_retrieval",
                                                                                  "other"};

struct Event {
  Family family = Family::kOther;
  Kind kind = Kind::kIgnored;
  Severity severity = Severity::kNone;

  // Postfix: the program name "postfix-out/submission/smtpd" is instance
  // "postfix-out", service "submission", daemon smtpd; "postfix/smtpd" is
  // instance "postfix", service "smtpd". Views into the line's program.
  std::string_view instance;
  std::string_view service;
  Daemon daemon = Daemon::kOther;

  bool sasl_login = false;                               // kSmtpdClient
  RejectReason reject_reason = RejectReason::kOther;     // kSmtpdReject
  SmtpStage lost_after = SmtpStage::kOther;              // kSmtpdLostConnection
  PostscreenEvent postscreen = PostscreenEvent::kOther;  // kPostscreen
  TlsTrust tls_trust = TlsTrust::kAnonymous;             // kSmtpdTls, kSmtpTls

  // kDelivery. delay and the four delays in seconds, as logged.
  Transport transport = Transport::kOther;
  DeliveryStatus status = DeliveryStatus::kSent;
  double delay = 0;
  std::array<double, 4> delays{};
  Dsn dsn;
  // kSmtpConnectFailure; also on a kDelivery whose reason is a DNS failure
  // ("Host or domain name not found", "unable to look up host"), which smtp
  // logs on the delivery line only (refused/timeout/no route have their own
  // "connect to" line first, so a delivery line never sets those).
  bool has_connect_failure = false;
  ConnectFailure connect_failure = ConnectFailure::kOther;

  // Dovecot
  DovecotProtocol protocol = DovecotProtocol::kOther;  // kDovecotLogin, kDovecotLoginFailure
  LoginFailure login_failure = LoginFailure::kOther;
  AuthFailure auth_failure = AuthFailure::kOther;
  LmtpStatus lmtp_status = LmtpStatus::kSaved;
  bool dovecot_lda = false;  // kDovecotDelivery by dovecot-lda ("lda(user)"), not lmtp

  // OpenDKIM
  DkimResult dkim_result = DkimResult::kNone;
  DkimError dkim_error = DkimError::kOther;
};

// Classifies a message given its program name; `has_host` false selects the
// host-less shapes (Dovecot's own log file names the process as the tag:
// "imap-login: Info: ...").
Event Classify(std::string_view program, std::string_view message, bool has_host);

// Classifies a parsed line.
inline Event Classify(const parse::SyslogLine& line) {
  return Classify(line.program, line.message, !line.host.empty());
}

std::string_view KindName(Kind k);

}  // namespace mailstack::maillog

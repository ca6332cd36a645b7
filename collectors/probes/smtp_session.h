// SMTP, submission and LMTP client (RFC 5321, 3207, 4954, 2033): greeting,
// EHLO/LHLO with its capabilities, STARTTLS, AUTH PLAIN / LOGIN (only after
// TLS), MAIL FROM, RCPT TO, DATA with dot-stuffing, QUIT.
#pragma once

#include <set>
#include <string>
#include <string_view>

#include "collectors/parse/mail_reply.h"
#include "collectors/probes/session.h"

namespace mailstack::client {

class SmtpSession : public Session {
 public:
  enum class Dialect { kSmtp, kLmtp };  // LMTP: LHLO, one DATA reply per recipient
  explicit SmtpSession(net::Stream& stream, Dialect dialect = Dialect::kSmtp) : Session(stream), dialect_(dialect) {}

  // The 220 greeting; a multi-line one (postscreen: "220-" first, the rest
  // after its pregreet pause) is read to its last line before anything is sent.
  Status Greeting();
  // EHLO (LHLO for LMTP) `helo`: 250, and the capabilities it lists.
  Status Hello(const std::string& helo);
  // EHLO keywords of the last Hello, upper case ("STARTTLS", "AUTH", ...).
  const std::set<std::string>& capabilities() const { return caps_; }
  bool Offers(const std::string& keyword) const { return caps_.count(keyword) != 0; }
  // The mechanisms of the AUTH keyword, upper case.
  const std::set<std::string>& auth_mechanisms() const { return auth_; }

  // STARTTLS (it must be offered), 220, the handshake. The capabilities are
  // forgotten: call Hello again (RFC 3207 4.2).
  Status StartTls(const std::string& server_name);
  // AUTH PLAIN with an initial response / AUTH LOGIN: 235 is success, 535
  // and other refusals are kRejected. Refused before TLS.
  Status AuthPlain(const std::string& user, const std::string& password);
  Status AuthLogin(const std::string& user, const std::string& password);
  // MAIL FROM:<sender> / RCPT TO:<recipient>: 250 (RCPT also 251).
  Status MailFrom(const std::string& sender);
  Status RcptTo(const std::string& recipient);
  // DATA, 354, `message` with CR LF line ends and dot-stuffed, the final
  // ".": 250 (LMTP: 250 for every accepted recipient).
  Status Data(std::string_view message);
  // QUIT and its 221, bounded and never failing.
  void Quit() { PoliteQuit("QUIT\r\n", 1); }

  // One reply (all its lines), and one that must carry `code`: another
  // 4xx/5xx is kRejected, anything else kProtocol.
  Result<mail::SmtpReply> ReadReply(std::string_view step);
  Result<mail::SmtpReply> Expect(std::string_view step, int code);
  // Sends `line` (with its CR LF) and expects `code`.
  Result<mail::SmtpReply> Command(const std::string& line, int code, std::string_view step);

  // `message` as DATA sends it: CR LF line ends, a leading "." doubled,
  // ending in CR LF "." CR LF.
  static std::string DotStuff(std::string_view message);

 private:
  Status CheckReply(const mail::SmtpReply& reply, int code, std::string_view step);
  Status CheckMechanism(const std::string& mechanism);

  Dialect dialect_;
  std::set<std::string> caps_;
  std::set<std::string> auth_;
  int recipients_ = 0;  // accepted since MAIL FROM
};

}  // namespace mailstack::client

#include "collectors/probes/smtp_session.h"

#include "collectors/parse/text.h"

namespace mailstack::client {

Result<mail::SmtpReply> SmtpSession::ReadReply(std::string_view step) {
  mail::SmtpReplyParser parser;
  while (true) {
    MS_ASSIGN_OR_RETURN(std::string line, ReadLine(step));
    auto done = parser.Feed(line);
    if (!done.ok()) return Fail(Reason::kProtocol, std::string(step) + ": " + done.status().message());
    if (*done) return parser.reply();
  }
}

Status SmtpSession::CheckReply(const mail::SmtpReply& reply, int code, std::string_view step) {
  if (reply.code == code) return Status::Ok();
  std::string text = std::to_string(reply.code) + " " + (reply.lines.empty() ? "" : reply.lines[0]);
  if (reply.code >= 400) return Fail(Reason::kRejected, std::string(step) + ": " + text);
  return Fail(Reason::kProtocol, std::string(step) + ": unexpected reply " + text);
}

Result<mail::SmtpReply> SmtpSession::Expect(std::string_view step, int code) {
  MS_ASSIGN_OR_RETURN(mail::SmtpReply reply, ReadReply(step));
  MS_RETURN_IF_ERROR(CheckReply(reply, code, step));
  return reply;
}

Result<mail::SmtpReply> SmtpSession::Command(const std::string& line, int code, std::string_view step) {
  MS_RETURN_IF_ERROR(Send(line, step));
  return Expect(step, code);
}

Status SmtpSession::Greeting() { return Expect("greeting", 220).status(); }

Status SmtpSession::Hello(const std::string& helo) {
  const char* verb = dialect_ == Dialect::kLmtp ? "LHLO" : "EHLO";
  MS_ASSIGN_OR_RETURN(mail::SmtpReply reply, Command(std::string(verb) + " " + helo + "\r\n", 250, verb));
  caps_ = reply.Keywords();
  auth_.clear();
  for (size_t i = 1; i < reply.lines.size(); ++i) {
    std::string_view line = reply.lines[i];
    if (!text::StartsWithNoCase(line, "AUTH ")) continue;
    line.remove_prefix(5);
    while (!line.empty()) {
      const size_t sp = line.find(' ');
      if (sp != 0) auth_.insert(text::AsciiUpper(line.substr(0, sp)));
      if (sp == std::string_view::npos) break;
      line.remove_prefix(sp + 1);
    }
  }
  return Status::Ok();
}

Status SmtpSession::StartTls(const std::string& server_name) {
  if (!Offers("STARTTLS")) return Fail(Reason::kTls, "STARTTLS is not offered in the EHLO reply");
  MS_RETURN_IF_ERROR(Command("STARTTLS\r\n", 220, "STARTTLS").status());
  MS_RETURN_IF_ERROR(Handshake(server_name, "after STARTTLS"));
  caps_.clear();
  auth_.clear();
  return Status::Ok();
}

Status SmtpSession::CheckMechanism(const std::string& mechanism) {
  const std::string step = "AUTH " + mechanism;
  MS_RETURN_IF_ERROR(RequireTls(step));
  if (!Offers("AUTH") || auth_.count(mechanism) == 0) return Fail(Reason::kProtocol, step + " is not offered");
  return Status::Ok();
}

Status SmtpSession::AuthPlain(const std::string& user, const std::string& password) {
  MS_RETURN_IF_ERROR(CheckMechanism("PLAIN"));
  const std::string response = Base64Encode(std::string(1, '\0') + user + std::string(1, '\0') + password);
  MS_RETURN_IF_ERROR(Send("AUTH PLAIN " + response + "\r\n", "AUTH PLAIN"));
  MS_ASSIGN_OR_RETURN(mail::SmtpReply reply, ReadReply("AUTH PLAIN"));
  if (reply.code == 334) {  // a server that wants the response after an empty challenge
    MS_RETURN_IF_ERROR(Send(response + "\r\n", "AUTH PLAIN"));
    MS_ASSIGN_OR_RETURN(reply, ReadReply("AUTH PLAIN"));
  }
  return CheckReply(reply, 235, "AUTH PLAIN");
}

Status SmtpSession::AuthLogin(const std::string& user, const std::string& password) {
  MS_RETURN_IF_ERROR(CheckMechanism("LOGIN"));
  MS_RETURN_IF_ERROR(Command("AUTH LOGIN\r\n", 334, "AUTH LOGIN").status());
  MS_RETURN_IF_ERROR(Command(Base64Encode(user) + "\r\n", 334, "AUTH LOGIN user name").status());
  return Command(Base64Encode(password) + "\r\n", 235, "AUTH LOGIN password").status();
}

Status SmtpSession::MailFrom(const std::string& sender) {
  recipients_ = 0;
  return Command("MAIL FROM:<" + sender + ">\r\n", 250, "MAIL FROM").status();
}

Status SmtpSession::RcptTo(const std::string& recipient) {
  MS_RETURN_IF_ERROR(Send("RCPT TO:<" + recipient + ">\r\n", "RCPT TO"));
  MS_ASSIGN_OR_RETURN(mail::SmtpReply reply, ReadReply("RCPT TO"));
  MS_RETURN_IF_ERROR(CheckReply(reply, reply.code == 251 ? 251 : 250, "RCPT TO"));
  ++recipients_;
  return Status::Ok();
}

std::string SmtpSession::DotStuff(std::string_view message) {
  std::string out;
  out.reserve(message.size() + message.size() / 32 + 5);
  while (!message.empty()) {
    const size_t nl = message.find('\n');
    std::string_view line = message.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty() && line.front() == '.') out += '.';
    out.append(line);
    out += "\r\n";
    if (nl == std::string_view::npos) break;
    message.remove_prefix(nl + 1);
  }
  out += ".\r\n";
  return out;
}

Status SmtpSession::Data(std::string_view message) {
  MS_RETURN_IF_ERROR(Command("DATA\r\n", 354, "DATA").status());
  MS_RETURN_IF_ERROR(Send(DotStuff(message), "message"));
  // LMTP answers for each recipient (RFC 2033 4.2); SMTP once.
  const int replies = dialect_ == Dialect::kLmtp ? recipients_ : 1;
  for (int i = 0; i < replies; ++i) MS_RETURN_IF_ERROR(Expect("end of data", 250).status());
  recipients_ = 0;
  return Status::Ok();
}

}  // namespace mailstack::client

#include "collectors/probes/sieve_session.h"

#include "collectors/parse/mail_reply.h"

namespace mailstack::client {

Status SieveSession::ReadCapabilities(std::string_view step) {
  caps_.clear();
  for (size_t i = 0; i <= mail::kMaxReplyLines; ++i) {
    MS_ASSIGN_OR_RETURN(std::string line, ReadLine(step));
    auto parsed = mail::ParseSieveLine(line);
    if (!parsed.ok()) return Fail(Reason::kProtocol, std::string(step) + ": " + parsed.status().message());
    switch (parsed->kind) {
      case mail::SieveLine::kCapability: caps_.insert(parsed->name); break;
      case mail::SieveLine::kOk: return Status::Ok();
      case mail::SieveLine::kNo:
      case mail::SieveLine::kBye: return Fail(Reason::kRejected, std::string(step) + ": " + line);
    }
  }
  return Fail(Reason::kProtocol, std::string(step) + ": more than " + std::to_string(mail::kMaxReplyLines) + " lines");
}

Status SieveSession::Greeting() {
  MS_RETURN_IF_ERROR(ReadCapabilities("greeting"));
  if (!Offers("IMPLEMENTATION")) return Fail(Reason::kProtocol, "greeting: no IMPLEMENTATION capability");
  return Status::Ok();
}

Status SieveSession::StartTls(const std::string& server_name) {
  if (!Offers("STARTTLS")) return Fail(Reason::kTls, "STARTTLS is not offered in the capabilities");
  MS_RETURN_IF_ERROR(Send("STARTTLS\r\n", "STARTTLS"));
  MS_ASSIGN_OR_RETURN(std::string line, ReadLine("STARTTLS"));
  auto parsed = mail::ParseSieveLine(line);
  if (!parsed.ok()) return Fail(Reason::kProtocol, "STARTTLS: " + parsed.status().message());
  if (parsed->kind == mail::SieveLine::kNo || parsed->kind == mail::SieveLine::kBye) {
    return Fail(Reason::kRejected, "STARTTLS: " + line);
  }
  if (parsed->kind != mail::SieveLine::kOk) return Fail(Reason::kProtocol, "STARTTLS: unexpected " + line);
  MS_RETURN_IF_ERROR(Handshake(server_name, "after STARTTLS"));
  return ReadCapabilities("capabilities after TLS");
}

}  // namespace mailstack::client

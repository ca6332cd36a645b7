#include "collectors/probes/pop3_session.h"

#include "collectors/parse/mail_reply.h"
#include "collectors/parse/text.h"

namespace mailstack::client {

Result<bool> Pop3Session::ReadStatus(std::string_view step, std::string* line) {
  MS_ASSIGN_OR_RETURN(*line, ReadLine(step));
  auto st = mail::ParsePop3Status(*line);
  if (!st.ok()) return Fail(Reason::kProtocol, std::string(step) + ": " + st.status().message());
  return *st > 0;
}

Status Pop3Session::ExpectOk(std::string_view step) {
  std::string line;
  MS_ASSIGN_OR_RETURN(bool ok, ReadStatus(step, &line));
  if (!ok) return Fail(Reason::kRejected, std::string(step) + ": " + line);
  return Status::Ok();
}

Status Pop3Session::Capa() {
  caps_.clear();
  MS_RETURN_IF_ERROR(Send("CAPA\r\n", "CAPA"));
  std::string status;
  MS_ASSIGN_OR_RETURN(bool ok, ReadStatus("CAPA", &status));
  if (!ok) return Status::Ok();
  for (size_t i = 0; i <= mail::kMaxReplyLines; ++i) {
    auto line = ReadLine("CAPA");
    if (!line.ok()) return line.status();
    if (*line == ".") return Status::Ok();
    std::string_view l = *line;
    if (!l.empty() && l[0] == '.') l.remove_prefix(1);
    caps_.insert(text::AsciiUpper(l.substr(0, l.find(' '))));
  }
  return Fail(Reason::kProtocol, "CAPA: more than " + std::to_string(mail::kMaxReplyLines) + " lines");
}

Status Pop3Session::StartTls(const std::string& server_name) {
  if (!Offers("STLS")) return Fail(Reason::kTls, "STLS is not offered in the capabilities");
  MS_RETURN_IF_ERROR(Send("STLS\r\n", "STLS"));
  MS_RETURN_IF_ERROR(ExpectOk("STLS"));
  MS_RETURN_IF_ERROR(Handshake(server_name, "after STARTTLS"));
  caps_.clear();
  return Status::Ok();
}

}  // namespace mailstack::client

#include "collectors/probes/milter_session.h"

namespace mailstack::client {

Result<std::string> MilterSession::ReadPacket(std::string_view step) {
  MS_ASSIGN_OR_RETURN(std::string len_bytes, ReadExact(4, step));
  auto len = mail::ParseMilterLength(len_bytes);
  if (!len.ok()) return Fail(Reason::kProtocol, len.status().message());
  return ReadExact(*len, step);
}

Result<mail::MilterOptneg> MilterSession::Negotiate() {
  MS_RETURN_IF_ERROR(Send(mail::MilterOptnegRequest(), "option negotiation"));
  MS_ASSIGN_OR_RETURN(std::string packet, ReadPacket("option negotiation"));
  auto optneg = mail::ParseMilterOptneg(packet);
  if (!optneg.ok()) return Fail(Reason::kProtocol, optneg.status().message());
  return optneg;
}

void MilterSession::Quit() { (void)stream().Write(mail::MilterQuitRequest()); }

}  // namespace mailstack::client

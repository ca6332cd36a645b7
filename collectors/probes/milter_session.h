// Milter client, the MTA's side: option negotiation (SMFIC_OPTNEG) and quit.
#pragma once

#include "collectors/parse/mail_reply.h"
#include "collectors/probes/session.h"

namespace mailstack::client {

class MilterSession : public Session {
 public:
  explicit MilterSession(net::Stream& stream) : Session(stream) {}

  // Offers what Postfix offers and reads the filter's SMFIC_OPTNEG reply.
  Result<mail::MilterOptneg> Negotiate();
  // SMFIC_QUIT; no reply is due.
  void Quit();

 private:
  // One packet: the 4-byte length, then the command byte and its data.
  Result<std::string> ReadPacket(std::string_view step);
};

}  // namespace mailstack::client

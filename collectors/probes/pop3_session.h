// POP3 client (RFC 1939, 2449, 2595): greeting, CAPA, STLS, QUIT.
#pragma once

#include <set>
#include <string>
#include <string_view>

#include "collectors/probes/session.h"

namespace mailstack::client {

class Pop3Session : public Session {
 public:
  explicit Pop3Session(net::Stream& stream) : Session(stream) {}

  // "+OK"; "-ERR" is kRejected.
  Status Greeting() { return ExpectOk("greeting"); }
  // CAPA: the capabilities (first word of each line, upper case) replace
  // the known ones; a server without CAPA (-ERR) has none.
  Status Capa();
  const std::set<std::string>& capabilities() const { return caps_; }
  bool Offers(const std::string& capability) const { return caps_.count(capability) != 0; }
  // STLS (it must be offered), +OK, the handshake; the capabilities are
  // forgotten (call Capa again).
  Status StartTls(const std::string& server_name);
  // QUIT and its +OK, bounded and never failing.
  void Quit() { PoliteQuit("QUIT\r\n", 1); }

 private:
  // One status line (into `line`): true for +OK, false for -ERR.
  Result<bool> ReadStatus(std::string_view step, std::string* line);
  Status ExpectOk(std::string_view step);

  std::set<std::string> caps_;
};

}  // namespace mailstack::client

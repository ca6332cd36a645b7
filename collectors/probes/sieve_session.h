// ManageSieve client (RFC 5804): the capabilities greeting, STARTTLS and the
// capabilities again, LOGOUT.
#pragma once

#include <set>
#include <string>
#include <string_view>

#include "collectors/probes/session.h"

namespace mailstack::client {

class SieveSession : public Session {
 public:
  explicit SieveSession(net::Stream& stream) : Session(stream) {}

  // The capability lines and OK; NO/BYE is kRejected; a server without
  // IMPLEMENTATION is no ManageSieve server.
  Status Greeting();
  const std::set<std::string>& capabilities() const { return caps_; }
  bool Offers(const std::string& capability) const { return caps_.count(capability) != 0; }
  // STARTTLS (it must be offered), OK, the handshake, and the capabilities
  // the server sends again after TLS (RFC 5804 2.2).
  Status StartTls(const std::string& server_name);
  // LOGOUT and its OK, bounded and never failing.
  void Logout() { PoliteQuit("LOGOUT\r\n", 1); }

 private:
  // Capability lines up to the OK.
  Status ReadCapabilities(std::string_view step);

  std::set<std::string> caps_;
};

}  // namespace mailstack::client

// Client dialogs of the protocol probes: SMTP, submission, LMTP, IMAP, POP3,
// ManageSieve, milter option negotiation and plain TCP, each with optional
// STARTTLS or implicit TLS, spoken by the sessions of collectors/probes/
// (SmtpSession, ImapSession, ...). One probe = one connection, bounded by the
// deadline; the outcome is data (success or one bounded failure reason with a
// human-readable detail), never an exception.
#pragma once

#include <atomic>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/core/deadline.h"
#include "collectors/net/stream.h"
#include "collectors/probes/session.h"

namespace mailstack::probe {

enum class Protocol { kSmtp, kSubmission, kLmtp, kImap, kPop3, kSieve, kMilter, kTcp };
enum class Tls { kNone, kStartTls, kImplicit };
std::string_view ProtocolName(Protocol p);
std::string_view TlsName(Tls t);

struct Target {
  std::string name;
  Protocol protocol = Protocol::kTcp;
  std::string address;  // IP:PORT, [V6]:PORT, NAME:PORT or a unix socket path
  Tls tls = Tls::kNone;
  std::string server_name;  // SNI and name check; empty: the host of address
  std::string helo_name;    // EHLO/LHLO argument
  std::string resolver;     // DNS server IP:PORT for a host name in address; empty: the system's
};

struct Result {
  Reason reason = Reason::kNone;
  std::string detail;  // what went wrong, for the log ("" on success)
  double duration_seconds = 0;
  // Filled once a TLS handshake completed (also when the dialog failed later).
  bool tls_done = false;
  std::string tls_version;
  std::vector<X509Ptr> chain;  // as served, leaf first

  bool success() const { return reason == Reason::kNone; }
};

// Runs one probe. `stop` may be null.
Result Run(const Target& target, Deadline deadline, const std::atomic<bool>* stop);

// The host part of HOST:PORT / [V6]:PORT ("" for a unix socket path or a malformed address).
std::string HostOf(const std::string& address);

}  // namespace mailstack::probe

// The client side of one mail-protocol connection over a deadline-bounded
// net::Stream: the base of the protocol sessions (SmtpSession, ImapSession,
// Pop3Session, SieveSession, MilterSession) that the probes and the
// roundtrip use. Every step returns a Status whose message names the step
// ("EHLO: 554 go away"); after a failed step failure() says why in the
// probes' terms (timeout, tls, protocol, rejected). A session never throws
// and never waits past the stream's deadline.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "collectors/core/status.h"
#include "collectors/net/stream.h"

namespace mailstack::probe {

// Why a probe (or a session step) failed. kNone: it succeeded.
enum class Reason { kNone, kResolve, kConnect, kTimeout, kTls, kProtocol, kRejected };

std::string_view ReasonName(Reason r);
// Every reason label value but kNone, in a fixed order.
const std::vector<std::string_view>& ReasonNames();

}  // namespace mailstack::probe

namespace mailstack::client {

using probe::Reason;

class Session {
 public:
  explicit Session(net::Stream& stream) : s_(stream) {}
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  net::Stream& stream() { return s_; }
  // Whether a TLS handshake completed on the connection.
  bool tls() const { return tls_done_; }
  // Why the last failed step failed (kNone while none did).
  Reason failure() const { return failure_; }

  // TLS client handshake now: implicit TLS (`step` "implicit TLS"), or after
  // the protocol's STARTTLS was accepted ("after STARTTLS"). `server_name`
  // is sent as SNI unless it is an IP literal.
  Status Handshake(const std::string& server_name, std::string_view step);

  // Records a failure of the dialog (also the caller's own verdicts, e.g. a
  // capability that must not be offered) and returns it as a Status with
  // message `detail` (code: timeout DeadlineExceeded, rejected
  // PermissionDenied, protocol InvalidArgument, others Unavailable).
  Status Fail(Reason reason, std::string detail);

 protected:
  // A transport error of `step`: the deadline is a timeout whatever the
  // step; otherwise `otherwise`, but a broken TLS record is tls.
  Status FailIo(const Status& s, Reason otherwise, std::string_view step);
  Status Send(std::string_view bytes, std::string_view step);
  Result<std::string> ReadLine(std::string_view step);
  Result<std::string> ReadExact(size_t n, std::string_view step);
  // Refuses to send credentials over a connection without TLS.
  Status RequireTls(std::string_view step);
  // The end of a dialog: say goodbye and read `lines` lines, within two
  // seconds at most and never failing (a slow goodbye is no failure).
  void PoliteQuit(std::string_view command, int lines);

 private:
  net::Stream& s_;
  bool tls_done_ = false;
  Reason failure_ = Reason::kNone;
};

// "\0user\0password" (RFC 4616) or any other bytes, base64 (RFC 4648).
std::string Base64Encode(std::string_view bytes);

}  // namespace mailstack::client

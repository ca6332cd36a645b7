#include "collectors/probes/probe_dialogs.h"

#include <arpa/inet.h>

#include <chrono>

#include "collectors/net/resolve.h"
#include "collectors/net/socket.h"
#include "collectors/probes/imap_session.h"
#include "collectors/probes/milter_session.h"
#include "collectors/probes/pop3_session.h"
#include "collectors/probes/sieve_session.h"
#include "collectors/probes/smtp_session.h"

namespace mailstack::probe {

std::string_view ProtocolName(Protocol p) {
  switch (p) {
    case Protocol::kSmtp: return "smtp";
    case Protocol::kSubmission: return "submission";
    case Protocol::kLmtp: return "lmtp";
    case Protocol::kImap: return "imap";
    case Protocol::kPop3: return "pop3";
    case Protocol::kSieve: return "sieve";
    case Protocol::kMilter: return "milter";
    case Protocol::kTcp: return "tcp";
  }
  return "tcp";
}

std::string_view TlsName(Tls t) {
  switch (t) {
    case Tls::kNone: return "none";
    case Tls::kStartTls: return "starttls";
    case Tls::kImplicit: return "implicit";
  }
  return "none";
}

std::string HostOf(const std::string& address) {
  std::string host;
  uint16_t port = 0;
  if (address.empty() || address[0] == '/' || !net::SplitHostPort(address, &host, &port).ok()) return "";
  return host;
}

namespace {

using client::ImapSession;
using client::MilterSession;
using client::Pop3Session;
using client::Session;
using client::SieveSession;
using client::SmtpSession;

std::string ServerName(const Target& t) { return t.server_name.empty() ? HostOf(t.address) : t.server_name; }

// Each protocol's check, on its session; a failed step has recorded why.
Status SmtpDialog(const Target& t, SmtpSession& s) {
  MS_RETURN_IF_ERROR(s.Greeting());
  MS_RETURN_IF_ERROR(s.Hello(t.helo_name));
  const bool submission = t.protocol == Protocol::kSubmission;
  if (t.tls == Tls::kStartTls) {
    if (submission && s.Offers("STARTTLS") && s.Offers("AUTH")) {
      return s.Fail(Reason::kProtocol, "AUTH is offered before STARTTLS (passwords could travel in clear)");
    }
    MS_RETURN_IF_ERROR(s.StartTls(ServerName(t)));
    MS_RETURN_IF_ERROR(s.Hello(t.helo_name));
  }
  if (submission && !s.Offers("AUTH")) return s.Fail(Reason::kProtocol, "AUTH is not offered on the submission port");
  s.Quit();
  return Status::Ok();
}

Status ImapDialog(const Target& t, ImapSession& s) {
  MS_RETURN_IF_ERROR(s.Greeting());
  MS_RETURN_IF_ERROR(s.Capability());
  if (t.tls == Tls::kStartTls) {
    MS_RETURN_IF_ERROR(s.StartTls(ServerName(t)));
    MS_RETURN_IF_ERROR(s.Capability());
  }
  if (!s.Offers("IMAP4REV1") && !s.Offers("IMAP4REV2")) {
    return s.Fail(Reason::kProtocol, "CAPABILITY: neither IMAP4rev1 nor IMAP4rev2");
  }
  s.Logout();
  return Status::Ok();
}

Status Pop3Dialog(const Target& t, Pop3Session& s) {
  MS_RETURN_IF_ERROR(s.Greeting());
  MS_RETURN_IF_ERROR(s.Capa());
  if (t.tls == Tls::kStartTls) {
    MS_RETURN_IF_ERROR(s.StartTls(ServerName(t)));
    MS_RETURN_IF_ERROR(s.Capa());
  }
  s.Quit();
  return Status::Ok();
}

Status SieveDialog(const Target& t, SieveSession& s) {
  MS_RETURN_IF_ERROR(s.Greeting());
  if (t.tls == Tls::kStartTls) MS_RETURN_IF_ERROR(s.StartTls(ServerName(t)));
  s.Logout();
  return Status::Ok();
}

Status MilterDialog(const Target&, MilterSession& s) {
  MS_RETURN_IF_ERROR(s.Negotiate().status());
  s.Quit();
  return Status::Ok();
}

Status TcpDialog(const Target&, Session&) { return Status::Ok(); }

// Implicit TLS first, then the protocol's dialog; what it found goes to `r`.
template <typename S>
void Converse(const Target& t, S& s, Status (*dialog)(const Target&, S&), Result& r) {
  Status st = t.tls == Tls::kImplicit ? s.Handshake(ServerName(t), "implicit TLS") : Status::Ok();
  if (st.ok()) st = dialog(t, s);
  if (s.tls()) {  // also when the dialog failed after the handshake
    r.tls_done = true;
    r.tls_version = s.stream().TlsVersion();
    r.chain = s.stream().PeerChain();
  }
  if (!st.ok()) {
    r.reason = s.failure();
    r.detail = st.message();
  }
}

void Converse(const Target& t, net::Stream& stream, Result& r) {
  switch (t.protocol) {
    case Protocol::kSmtp:
    case Protocol::kSubmission:
    case Protocol::kLmtp: {
      SmtpSession s(stream, t.protocol == Protocol::kLmtp ? SmtpSession::Dialect::kLmtp : SmtpSession::Dialect::kSmtp);
      return Converse(t, s, &SmtpDialog, r);
    }
    case Protocol::kImap: {
      ImapSession s(stream);
      return Converse(t, s, &ImapDialog, r);
    }
    case Protocol::kPop3: {
      Pop3Session s(stream);
      return Converse(t, s, &Pop3Dialog, r);
    }
    case Protocol::kSieve: {
      SieveSession s(stream);
      return Converse(t, s, &SieveDialog, r);
    }
    case Protocol::kMilter: {
      MilterSession s(stream);
      return Converse(t, s, &MilterDialog, r);
    }
    case Protocol::kTcp: break;
  }
  Session s(stream);
  Converse(t, s, &TcpDialog, r);
}

}  // namespace

namespace {

bool NeedsResolving(const std::string& address) {
  if (address.empty() || address[0] == '/' || address[0] == '[') return false;
  const std::string host = HostOf(address);
  unsigned char buf[16];
  return host != "localhost" && inet_pton(AF_INET, host.c_str(), buf) != 1;
}

// Resolves a host name and connects to its addresses in turn.
mailstack::Result<net::Fd> Dial(const Target& target, const Deadline& deadline, const std::atomic<bool>* stop,
                                Result& r) {
  if (!NeedsResolving(target.address)) return net::Connect(target.address, deadline, stop);
  std::string host;
  uint16_t port = 0;
  if (Status s = net::SplitHostPort(target.address, &host, &port); !s.ok()) return s;
  auto addrs = net::Resolve(host, port, target.resolver, deadline, stop);
  if (!addrs.ok()) {
    // The probe's deadline is a timeout wherever it strikes; an answer that
    // the name does not exist, or no answer from the DNS server, is resolve.
    r.reason = addrs.status().code() == Status::Code::kDeadlineExceeded ? Reason::kTimeout : Reason::kResolve;
    return addrs.status();
  }
  Status last = Status::Unavailable("no address");
  for (size_t i = 0; i < addrs->size(); ++i) {
    const auto& a = (*addrs)[i];
    // Each address gets its share of the time left, so one blackholed
    // address (often the IPv6 one, sorted first) leaves time for the others.
    const Deadline share(i + 1 == addrs->size() ? deadline.at()
                                                : std::chrono::steady_clock::now() +
                                                      deadline.Remaining() / static_cast<int>(addrs->size() - i));
    auto fd = net::Connect(a.addr, a.len, "connect " + host + " (" + a.ToString() + ")", share, stop);
    if (fd.ok()) return fd;
    last = fd.status();
    if (deadline.Expired()) break;
  }
  return last;
}

}  // namespace

Result Run(const Target& target, Deadline deadline, const std::atomic<bool>* stop) {
  const auto start = std::chrono::steady_clock::now();
  Result r;
  auto fd = Dial(target, deadline, stop, r);
  if (r.reason != Reason::kNone) {
    r.detail = fd.status().message();
  } else if (!fd.ok()) {
    r.reason = fd.status().code() == Status::Code::kDeadlineExceeded ? Reason::kTimeout : Reason::kConnect;
    r.detail = fd.status().message();
  } else {
    net::Stream stream(std::move(fd).value(), deadline, stop);
    Converse(target, stream, r);
  }
  r.duration_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace mailstack::probe

#include "collectors/probe_dialogs.h"

#include <arpa/inet.h>

#include <chrono>
#include <optional>

#include "collectors/net/resolve.h"
#include "collectors/net/socket.h"
#include "collectors/parse/mail_reply.h"
#include "collectors/parse/text.h"

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

std::string_view ReasonName(Reason r) {
  switch (r) {
    case Reason::kNone: return "";
    case Reason::kResolve: return "resolve";
    case Reason::kConnect: return "connect";
    case Reason::kTimeout: return "timeout";
    case Reason::kTls: return "tls";
    case Reason::kProtocol: return "protocol";
    case Reason::kRejected: return "rejected";
  }
  return "";
}

const std::vector<std::string_view>& ReasonNames() {
  static const std::vector<std::string_view> kNames = {"resolve", "connect", "timeout", "tls", "protocol", "rejected"};
  return kNames;
}

std::string HostOf(const std::string& address) {
  std::string host;
  uint16_t port = 0;
  if (address.empty() || address[0] == '/' || !net::SplitHostPort(address, &host, &port).ok()) return "";
  return host;
}

namespace {

using mail::kMaxLineBytes;
using mail::kMaxReplyLines;

// The dialog of one probe: each step returns false after recording why the
// probe failed.
class Dialog {
 public:
  Dialog(const Target& t, net::Stream& s, Result& r) : t_(t), s_(s), r_(r) {}

  bool Run() {
    if (t_.tls == Tls::kImplicit && !Handshake()) return false;
    switch (t_.protocol) {
      case Protocol::kSmtp:
      case Protocol::kSubmission:
      case Protocol::kLmtp: return Smtp();
      case Protocol::kImap: return Imap();
      case Protocol::kPop3: return Pop3();
      case Protocol::kSieve: return Sieve();
      case Protocol::kMilter: return Milter();
      case Protocol::kTcp: return true;
    }
    return true;
  }

 private:
  bool Fail(Reason reason, std::string detail) {
    r_.reason = reason;
    r_.detail = std::move(detail);
    return false;
  }
  // A transport error: the deadline is a timeout whatever the step.
  bool Fail(const Status& s, Reason otherwise, std::string_view step) {
    Reason reason = s.code() == Status::Code::kDeadlineExceeded ? Reason::kTimeout : otherwise;
    // After the handshake, a broken record is a TLS failure, not the protocol's.
    if (reason == Reason::kProtocol && s_.tls() && s.code() == Status::Code::kIOError) reason = Reason::kTls;
    return Fail(reason, std::string(step) + ": " + s.message());
  }

  std::string ServerName() const { return t_.server_name.empty() ? HostOf(t_.address) : t_.server_name; }

  bool Handshake() {
    if (Status s = s_.StartTls(ServerName()); !s.ok()) {
      return Fail(s, Reason::kTls, t_.tls == Tls::kImplicit ? "implicit TLS" : "after STARTTLS");
    }
    r_.tls_done = true;
    r_.tls_version = s_.TlsVersion();
    r_.chain = s_.PeerChain();
    return true;
  }

  bool Send(std::string_view line, std::string_view step) {
    if (Status s = s_.Write(line); !s.ok()) return Fail(s, Reason::kProtocol, step);
    return true;
  }

  std::optional<std::string> Line(std::string_view step) {
    auto line = s_.ReadLine(kMaxLineBytes);
    if (!line.ok()) {
      Fail(line.status(), Reason::kProtocol, step);
      return std::nullopt;
    }
    return std::move(line).value();
  }

  // The end of every dialog: say goodbye, but never let a slow goodbye fail
  // a probe that already succeeded.
  void PoliteQuit(std::string_view command, int lines) {
    s_.Tighten(Deadline::After(std::chrono::seconds(2)));
    if (!s_.Write(command).ok()) return;
    for (int i = 0; i < lines; ++i) {
      if (!s_.ReadLine(kMaxLineBytes).ok()) return;
    }
  }

  // ---- SMTP, submission, LMTP
  std::optional<mail::SmtpReply> SmtpRead(std::string_view step) {
    mail::SmtpReplyParser parser;
    while (true) {
      auto line = Line(step);
      if (!line) return std::nullopt;
      auto done = parser.Feed(*line);
      if (!done.ok()) {
        Fail(Reason::kProtocol, std::string(step) + ": " + done.status().message());
        return std::nullopt;
      }
      if (*done) return parser.reply();
    }
  }
  bool SmtpExpect(const std::optional<mail::SmtpReply>& reply, int code, std::string_view step) {
    if (!reply) return false;
    if (reply->code == code) return true;
    std::string text = std::to_string(reply->code) + " " + (reply->lines.empty() ? "" : reply->lines[0]);
    if (reply->code >= 400) return Fail(Reason::kRejected, std::string(step) + ": " + text);
    return Fail(Reason::kProtocol, std::string(step) + ": unexpected reply " + text);
  }
  std::optional<std::set<std::string>> Ehlo() {
    const char* verb = t_.protocol == Protocol::kLmtp ? "LHLO" : "EHLO";
    if (!Send(std::string(verb) + " " + t_.helo_name + "\r\n", verb)) return std::nullopt;
    auto reply = SmtpRead(verb);
    if (!SmtpExpect(reply, 250, verb)) return std::nullopt;
    return reply->Keywords();
  }
  bool Smtp() {
    // The greeting may be multi-line (postscreen: "220-" first, the rest
    // after its pregreet pause); never speak before its last line.
    if (!SmtpExpect(SmtpRead("greeting"), 220, "greeting")) return false;
    auto caps = Ehlo();
    if (!caps) return false;
    if (t_.tls == Tls::kStartTls) {
      if (!caps->count("STARTTLS")) return Fail(Reason::kTls, "STARTTLS is not offered in the EHLO reply");
      if (t_.protocol == Protocol::kSubmission && caps->count("AUTH")) {
        return Fail(Reason::kProtocol, "AUTH is offered before STARTTLS (passwords could travel in clear)");
      }
      if (!Send("STARTTLS\r\n", "STARTTLS")) return false;
      if (!SmtpExpect(SmtpRead("STARTTLS"), 220, "STARTTLS")) return false;
      if (!Handshake()) return false;
      caps = Ehlo();
      if (!caps) return false;
    }
    if (t_.protocol == Protocol::kSubmission && !caps->count("AUTH")) {
      return Fail(Reason::kProtocol, "AUTH is not offered on the submission port");
    }
    PoliteQuit("QUIT\r\n", 1);
    return true;
  }

  // ---- IMAP
  // Sends `tag command` and reads until the tagged reply; collects
  // capabilities from untagged CAPABILITY data and response codes.
  bool ImapCommand(const std::string& tag, const std::string& command, std::set<std::string>* caps) {
    if (!Send(tag + " " + command + "\r\n", command)) return false;
    for (size_t i = 0; i < kMaxReplyLines; ++i) {
      auto line = Line(command);
      if (!line) return false;
      auto parsed = mail::ParseImapLine(*line);
      if (!parsed.ok()) return Fail(Reason::kProtocol, command + ": " + parsed.status().message());
      if (parsed->tag == "*") {
        if (parsed->status == "CAPABILITY" && caps) *caps = mail::ImapCapabilities(parsed->rest);
        if (parsed->status == "BYE") return Fail(Reason::kRejected, command + ": * BYE " + parsed->rest);
        continue;
      }
      if (parsed->tag != tag) return Fail(Reason::kProtocol, command + ": unexpected tag in \"" + *line + "\"");
      if (parsed->status == "OK") {
        if (caps && parsed->rest.find("[CAPABILITY ") != std::string::npos) {
          *caps = mail::ImapCapabilities(parsed->rest);
        }
        return true;
      }
      if (parsed->status == "NO" || parsed->status == "BAD") {
        return Fail(Reason::kRejected, command + ": " + parsed->status + " " + parsed->rest);
      }
      return Fail(Reason::kProtocol, command + ": unexpected status " + parsed->status);
    }
    return Fail(Reason::kProtocol, command + ": more than " + std::to_string(kMaxReplyLines) + " lines");
  }
  bool Imap() {
    auto line = Line("greeting");
    if (!line) return false;
    auto greeting = mail::ParseImapLine(*line);
    if (!greeting.ok()) return Fail(Reason::kProtocol, "greeting: " + greeting.status().message());
    if (greeting->tag != "*") return Fail(Reason::kProtocol, "greeting: not untagged: \"" + *line + "\"");
    if (greeting->status == "BYE") return Fail(Reason::kRejected, "greeting: * BYE " + greeting->rest);
    if (greeting->status != "OK" && greeting->status != "PREAUTH") {
      return Fail(Reason::kProtocol, "greeting: unexpected status " + greeting->status);
    }
    std::set<std::string> caps;
    if (!ImapCommand("m1", "CAPABILITY", &caps)) return false;
    if (t_.tls == Tls::kStartTls) {
      if (!caps.count("STARTTLS")) return Fail(Reason::kTls, "STARTTLS is not offered in the capabilities");
      if (!ImapCommand("m2", "STARTTLS", nullptr)) return false;
      if (!Handshake()) return false;
      if (!ImapCommand("m3", "CAPABILITY", &caps)) return false;
    }
    if (!caps.count("IMAP4REV1") && !caps.count("IMAP4REV2")) {
      return Fail(Reason::kProtocol, "CAPABILITY: neither IMAP4rev1 nor IMAP4rev2");
    }
    PoliteQuit("m9 LOGOUT\r\n", 2);
    return true;
  }

  // ---- POP3
  bool Pop3Ok(std::string_view step, bool* ok_out = nullptr) {
    auto line = Line(step);
    if (!line) return false;
    auto st = mail::ParsePop3Status(*line);
    if (!st.ok()) return Fail(Reason::kProtocol, std::string(step) + ": " + st.status().message());
    if (ok_out) {
      *ok_out = *st > 0;
      return true;
    }
    if (*st < 0) return Fail(Reason::kRejected, std::string(step) + ": " + *line);
    return true;
  }
  // CAPA: +OK then lines up to ".". Servers without CAPA say -ERR: no capabilities.
  bool Pop3Capa(std::set<std::string>* caps) {
    caps->clear();
    if (!Send("CAPA\r\n", "CAPA")) return false;
    bool ok = false;
    if (!Pop3Ok("CAPA", &ok)) return false;
    if (!ok) return true;
    for (size_t i = 0; i <= kMaxReplyLines; ++i) {
      auto line = Line("CAPA");
      if (!line) return false;
      if (*line == ".") return true;
      std::string_view l = *line;
      if (!l.empty() && l[0] == '.') l.remove_prefix(1);
      auto sp = l.find(' ');
      caps->insert(text::AsciiUpper(l.substr(0, sp)));
    }
    return Fail(Reason::kProtocol, "CAPA: more than " + std::to_string(kMaxReplyLines) + " lines");
  }
  bool Pop3() {
    if (!Pop3Ok("greeting")) return false;
    std::set<std::string> caps;
    if (!Pop3Capa(&caps)) return false;
    if (t_.tls == Tls::kStartTls) {
      if (!caps.count("STLS")) return Fail(Reason::kTls, "STLS is not offered in the capabilities");
      if (!Send("STLS\r\n", "STLS") || !Pop3Ok("STLS")) return false;
      if (!Handshake()) return false;
      if (!Pop3Capa(&caps)) return false;
    }
    PoliteQuit("QUIT\r\n", 1);
    return true;
  }

  // ---- ManageSieve (RFC 5804): capabilities, then OK.
  bool SieveCapabilities(std::string_view step, std::set<std::string>* caps) {
    caps->clear();
    for (size_t i = 0; i <= kMaxReplyLines; ++i) {
      auto line = Line(step);
      if (!line) return false;
      auto parsed = mail::ParseSieveLine(*line);
      if (!parsed.ok()) return Fail(Reason::kProtocol, std::string(step) + ": " + parsed.status().message());
      switch (parsed->kind) {
        case mail::SieveLine::kCapability: caps->insert(parsed->name); break;
        case mail::SieveLine::kOk: return true;
        case mail::SieveLine::kNo:
        case mail::SieveLine::kBye: return Fail(Reason::kRejected, std::string(step) + ": " + *line);
      }
    }
    return Fail(Reason::kProtocol, std::string(step) + ": more than " + std::to_string(kMaxReplyLines) + " lines");
  }
  bool Sieve() {
    std::set<std::string> caps;
    if (!SieveCapabilities("greeting", &caps)) return false;
    if (!caps.count("IMPLEMENTATION")) return Fail(Reason::kProtocol, "greeting: no IMPLEMENTATION capability");
    if (t_.tls == Tls::kStartTls) {
      if (!caps.count("STARTTLS")) return Fail(Reason::kTls, "STARTTLS is not offered in the capabilities");
      if (!Send("STARTTLS\r\n", "STARTTLS")) return false;
      std::set<std::string> none;
      auto line = Line("STARTTLS");
      if (!line) return false;
      auto parsed = mail::ParseSieveLine(*line);
      if (!parsed.ok()) return Fail(Reason::kProtocol, "STARTTLS: " + parsed.status().message());
      if (parsed->kind == mail::SieveLine::kNo || parsed->kind == mail::SieveLine::kBye) {
        return Fail(Reason::kRejected, "STARTTLS: " + *line);
      }
      if (parsed->kind != mail::SieveLine::kOk) return Fail(Reason::kProtocol, "STARTTLS: unexpected " + *line);
      if (!Handshake()) return false;
      // RFC 5804 2.2: the server sends its capabilities again after TLS.
      if (!SieveCapabilities("capabilities after TLS", &caps)) return false;
    }
    PoliteQuit("LOGOUT\r\n", 1);
    return true;
  }

  // ---- milter: option negotiation (SMFIC_OPTNEG), then quit.
  bool Milter() {
    if (!Send(mail::MilterOptnegRequest(), "option negotiation")) return false;
    auto len_bytes = s_.ReadExact(4);
    if (!len_bytes.ok()) return Fail(len_bytes.status(), Reason::kProtocol, "option negotiation");
    auto len = mail::ParseMilterLength(*len_bytes);
    if (!len.ok()) return Fail(Reason::kProtocol, len.status().message());
    auto packet = s_.ReadExact(*len);
    if (!packet.ok()) return Fail(packet.status(), Reason::kProtocol, "option negotiation");
    auto optneg = mail::ParseMilterOptneg(*packet);
    if (!optneg.ok()) return Fail(Reason::kProtocol, optneg.status().message());
    (void)s_.Write(mail::MilterQuitRequest());
    return true;
  }

  const Target& t_;
  net::Stream& s_;
  Result& r_;
};

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
    Dialog(target, stream, r).Run();
  }
  r.duration_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace mailstack::probe

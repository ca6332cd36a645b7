#include "collectors/probes/imap_session.h"

#include <charconv>

#include "collectors/parse/text.h"

namespace mailstack::client {

namespace {

// The N of a line ending in "{N}" or "{N+}", or -1.
long long LiteralSize(std::string_view line) {
  if (line.empty() || line.back() != '}') return -1;
  const size_t open = line.rfind('{');
  if (open == std::string_view::npos) return -1;
  std::string_view digits = line.substr(open + 1, line.size() - open - 2);
  if (!digits.empty() && digits.back() == '+') digits.remove_suffix(1);
  long long n = -1;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty()) return -1;
  return n;
}

// The unsigned numbers of a space-separated list ("1 5 9").
bool ParseNumbers(std::string_view s, std::vector<uint32_t>* out) {
  while (!s.empty()) {
    if (s.front() == ' ') {
      s.remove_prefix(1);
      continue;
    }
    uint32_t n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc()) return false;
    out->push_back(n);
    s.remove_prefix(static_cast<size_t>(end - s.data()));
    if (!s.empty() && s.front() != ' ') return false;
  }
  return true;
}

}  // namespace

Result<ImapSession::Response> ImapSession::ReadResponse(std::string_view step) {
  MS_ASSIGN_OR_RETURN(std::string first, ReadLine(step));
  auto parsed = mail::ParseImapLine(first);
  if (!parsed.ok()) return Fail(Reason::kProtocol, std::string(step) + ": " + parsed.status().message());
  Response r{std::move(parsed).value(), first, {}};
  std::string line = std::move(first);
  for (size_t i = 0; i < mail::kMaxReplyLines; ++i) {
    const long long n = LiteralSize(line);
    if (n < 0) return r;
    if (static_cast<unsigned long long>(n) > kMaxLiteral) {
      return Fail(Reason::kProtocol, std::string(step) + ": literal of " + std::to_string(n) + " bytes, more than " +
                                         std::to_string(kMaxLiteral));
    }
    MS_ASSIGN_OR_RETURN(std::string literal, ReadExact(static_cast<size_t>(n), step));
    MS_ASSIGN_OR_RETURN(line, ReadLine(step));
    r.text += line;
    r.literals.push_back(std::move(literal));
  }
  return Fail(Reason::kProtocol,
              std::string(step) + ": more than " + std::to_string(mail::kMaxReplyLines) + " literals in one response");
}

Status ImapSession::Tagged(const Response& r, const std::string& tag, std::string_view step) {
  const std::string s(step);
  if (r.line.tag != tag) return Fail(Reason::kProtocol, s + ": unexpected tag in \"" + r.text + "\"");
  if (r.line.status == "OK") {
    if (r.line.rest.find("[CAPABILITY ") != std::string::npos) caps_ = mail::ImapCapabilities(r.line.rest);
    return Status::Ok();
  }
  if (r.line.status == "NO" || r.line.status == "BAD") {
    return Fail(Reason::kRejected, s + ": " + r.line.status + " " + r.line.rest);
  }
  return Fail(Reason::kProtocol, s + ": unexpected status " + r.line.status);
}

Status ImapSession::Command(const std::string& command, std::string_view step, const Untagged& untagged) {
  const std::string tag = NextTag();
  MS_RETURN_IF_ERROR(Send(tag + " " + command + "\r\n", step));
  for (size_t i = 0; i < mail::kMaxReplyLines; ++i) {
    MS_ASSIGN_OR_RETURN(Response r, ReadResponse(step));
    if (r.line.tag != "*") return Tagged(r, tag, step);
    if (r.line.status == "CAPABILITY") caps_ = mail::ImapCapabilities(r.line.rest);
    if (r.line.status == "BYE") return Fail(Reason::kRejected, std::string(step) + ": * BYE " + r.line.rest);
    if (untagged) untagged(r);
  }
  return Fail(Reason::kProtocol, std::string(step) + ": more than " + std::to_string(mail::kMaxReplyLines) + " lines");
}

Status ImapSession::Greeting() {
  MS_ASSIGN_OR_RETURN(Response r, ReadResponse("greeting"));
  const mail::ImapLine& g = r.line;
  if (g.tag != "*") return Fail(Reason::kProtocol, "greeting: not untagged: \"" + r.text + "\"");
  if (g.status == "BYE") return Fail(Reason::kRejected, "greeting: * BYE " + g.rest);
  if (g.status != "OK" && g.status != "PREAUTH")
    return Fail(Reason::kProtocol, "greeting: unexpected status " + g.status);
  return Status::Ok();
}

Status ImapSession::Capability() {
  caps_.clear();
  return Command("CAPABILITY", "CAPABILITY");
}

Status ImapSession::StartTls(const std::string& server_name) {
  if (!Offers("STARTTLS")) return Fail(Reason::kTls, "STARTTLS is not offered in the capabilities");
  MS_RETURN_IF_ERROR(Command("STARTTLS", "STARTTLS"));
  MS_RETURN_IF_ERROR(Handshake(server_name, "after STARTTLS"));
  caps_.clear();
  return Status::Ok();
}

Result<std::string> ImapSession::Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u == 0 || u == '\r' || u == '\n' || u >= 0x80) {
      return Status::InvalidArgument("a quoted string cannot hold NUL, CR, LF or 8-bit bytes");
    }
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

Status ImapSession::Login(const std::string& user, const std::string& password) {
  MS_RETURN_IF_ERROR(RequireTls("LOGIN"));
  if (Offers("LOGINDISABLED")) return Fail(Reason::kProtocol, "LOGIN: the server says LOGINDISABLED");
  auto quoted_user = Quote(user);
  auto quoted_password = Quote(password);
  if (!quoted_user.ok() || !quoted_password.ok()) {
    return Fail(Reason::kProtocol, "LOGIN: " + (quoted_user.ok() ? quoted_password : quoted_user).status().message());
  }
  return Command("LOGIN " + *quoted_user + " " + *quoted_password, "LOGIN");
}

Result<uint32_t> ImapSession::Select(const std::string& mailbox) {
  auto quoted = Quote(mailbox);
  if (!quoted.ok()) return Fail(Reason::kProtocol, "SELECT: " + quoted.status().message());
  uint32_t exists = 0;
  bool seen = false;
  MS_RETURN_IF_ERROR(Command("SELECT " + *quoted, "SELECT", [&](const Response& r) {
    if (!text::EqualsNoCase(r.line.rest, "EXISTS")) return;
    std::vector<uint32_t> n;
    if (ParseNumbers(r.line.status, &n) && n.size() == 1) {
      exists = n[0];
      seen = true;
    }
  }));
  if (!seen) return Fail(Reason::kProtocol, "SELECT: no EXISTS in the reply");
  return exists;
}

Result<std::vector<uint32_t>> ImapSession::UidSearch(const std::string& criteria) {
  std::vector<uint32_t> uids;
  bool bad = false;
  MS_RETURN_IF_ERROR(Command("UID SEARCH " + criteria, "UID SEARCH", [&](const Response& r) {
    if (r.line.status == "SEARCH" && !ParseNumbers(r.line.rest, &uids)) bad = true;
  }));
  if (bad) return Fail(Reason::kProtocol, "UID SEARCH: a result that is not a list of numbers");
  return uids;
}

Result<std::string> ImapSession::UidFetch(uint32_t uid, const std::string& item) {
  const std::string want = "UID " + std::to_string(uid);
  std::string data;
  bool found = false;
  MS_RETURN_IF_ERROR(
      Command("UID FETCH " + std::to_string(uid) + " (" + item + ")", "UID FETCH", [&](const Response& r) {
        if (found || r.literals.empty() || !text::StartsWithNoCase(r.line.rest, "FETCH (")) return;
        // Only this message's data: "* 3 FETCH (UID 7 BODY[HEADER] {12}" (the UID anywhere in it).
        const std::string upper = text::AsciiUpper(r.text);
        const size_t at = upper.find(want);
        if (at == std::string::npos) return;
        const size_t after = at + want.size();
        if (after < upper.size() && upper[after] >= '0' && upper[after] <= '9') return;  // UID 70 is not UID 7
        data = r.literals.front();
        found = true;
      }));
  if (!found) return Fail(Reason::kProtocol, "UID FETCH: no data for UID " + std::to_string(uid));
  return data;
}

Status ImapSession::UidStore(uint32_t uid, const std::string& change) {
  return Command("UID STORE " + std::to_string(uid) + " " + change, "UID STORE");
}

Status ImapSession::Expunge() { return Command("EXPUNGE", "EXPUNGE"); }

Status ImapSession::UidExpunge(uint32_t uid) {
  if (!Offers("UIDPLUS")) return Fail(Reason::kProtocol, "UID EXPUNGE: UIDPLUS is not offered");
  return Command("UID EXPUNGE " + std::to_string(uid), "UID EXPUNGE");
}

void ImapSession::Logout() { PoliteQuit(NextTag() + " LOGOUT\r\n", 2); }

}  // namespace mailstack::client

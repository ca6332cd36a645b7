// IMAP client (RFC 9051 / 3501, 2595, 4315): greeting, CAPABILITY,
// STARTTLS, LOGIN (quoted, only after TLS), SELECT, UID SEARCH, UID FETCH,
// UID STORE, EXPUNGE / UID EXPUNGE, LOGOUT. Commands are tagged m1, m2, ...
// Server literals ({N} then N bytes) are read whole, up to kMaxLiteral.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/parse/mail_reply.h"
#include "collectors/probes/session.h"

namespace mailstack::client {

class ImapSession : public Session {
 public:
  static constexpr size_t kMaxLiteral = 1 << 20;

  // One server response: its first line parsed, its lines joined (`text`;
  // each literal is left out, still announced by its {N}) and the
  // literals' bytes in order.
  struct Response {
    mail::ImapLine line;
    std::string text;
    std::vector<std::string> literals;
  };
  // Sees each untagged response of a command.
  using Untagged = std::function<void(const Response&)>;

  explicit ImapSession(net::Stream& stream) : Session(stream) {}

  // "* OK" or "* PREAUTH"; "* BYE" is kRejected.
  Status Greeting();
  // CAPABILITY: the capabilities (upper case) replace the known ones.
  Status Capability();
  const std::set<std::string>& capabilities() const { return caps_; }
  bool Offers(const std::string& capability) const { return caps_.count(capability) != 0; }
  // STARTTLS (it must be offered), OK, the handshake; the capabilities are
  // forgotten (call Capability again).
  Status StartTls(const std::string& server_name);
  // LOGIN "user" "password" (quoted; CR, LF, NUL and 8-bit bytes are
  // refused). Refused before TLS or under LOGINDISABLED; NO is kRejected.
  Status Login(const std::string& user, const std::string& password);
  // SELECT: the number of messages (EXISTS).
  Result<uint32_t> Select(const std::string& mailbox);
  // UID SEARCH `criteria` (sent as given): the UIDs found.
  Result<std::vector<uint32_t>> UidSearch(const std::string& criteria);
  // UID FETCH `uid` (`item`), e.g. item "BODY.PEEK[HEADER]": the first
  // literal of that message's FETCH data; a kProtocol error when the server
  // sent none.
  Result<std::string> UidFetch(uint32_t uid, const std::string& item);
  // UID STORE `uid` `change`, e.g. change "+FLAGS.SILENT (\Deleted)".
  Status UidStore(uint32_t uid, const std::string& change);
  // EXPUNGE; UID EXPUNGE `uid` (needs UIDPLUS).
  Status Expunge();
  Status UidExpunge(uint32_t uid);
  // LOGOUT, its BYE and OK, bounded and never failing.
  void Logout();

  // Sends "<tag> <command>" and reads to its tagged reply: OK is success,
  // NO/BAD and an untagged BYE kRejected. `step` names the command in
  // errors (so a LOGIN's password never reaches a message).
  Status Command(const std::string& command, std::string_view step, const Untagged& untagged = nullptr);
  // One response with its literals.
  Result<Response> ReadResponse(std::string_view step);

  // `s` as an IMAP quoted string; error for bytes a quoted string cannot hold.
  static Result<std::string> Quote(std::string_view s);

 private:
  Status Tagged(const Response& r, const std::string& tag, std::string_view step);
  std::string NextTag() { return "m" + std::to_string(++tags_); }

  std::set<std::string> caps_;
  int tags_ = 0;
};

}  // namespace mailstack::client

// Parsers for the replies of mail protocols, one line (without CR LF) or one
// packet at a time: SMTP/LMTP (RFC 5321 4.2 multi-line replies), IMAP (RFC
// 9051 status responses), POP3 (RFC 1939/2449), ManageSieve (RFC 5804) and the
// milter option negotiation. Pure functions, no I/O; every input is untrusted
// and bounded (a reply of more than kMaxReplyLines lines is an error).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/core/status.h"

namespace mailstack::mail {

inline constexpr size_t kMaxLineBytes = 2048;  // longer lines are garbage (RFC 5321: 512)
inline constexpr size_t kMaxReplyLines = 100;  // an endless 220- flood ends here

// ---- SMTP / LMTP -----------------------------------------------------------
struct SmtpReply {
  int code = 0;
  std::vector<std::string> lines;  // text after "NNN-" / "NNN "
  // EHLO keywords (upper case, first word of every line but the first).
  std::set<std::string> Keywords() const;
};

// Assembles one reply from its lines. Feed() returns true once the last line
// ("NNN " or "NNN") arrived, false while more lines are due, or an error for
// a malformed line, a code that changes mid-reply, or too many lines.
class SmtpReplyParser {
 public:
  Result<bool> Feed(std::string_view line);
  const SmtpReply& reply() const { return reply_; }

 private:
  SmtpReply reply_;
};

// ---- IMAP ------------------------------------------------------------------
struct ImapLine {
  std::string tag;     // "*", "+" or the command tag
  std::string status;  // OK, NO, BAD, BYE, PREAUTH (upper case), or a data name such as CAPABILITY
  std::string rest;    // the text after the status word
};
Result<ImapLine> ParseImapLine(std::string_view line);
// Capabilities from "* CAPABILITY a b c" (rest of that line) or from an
// "[CAPABILITY a b c]" response code. Upper case.
std::set<std::string> ImapCapabilities(std::string_view text);

// ---- POP3 ------------------------------------------------------------------
// +1 for "+OK...", -1 for "-ERR...", error otherwise.
Result<int> ParsePop3Status(std::string_view line);

// ---- ManageSieve -----------------------------------------------------------
struct SieveLine {
  enum Kind { kCapability, kOk, kNo, kBye } kind = kCapability;
  std::string name;   // capability name, upper case (kCapability)
  std::string value;  // capability value, or the response text
};
Result<SieveLine> ParseSieveLine(std::string_view line);

// ---- Milter ----------------------------------------------------------------
// The body of one milter packet (after the 4-byte length): command byte + data.
struct MilterOptneg {
  uint32_t version = 0, actions = 0, protocol = 0;
};
inline constexpr uint32_t kMaxMilterPacket = 65536;
// Length prefix of a packet: big-endian uint32, 1..kMaxMilterPacket.
Result<uint32_t> ParseMilterLength(std::string_view four_bytes);
// An SMFIC_OPTNEG reply: 'O', version, actions, protocol (+ optional macros).
Result<MilterOptneg> ParseMilterOptneg(std::string_view packet);
// The option negotiation an MTA sends (version 6, offering every action and protocol flag, as Postfix does).
std::string MilterOptnegRequest();
std::string MilterQuitRequest();

}  // namespace mailstack::mail

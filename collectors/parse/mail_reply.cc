#include "collectors/parse/mail_reply.h"

#include "collectors/parse/text.h"

#include <cctype>

namespace mailstack::mail {

namespace {

using text::AsciiUpper;

std::string Printable(std::string_view s) { return text::Printable(s, 60); }

Status Garbage(std::string_view what, std::string_view line) {
  return Status::InvalidArgument(std::string(what) + ": \"" + Printable(line) + "\"");
}

// First word of `s` (up to a space) and the rest after the spaces.
std::pair<std::string_view, std::string_view> Word(std::string_view s) {
  auto sp = s.find(' ');
  if (sp == std::string_view::npos) return {s, {}};
  auto rest = s.substr(sp);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  return {s.substr(0, sp), rest};
}

}  // namespace

std::set<std::string> SmtpReply::Keywords() const {
  std::set<std::string> out;
  for (size_t i = 1; i < lines.size(); ++i) {
    auto [word, rest] = Word(lines[i]);
    if (!word.empty()) out.insert(AsciiUpper(word));
  }
  return out;
}

Result<bool> SmtpReplyParser::Feed(std::string_view line) {
  if (line.size() > kMaxLineBytes) return Status::InvalidArgument("SMTP reply line too long");
  if (line.size() < 3 || !std::isdigit(static_cast<unsigned char>(line[0])) ||
      !std::isdigit(static_cast<unsigned char>(line[1])) || !std::isdigit(static_cast<unsigned char>(line[2])) ||
      line[0] < '2' || line[0] > '5' || (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
    return Garbage("not an SMTP reply line", line);
  }
  int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  if (reply_.lines.empty()) {
    reply_.code = code;
  } else if (code != reply_.code) {
    return Garbage("SMTP reply code changed within a multi-line reply", line);
  }
  if (reply_.lines.size() >= kMaxReplyLines) {
    return Status::InvalidArgument("SMTP reply longer than " + std::to_string(kMaxReplyLines) + " lines");
  }
  reply_.lines.emplace_back(line.size() > 4 ? line.substr(4) : std::string_view());
  return line.size() == 3 || line[3] == ' ';
}

Result<ImapLine> ParseImapLine(std::string_view line) {
  if (line.size() > kMaxLineBytes) return Status::InvalidArgument("IMAP line too long");
  auto [tag, rest] = Word(line);
  if (tag.empty()) return Garbage("not an IMAP response", line);
  for (char c : tag) {
    if (c <= 0x20 || c >= 0x7f || c == '(' || c == ')' || c == '{' || c == '%' || c == '"' || c == '\\') {
      if (!(tag.size() == 1 && (c == '*' || c == '+'))) return Garbage("not an IMAP response", line);
    }
  }
  ImapLine out;
  out.tag = std::string(tag);
  if (tag == "+") {
    out.rest = std::string(rest);
    return out;
  }
  auto [status, text] = Word(rest);
  if (status.empty()) return Garbage("IMAP response without a status", line);
  out.status = AsciiUpper(status);
  out.rest = std::string(text);
  return out;
}

std::set<std::string> ImapCapabilities(std::string_view text) {
  std::set<std::string> out;
  auto code = text.find("[CAPABILITY ");
  if (code == std::string_view::npos) code = text.find("[capability ");
  if (code != std::string_view::npos) {
    text = text.substr(code + 12);
    text = text.substr(0, text.find(']'));
  }
  while (!text.empty()) {
    auto [word, rest] = Word(text);
    if (!word.empty()) out.insert(AsciiUpper(word));
    text = rest;
  }
  return out;
}

Result<int> ParsePop3Status(std::string_view line) {
  if (line.size() > kMaxLineBytes) return Status::InvalidArgument("POP3 line too long");
  if (line.substr(0, 3) == "+OK") return 1;
  if (line.substr(0, 4) == "-ERR") return -1;
  return Garbage("not a POP3 status line", line);
}

Result<SieveLine> ParseSieveLine(std::string_view line) {
  if (line.size() > kMaxLineBytes) return Status::InvalidArgument("ManageSieve line too long");
  SieveLine out;
  if (!line.empty() && line.front() == '"') {
    // "NAME" or "NAME" "VALUE"; quoted strings with \" and \\ escapes.
    std::vector<std::string> strings;
    size_t i = 0;
    while (i < line.size()) {
      if (line[i] == ' ') {
        ++i;
        continue;
      }
      if (line[i] != '"') return Garbage("ManageSieve capability is not a quoted string", line);
      std::string s;
      ++i;
      bool closed = false;
      while (i < line.size()) {
        char c = line[i++];
        if (c == '\\' && i < line.size()) {
          s += line[i++];
        } else if (c == '"') {
          closed = true;
          break;
        } else {
          s += c;
        }
      }
      if (!closed) return Garbage("unterminated quoted string", line);
      strings.push_back(std::move(s));
    }
    if (strings.empty() || strings.size() > 2) return Garbage("ManageSieve capability line", line);
    out.kind = SieveLine::kCapability;
    out.name = AsciiUpper(strings[0]);
    if (strings.size() == 2) out.value = std::move(strings[1]);
    return out;
  }
  auto [word, rest] = Word(line);
  std::string w = AsciiUpper(word);
  if (w == "OK") {
    out.kind = SieveLine::kOk;
  } else if (w == "NO") {
    out.kind = SieveLine::kNo;
  } else if (w == "BYE") {
    out.kind = SieveLine::kBye;
  } else {
    return Garbage("not a ManageSieve response", line);
  }
  out.value = std::string(rest);
  return out;
}

namespace {

uint32_t Be32(std::string_view s, size_t at) {
  return (static_cast<uint32_t>(static_cast<unsigned char>(s[at])) << 24) |
         (static_cast<uint32_t>(static_cast<unsigned char>(s[at + 1])) << 16) |
         (static_cast<uint32_t>(static_cast<unsigned char>(s[at + 2])) << 8) |
         static_cast<uint32_t>(static_cast<unsigned char>(s[at + 3]));
}

void PutBe32(std::string& out, uint32_t v) {
  out += static_cast<char>(v >> 24);
  out += static_cast<char>((v >> 16) & 0xff);
  out += static_cast<char>((v >> 8) & 0xff);
  out += static_cast<char>(v & 0xff);
}

}  // namespace

Result<uint32_t> ParseMilterLength(std::string_view four_bytes) {
  if (four_bytes.size() != 4) return Status::InvalidArgument("milter packet length: want 4 bytes");
  uint32_t len = Be32(four_bytes, 0);
  if (len == 0 || len > kMaxMilterPacket) {
    return Status::InvalidArgument("milter packet length " + std::to_string(len) + " out of range 1.." +
                                   std::to_string(kMaxMilterPacket));
  }
  return len;
}

Result<MilterOptneg> ParseMilterOptneg(std::string_view packet) {
  if (packet.empty()) return Status::InvalidArgument("empty milter packet");
  if (packet[0] != 'O') {
    return Status::InvalidArgument(std::string("milter: expected option negotiation 'O', got command ") +
                                   (packet[0] >= 0x20 && packet[0] < 0x7f
                                        ? std::string(1, packet[0])
                                        : "0x" + std::to_string(static_cast<unsigned char>(packet[0]))));
  }
  if (packet.size() < 13) return Status::InvalidArgument("milter: option negotiation shorter than 13 bytes");
  MilterOptneg out{Be32(packet, 1), Be32(packet, 5), Be32(packet, 9)};
  if (out.version < 2 || out.version > 6) {
    return Status::InvalidArgument("milter: unsupported protocol version " + std::to_string(out.version));
  }
  return out;
}

std::string MilterOptnegRequest() {
  std::string out;
  PutBe32(out, 13);
  out += 'O';
  PutBe32(out, 6);         // SMFI_PROT_VERSION
  PutBe32(out, 0x1ff);     // every SMFIF_* action, as Postfix offers
  PutBe32(out, 0x1fffff);  // every SMFIP_* step the filter may skip, as Postfix offers
  return out;
}

std::string MilterQuitRequest() {
  std::string out;
  PutBe32(out, 1);
  out += 'Q';
  return out;
}

}  // namespace mailstack::mail

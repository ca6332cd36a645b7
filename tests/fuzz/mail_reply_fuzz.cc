// Fuzz target: the mail reply parsers (SMTP multi-line replies, IMAP, POP3,
// ManageSieve lines, milter packets). The first byte picks the parser, the
// rest is split into lines as the probe's line reader would. Invariants: no
// crash, an SMTP reply never holds more than kMaxReplyLines lines and a
// finished one has a code in 200..599, capabilities never outnumber the
// input's words, a milter length that parses is within 1..kMaxMilterPacket.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/parse/mail_reply.h"

using namespace mailstack::mail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int which = data[0] % 5;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::vector<std::string_view> lines;
  for (size_t start = 0; start <= in.size();) {
    size_t nl = in.find('\n', start);
    if (nl == std::string_view::npos) nl = in.size();
    std::string_view l = in.substr(start, nl - start);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    lines.push_back(l);
    start = nl + 1;
  }
  switch (which) {
    case 0: {
      SmtpReplyParser p;
      for (auto l : lines) {
        auto done = p.Feed(l);
        if (p.reply().lines.size() > kMaxReplyLines) __builtin_trap();
        if (!done.ok()) break;
        if (*done) {
          if (p.reply().code < 200 || p.reply().code > 599) __builtin_trap();
          if (p.reply().Keywords().size() >= p.reply().lines.size()) __builtin_trap();
          break;
        }
      }
      break;
    }
    case 1:
      for (auto l : lines) {
        auto r = ParseImapLine(l);
        if (r.ok() && r->tag.empty()) __builtin_trap();
        if (ImapCapabilities(l).size() > l.size()) __builtin_trap();
      }
      break;
    case 2:
      for (auto l : lines) {
        auto r = ParsePop3Status(l);
        if (r.ok() && *r != 1 && *r != -1) __builtin_trap();
      }
      break;
    case 3:
      for (auto l : lines) {
        auto r = ParseSieveLine(l);
        if (r.ok() && r->name.size() + r->value.size() > l.size()) __builtin_trap();
      }
      break;
    case 4: {
      if (in.size() >= 4) {
        auto len = ParseMilterLength(in.substr(0, 4));
        if (len.ok() && (*len == 0 || *len > kMaxMilterPacket)) __builtin_trap();
      }
      auto o = ParseMilterOptneg(in.size() >= 4 ? in.substr(4) : in);
      if (o.ok() && (o->version < 2 || o->version > 6)) __builtin_trap();
      break;
    }
  }
  return 0;
}

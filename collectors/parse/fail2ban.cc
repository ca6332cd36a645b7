#include "collectors/parse/fail2ban.h"

#include "collectors/parse/syslog_line.h"

namespace mailstack::parse {
namespace {

bool Digits(std::string_view s, size_t at, size_t n, int* out) {
  if (at + n > s.size()) return false;
  int v = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// "YYYY-MM-DD HH:MM:SS" at the start of the line.
bool ParseTimestamp(std::string_view line, int64_t* local_seconds) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (line.size() < 19 || line[4] != '-' || line[7] != '-' || line[10] != ' ' || line[13] != ':' || line[16] != ':') {
    return false;
  }
  if (!Digits(line, 0, 4, &y) || !Digits(line, 5, 2, &mo) || !Digits(line, 8, 2, &d) || !Digits(line, 11, 2, &h) ||
      !Digits(line, 14, 2, &mi) || !Digits(line, 17, 2, &s)) {
    return false;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return false;
  *local_seconds =
      DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 + mi * 60 + s;
  return true;
}

}  // namespace

bool ParseFail2banLine(std::string_view line, Fail2banLine* out) {
  *out = Fail2banLine{};
  if (!ParseTimestamp(line, &out->local_seconds)) return false;
  // The action's message: after "]: " (the pid's bracket), the level, then "[jail] Ban ip".
  const size_t colon = line.find("]: ", 19);
  if (colon == std::string_view::npos) return true;
  std::string_view rest = line.substr(colon + 3);
  const size_t open = rest.find('[');
  if (open == std::string_view::npos) return true;
  const size_t close = rest.find(']', open + 1);
  if (close == std::string_view::npos || close == open + 1) return true;
  const std::string_view after = rest.substr(close + 1);
  if (after.substr(0, 5) != " Ban ") return true;
  out->ban = true;
  out->jail = rest.substr(open + 1, close - open - 1);
  return true;
}

}  // namespace mailstack::parse

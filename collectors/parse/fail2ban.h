// One line of fail2ban's log (/var/log/fail2ban.log), as fail2ban 0.11 and
// 1.0 write it:
//   2026-12-04 20:00:00,123 fail2ban.actions        [1234]: NOTICE  [postfix-sasl] Ban 203.0.113.5
// Pure, no allocation. Only a new ban counts: "Restore Ban" (bans re-applied
// when fail2ban restarts), "Unban" and "already banned" do not.
#pragma once

#include <cstdint>
#include <string_view>

namespace mailstack::parse {

struct Fail2banLine {
  // Local wall-clock time of the line as seconds since 1970-01-01 00:00:00
  // local (subtract the UTC offset to get a Unix time); 0 when it has none.
  int64_t local_seconds = 0;
  bool ban = false;       // "[jail] Ban <ip>"
  std::string_view jail;  // set when ban
};

// False if the line does not start with fail2ban's timestamp.
bool ParseFail2banLine(std::string_view line, Fail2banLine* out);

}  // namespace mailstack::parse

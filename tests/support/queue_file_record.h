// Encodes one Postfix queue-file record (type byte, LEB128 length, data) as
// src/global/record.c writes it; for queue-file fixtures in tests.
#pragma once

#include <string>
#include <string_view>

namespace mailstack::testing {

inline std::string QueueFileRecord(char type, std::string_view data) {
  std::string r(1, type);
  size_t len = data.size();
  do {
    unsigned char b = len & 0x7f;
    len >>= 7;
    if (len) b |= 0x80;
    r += static_cast<char>(b);
  } while (len);
  r.append(data);
  return r;
}

}  // namespace mailstack::testing

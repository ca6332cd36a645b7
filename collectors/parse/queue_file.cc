#include "collectors/parse/queue_file.h"

namespace mailstack::parse {
namespace {

// Leading decimal field of `s` after optional spaces; false if none.
bool FirstNumber(std::string_view s, int64_t* out) {
  size_t i = 0;
  while (i < s.size() && s[i] == ' ') ++i;
  size_t start = i;
  int64_t v = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - start < 18) v = v * 10 + (s[i++] - '0');
  if (i == start) return false;
  *out = v;
  return true;
}

}  // namespace

QueueFileHead ParseQueueFileHead(std::string_view head) {
  QueueFileHead h;
  size_t pos = 0;
  while (pos < head.size() && !(h.has_size && h.has_time)) {
    const char type = head[pos++];
    uint64_t len = 0;
    int shift = 0;
    bool complete = false;
    while (pos < head.size() && shift < 32) {
      auto b = static_cast<unsigned char>(head[pos++]);
      len |= static_cast<uint64_t>(b & 0x7f) << shift;
      shift += 7;
      if ((b & 0x80) == 0) {
        complete = true;
        break;
      }
    }
    if (!complete || len > head.size() - pos) break;  // cut off: the rest is not in `head`
    std::string_view data = head.substr(pos, len);
    pos += len;
    switch (type) {
      case 'C':
        if (!h.has_size) {
          // showq accepts only digits and spaces here.
          bool clean = data.find_first_not_of("0123456789 ") == std::string_view::npos;
          h.has_size = clean && FirstNumber(data, &h.content_size);
        }
        break;
      case 'T':
        if (!h.has_time) {
          int64_t t = 0;
          if (FirstNumber(data, &t) && t > 0) {
            h.arrival_time = t;
            h.has_time = true;
          }
        }
        break;
      case 'S':
      case 'M':
      case 'p':
      case 'E': return h;
      default: break;
    }
  }
  return h;
}

}  // namespace mailstack::parse

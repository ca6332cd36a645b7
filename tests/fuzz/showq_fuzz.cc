// Fuzz target: the showq stream parser, fed whole and in three pieces split
// at points taken from the input, must return a Status and never crash; the
// result (status, message and message count) must not depend on the split:
// a peer that repeats a fault must get the same error however reads split it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "collectors/parse/showq_parser.h"

namespace {

size_t Pick(const uint8_t* data, size_t size, size_t at, size_t range) {
  if (range == 0) return 0;
  const size_t v = (at < size ? data[at] : 0) | (at + 1 < size ? data[at + 1] << 8 : 0);
  return v % (range + 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view all(reinterpret_cast<const char*>(data), size);
  const size_t split1 = Pick(data, size, 0, size);
  const size_t split2 = split1 + Pick(data, size, 2, size - split1);
  uint64_t whole = 0, pieces = 0;
  mailstack::parse::ShowqParser a([&](const mailstack::parse::ShowqMessage&) { ++whole; });
  auto sa = a.Feed(all);
  if (sa.ok()) sa = a.Finish();
  mailstack::parse::ShowqParser b([&](const mailstack::parse::ShowqMessage&) { ++pieces; });
  auto sb = b.Feed(all.substr(0, split1));
  if (sb.ok()) sb = b.Feed(all.substr(split1, split2 - split1));
  if (sb.ok()) sb = b.Feed(all.substr(split2));
  if (sb.ok()) sb = b.Finish();
  if (sa.ok() != sb.ok() || sa.message() != sb.message() || whole != pieces) __builtin_trap();
  return 0;
}

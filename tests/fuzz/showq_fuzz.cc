// Fuzz target: the showq stream parser, fed in two pieces split at a point
// taken from the input, must return a Status and never crash; the message
// count must not depend on the split.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "collectors/parse/showq_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view all(reinterpret_cast<const char*>(data), size);
  size_t split = size > 0 ? data[0] % (size + 1) : 0;
  uint64_t whole = 0, pieces = 0;
  mailstack::parse::ShowqParser a([&](const mailstack::parse::ShowqMessage&) { ++whole; });
  auto sa = a.Feed(all);
  if (sa.ok()) sa = a.Finish();
  mailstack::parse::ShowqParser b([&](const mailstack::parse::ShowqMessage&) { ++pieces; });
  auto sb = b.Feed(all.substr(0, split));
  if (sb.ok()) sb = b.Feed(all.substr(split));
  if (sb.ok()) sb = b.Finish();
  if (sa.ok() != sb.ok() || whole != pieces) __builtin_trap();
  return 0;
}

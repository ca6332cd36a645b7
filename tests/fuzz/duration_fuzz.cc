// Fuzz target: duration parsing; a parsed duration must format and re-parse
// to the same value.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "collectors/core/duration.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto d = mailstack::ParseDuration(text);
  if (d.ok()) {
    auto again = mailstack::ParseDuration(mailstack::FormatDuration(*d));
    if (!again.ok() || *again != *d) __builtin_trap();
  }
  return 0;
}

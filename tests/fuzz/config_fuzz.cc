// Fuzz target: the whole config loader (YAML parse, strict checks, every
// collector's option parser). It must return a Status, never crash or throw.
#include <cstddef>
#include <cstdint>
#include <string>

#include "exporter/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto cfg = mailstack::ParseConfig(text, "fuzz.yml");
  if (!cfg.ok() && cfg.status().message().rfind("fuzz.yml", 0) != 0) {
    __builtin_trap();  // every config error must name the file
  }
  return 0;
}

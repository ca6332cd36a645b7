// Fuzz target: command-line parsing (arguments separated by NUL bytes).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "exporter/flags.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args(1);
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0)
      args.emplace_back();
    else
      args.back() += static_cast<char>(data[i]);
  }
  auto f = mailstack::ParseFlags(args);
  if (f.ok() && f->listen_addresses.empty()) __builtin_trap();
  return 0;
}

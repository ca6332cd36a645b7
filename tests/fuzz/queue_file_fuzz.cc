// Fuzz target: the queue-file head parser must never read past its input or
// crash, whatever bytes a (corrupt) queue file starts with.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "collectors/parse/queue_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto h = mailstack::parse::ParseQueueFileHead(std::string_view(reinterpret_cast<const char*>(data), size));
  if ((h.has_time && h.arrival_time <= 0) || (h.has_size && h.content_size < 0)) __builtin_trap();
  return 0;
}

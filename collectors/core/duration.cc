#include "collectors/core/duration.h"

#include <cstdint>
#include <limits>

namespace mailstack {
namespace {

struct Unit {
  std::string_view name;
  int64_t ms;
};
// Ordered from largest to smallest; "ms" must be tried before "m".
constexpr Unit kUnits[] = {
    {"y", 365LL * 24 * 3600 * 1000},
    {"w", 7LL * 24 * 3600 * 1000},
    {"d", 24LL * 3600 * 1000},
    {"h", 3600LL * 1000},
    {"ms", 1},
    {"m", 60LL * 1000},
    {"s", 1000},
};
constexpr int kRank[] = {0, 1, 2, 3, 6, 4, 5};  // order of magnitude: y..h, m, s, ms

}  // namespace

Result<Duration> ParseDuration(std::string_view text) {
  const auto bad = [&](std::string_view why) {
    return Status::InvalidArgument(std::string(why) + " (want e.g. 500ms, 30s, 5m, 1h, 1d; got \"" + std::string(text) +
                                   "\")");
  };
  if (text.empty()) return bad("empty duration");
  if (text == "0") return Duration(0);
  int64_t total = 0;
  int last_rank = -1;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] < '0' || text[i] > '9') return bad("not a duration");
    int64_t n = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (n > (std::numeric_limits<int64_t>::max() - 9) / 10) return bad("duration too large");
      n = n * 10 + (text[i] - '0');
      ++i;
    }
    int found = -1;
    for (int u = 0; u < static_cast<int>(std::size(kUnits)); ++u) {
      if (text.substr(i, kUnits[u].name.size()) == kUnits[u].name) {
        found = u;
        break;
      }
    }
    if (found < 0) return bad("not a duration");
    if (kRank[found] <= last_rank) return bad("duration units out of order");
    last_rank = kRank[found];
    i += kUnits[found].name.size();
    if (n > std::numeric_limits<int64_t>::max() / kUnits[found].ms) return bad("duration too large");
    int64_t part = n * kUnits[found].ms;
    if (total > std::numeric_limits<int64_t>::max() - part) return bad("duration too large");
    total += part;
  }
  return Duration(total);
}

std::string FormatDuration(Duration d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  // Prometheus prints y? No: it prints d/w/y only when exact; keep it simple.
  constexpr Unit kPrint[] = {
      {"d", 24LL * 3600 * 1000}, {"h", 3600LL * 1000}, {"m", 60LL * 1000}, {"s", 1000}, {"ms", 1}};
  for (const auto& u : kPrint) {
    if (ms >= u.ms) {
      out += std::to_string(ms / u.ms);
      out += u.name;
      ms %= u.ms;
    }
  }
  return out;
}

}  // namespace mailstack

// Prometheus-style durations: "500ms", "30s", "5m", "1h", "1d", "1w", "1y",
// and concatenations in descending unit order ("1h30m").
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "collectors/core/status.h"

namespace mailstack {

using Duration = std::chrono::milliseconds;

// Errors name what was wrong, e.g. `not a duration (want e.g. 30s, 5m, 1h)`.
Result<Duration> ParseDuration(std::string_view text);
// The shortest Prometheus form: 90000ms -> "1m30s", 0 -> "0s".
std::string FormatDuration(Duration d);

}  // namespace mailstack

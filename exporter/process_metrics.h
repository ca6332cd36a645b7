// process_* metrics of this process, read from /proc/self (prometheus-cpp has
// no process collector). Cheap: two small reads and a short directory listing.
#pragma once

#include <string>
#include <vector>

#include "collectors/core/metrics.h"

namespace mailstack {

// Appends process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_start_time_seconds, process_open_fds
// and process_max_fds in exposition format. Metrics whose source cannot be
// read are left out.
void AppendProcessMetrics(std::string* out);
// The families AppendProcessMetrics writes.
std::vector<MetricDesc> ProcessFamilies();

}  // namespace mailstack

// process_* metrics of this process, read from /proc/self (prometheus-cpp has
// no process collector). Cheap: a few small reads per scrape.
#pragma once

#include <vector>

#include <prometheus/metric_family.h>

namespace mailstack {

// Appends process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_open_fds, process_max_fds and
// process_start_time_seconds. Families whose source cannot be read are left out.
void AppendProcessMetrics(std::vector<prometheus::MetricFamily>* out);

}  // namespace mailstack

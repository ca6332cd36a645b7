// Direct writing of the text exposition format, for the few metrics rebuilt
// on every scrape (self and process metrics): no intermediate MetricFamily,
// no iostreams. Collector snapshots go through prometheus-cpp's serializer
// once per collector run instead.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "collectors/core/metrics.h"

namespace mailstack {

// "# HELP name help\n# TYPE name type\n" (help escaped).
void AppendHeader(std::string* out, const MetricDesc& desc);
// "name{k="v",...} value\n" (label values escaped).
void AppendSample(std::string* out, std::string_view name, LabelList labels, double value);
// Header plus one unlabelled sample.
void AppendMetric(std::string* out, const MetricDesc& desc, double value);
// Shortest round-trip form; NaN, +Inf, -Inf as the format wants.
void AppendValue(std::string* out, double value);

}  // namespace mailstack

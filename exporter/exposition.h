// Direct writing of the text exposition format, for the few metrics rebuilt
// on every scrape (self and process metrics): no intermediate MetricFamily,
// no iostreams. Collector snapshots go through prometheus-cpp's serializer
// once per collector run instead.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "collectors/core/metrics.h"

namespace mailstack {

// "# HELP name help\n# TYPE name type\n" (help escaped).
void AppendHeader(std::string* out, const MetricDesc& desc);
// "name{k="v",...} value\n": the family's label names with `values` (escaped).
void AppendSample(std::string* out, const MetricDesc& desc, std::span<const std::string_view> values, double value);
template <size_t N>
void AppendSample(std::string* out, const GaugeFamily<N>& family, LabelValues<N> labels, double value) {
  AppendSample(out, family.desc(), labels.span(), value);
}
// Header plus the one sample of a family without labels.
template <FamilyKind K>
void AppendMetric(std::string* out, const Family<K, 0>& family, double value) {
  AppendHeader(out, family.desc());
  AppendSample(out, family.desc(), {}, value);
}
// Shortest round-trip form; NaN, +Inf, -Inf as the format wants.
void AppendValue(std::string* out, double value);

}  // namespace mailstack

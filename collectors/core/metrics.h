// Metric descriptions and the sink a collector run writes its samples into.
// A MetricDesc is defined once per metric as a constant in its collector.
// Thread-safety: a MetricSink belongs to one collector run (one thread).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <prometheus/metric_family.h>

namespace mailstack {

struct MetricDesc {
  std::string_view name;
  std::string_view help;  // one plain line; escaped on output anyway
  prometheus::MetricType type;
};

using LabelList = std::initializer_list<std::pair<std::string_view, std::string_view>>;

class MetricSink {
 public:
  // Adds one sample. The family is created on first use in desc order.
  void Gauge(const MetricDesc& desc, LabelList labels, double value);
  void Counter(const MetricDesc& desc, LabelList labels, double value);
  // `bucket_counts[i]` is the cumulative count of samples <= bounds[i]; the
  // +Inf bucket is `count`.
  void Histogram(const MetricDesc& desc, LabelList labels, const std::vector<double>& bounds,
                 const std::vector<uint64_t>& bucket_counts, double sum, uint64_t count);
  // Emits a state set: one series per state, 1 for `current`, 0 otherwise.
  void StateSet(const MetricDesc& desc, LabelList labels, std::string_view state_label,
                const std::vector<std::string_view>& states, std::string_view current);
  // Makes the family appear (HELP/TYPE) even if it gets no samples.
  void Declare(const MetricDesc& desc);

  std::vector<prometheus::MetricFamily> Take() { return std::move(families_); }

 private:
  prometheus::ClientMetric& Add(const MetricDesc& desc, LabelList labels);
  prometheus::MetricFamily& Family(const MetricDesc& desc);

  std::vector<prometheus::MetricFamily> families_;
  std::unordered_map<std::string, size_t> index_;
};

// HELP text as the exposition format wants it (prometheus-cpp 1.0.1 does not
// escape): backslash -> \\, newline -> \n.
std::string EscapeHelp(std::string_view help);

}  // namespace mailstack

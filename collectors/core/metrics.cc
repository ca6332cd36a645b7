#include "collectors/core/metrics.h"

namespace mailstack {

std::string EscapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

prometheus::MetricFamily& MetricSink::Family(const MetricDesc& desc) {
  auto it = index_.find(std::string(desc.name));
  if (it != index_.end()) return families_[it->second];
  index_.emplace(std::string(desc.name), families_.size());
  prometheus::MetricFamily f;
  f.name = std::string(desc.name);
  f.help = EscapeHelp(desc.help);
  f.type = desc.type;
  families_.push_back(std::move(f));
  return families_.back();
}

void MetricSink::Declare(const MetricDesc& desc) { Family(desc); }

prometheus::ClientMetric& MetricSink::Add(const MetricDesc& desc, LabelList labels) {
  auto& fam = Family(desc);
  prometheus::ClientMetric m;
  m.label.reserve(labels.size());
  for (const auto& [k, v] : labels) {
    m.label.push_back(prometheus::ClientMetric::Label{std::string(k), std::string(v)});
  }
  fam.metric.push_back(std::move(m));
  return fam.metric.back();
}

void MetricSink::Gauge(const MetricDesc& desc, LabelList labels, double value) {
  Add(desc, labels).gauge.value = value;
}

void MetricSink::Counter(const MetricDesc& desc, LabelList labels, double value) {
  Add(desc, labels).counter.value = value;
}

void MetricSink::Histogram(const MetricDesc& desc, LabelList labels, const std::vector<double>& bounds,
                           const std::vector<uint64_t>& bucket_counts, double sum, uint64_t count) {
  auto& m = Add(desc, labels);
  m.histogram.sample_count = count;
  m.histogram.sample_sum = sum;
  for (size_t i = 0; i < bounds.size() && i < bucket_counts.size(); ++i) {
    m.histogram.bucket.push_back({bucket_counts[i], bounds[i]});
  }
}

void MetricSink::StateSet(const MetricDesc& desc, LabelList labels, std::string_view state_label,
                          const std::vector<std::string_view>& states, std::string_view current) {
  for (auto s : states) {
    auto& m = Add(desc, labels);
    m.label.push_back({std::string(state_label), std::string(s)});
    m.gauge.value = (s == current) ? 1 : 0;
  }
}

}  // namespace mailstack

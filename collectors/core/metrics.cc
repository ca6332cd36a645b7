#include "collectors/core/metrics.h"

#include <algorithm>

namespace mailstack {

namespace metrics_internal {
void InvalidMetricOrLabelName() {}
}  // namespace metrics_internal

bool operator==(const MetricDesc& a, const MetricDesc& b) {
  return a.name == b.name && a.help == b.help && a.type == b.type &&
         std::equal(a.labels.begin(), a.labels.end(), b.labels.begin(), b.labels.end());
}

std::string DescribeLabels(const MetricDesc& desc) {
  std::string out(desc.name);
  if (desc.labels.empty()) return out;
  out += '{';
  for (size_t i = 0; i < desc.labels.size(); ++i) {
    if (i > 0) out += ',';
    out += desc.labels[i];
  }
  out += '}';
  return out;
}

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

MetricSink::MetricSink(std::span<const MetricDesc> families) {
  declared_.reserve(families.size());
  families_.reserve(families.size());
  for (const auto& desc : families) {
    if (auto it = index_.find(desc.name); it != index_.end()) {
      if (!(declared_[it->second] == desc)) {
        Reject("bug: the family " + DescribeLabels(desc) + " is declared twice, differently (" +
               DescribeLabels(declared_[it->second]) + ")");
      }
      continue;
    }
    index_.emplace(desc.name, families_.size());
    declared_.push_back(desc);
    prometheus::MetricFamily f;
    f.name = std::string(desc.name);
    f.help = EscapeHelp(desc.help);
    f.type = desc.type;
    families_.push_back(std::move(f));
  }
}

void MetricSink::Reject(std::string why) {
  if (error_.empty()) error_ = std::move(why);
}

prometheus::MetricFamily* MetricSink::Find(const MetricDesc& desc) {
  auto it = index_.find(desc.name);
  if (it == index_.end()) {
    Reject("bug: sample of the undeclared family " + DescribeLabels(desc));
    return nullptr;
  }
  if (!(declared_[it->second] == desc)) {
    Reject("bug: sample of " + DescribeLabels(desc) + ", declared as " + DescribeLabels(declared_[it->second]) +
           " (or with another type or help)");
    return nullptr;
  }
  return &families_[it->second];
}

prometheus::ClientMetric* MetricSink::Add(const MetricDesc& desc, std::span<const std::string_view> values) {
  auto* fam = Find(desc);
  if (fam == nullptr) return nullptr;
  prometheus::ClientMetric m;
  m.label.reserve(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    m.label.push_back(prometheus::ClientMetric::Label{std::string(desc.labels[i]), std::string(values[i])});
  }
  fam->metric.push_back(std::move(m));
  return &fam->metric.back();
}

void MetricSink::SetHistogram(prometheus::ClientMetric* m, const std::vector<double>& bounds,
                              const std::vector<uint64_t>& bucket_counts, double sum, uint64_t count) {
  m->histogram.sample_count = count;
  m->histogram.sample_sum = sum;
  for (size_t i = 0; i < bounds.size() && i < bucket_counts.size(); ++i) {
    m->histogram.bucket.push_back({bucket_counts[i], bounds[i]});
  }
}

void MetricSink::AddStateSet(const MetricDesc& desc, std::span<const std::string_view> values,
                             const std::vector<std::string_view>& states, std::string_view current) {
  auto* fam = Find(desc);
  if (fam == nullptr) return;
  const std::string state_label(desc.labels.back());
  for (auto s : states) {
    prometheus::ClientMetric m;
    m.label.reserve(desc.labels.size());
    for (size_t i = 0; i < values.size(); ++i) {
      m.label.push_back(prometheus::ClientMetric::Label{std::string(desc.labels[i]), std::string(values[i])});
    }
    m.label.push_back({state_label, std::string(s)});
    m.gauge.value = (s == current) ? 1 : 0;
    fam->metric.push_back(std::move(m));
  }
}

}  // namespace mailstack

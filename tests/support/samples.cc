#include "tests/support/samples.h"

#include <gtest/gtest.h>

namespace mailstack::testing {

FamilySamples SamplesByFamily(const std::vector<prometheus::MetricFamily>& families) {
  FamilySamples out;
  for (const auto& f : families) {
    out[f.name];
    for (const auto& m : f.metric) {
      std::string key;
      for (const auto& l : m.label) key += (key.empty() ? "" : ",") + l.name + "=" + l.value;
      switch (f.type) {
        case prometheus::MetricType::Histogram:
          out[f.name + "_count"][key] = static_cast<double>(m.histogram.sample_count);
          out[f.name + "_sum"][key] = m.histogram.sample_sum;
          for (const auto& b : m.histogram.bucket) {
            out[f.name + "_bucket"][key + ",le=" + std::to_string(static_cast<int>(b.upper_bound))] =
                static_cast<double>(b.cumulative_count);
          }
          break;
        case prometheus::MetricType::Counter: out[f.name][key] = m.counter.value; break;
        default: out[f.name][key] = m.gauge.value;
      }
    }
  }
  return out;
}

std::map<std::string, double> FlatSamples(const std::vector<prometheus::MetricFamily>& families) {
  std::map<std::string, double> out;
  for (const auto& [family, samples] : SamplesByFamily(families)) {
    for (const auto& [labels, value] : samples) out[labels.empty() ? family : family + "," + labels] = value;
  }
  return out;
}

}  // namespace mailstack::testing

namespace mailstack::testing {

std::vector<prometheus::MetricFamily> TakeChecked(MetricSink& sink) {
  EXPECT_EQ(sink.error(), "") << "the collector emitted a sample its Describe() does not declare";
  return sink.Take();
}

}  // namespace mailstack::testing

// Metric families and the sink a collector run writes its samples into.
//
// A family is declared once, as a namespace-scope constant, with its type and
// label names:
//
//   constexpr GaugeFamily<1> kUp{"mailstack_service_up", "1 if the unit is active.", "unit"};
//   sink.Gauge(kUp, {unit}, 1);
//
// A sample then gives only the label values: a wrong number of values, or a
// Counter() on a gauge family, does not compile, and a malformed metric or
// label name in a constant does not compile either. The runner builds the
// sink from the collector's Describe(), so a family that a collector emits
// but does not describe, or describes differently, is rejected at run time
// (the run fails with a "bug:" error; every test run sees it).
//
// Thread-safety: a MetricSink belongs to one collector run (one thread).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include <prometheus/metric_family.h>

namespace mailstack {

// A family's description, type-erased: what the runner declares, the registry
// test walks and the exposition header prints. `labels` points into the
// family constant (static storage).
struct MetricDesc {
  std::string_view name;
  std::string_view help;  // one plain line; escaped on output anyway
  prometheus::MetricType type;
  std::span<const std::string_view> labels;  // label names in sample order (a state set's state label last)

  friend bool operator==(const MetricDesc& a, const MetricDesc& b);
};

// "name{a,b}" / "name" (for messages).
std::string DescribeLabels(const MetricDesc& desc);

namespace metrics_internal {

// Called only when a family constant is malformed: not constexpr, so the
// constant's initialization fails to compile with this name in the error.
void InvalidMetricOrLabelName();

constexpr bool IsNameChar(char c, bool first, bool colon_ok) {
  const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon_ok && c == ':');
  return alpha || (!first && c >= '0' && c <= '9');
}
constexpr bool IsValidName(std::string_view s, bool colon_ok) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (!IsNameChar(s[i], i == 0, colon_ok)) return false;
  }
  return true;
}
constexpr bool IsValidLabelName(std::string_view s) {
  // "le" and "quantile" belong to histograms and summaries; "__" is reserved.
  return IsValidName(s, false) && s != "le" && s != "quantile" && !(s.size() >= 2 && s[0] == '_' && s[1] == '_');
}

}  // namespace metrics_internal

// How a family's samples are set: a state set is a gauge family whose last
// label is the state.
enum class FamilyKind { kGauge, kCounter, kHistogram, kStateSet };

constexpr prometheus::MetricType TypeOf(FamilyKind k) {
  switch (k) {
    case FamilyKind::kCounter: return prometheus::MetricType::Counter;
    case FamilyKind::kHistogram: return prometheus::MetricType::Histogram;
    case FamilyKind::kGauge:
    case FamilyKind::kStateSet: return prometheus::MetricType::Gauge;
  }
  return prometheus::MetricType::Untyped;
}

// A family of kind K with N label names. Declare it as a constexpr constant
// with exactly N names: the constructor checks every name during constant
// evaluation, so a bad one (or a wrong count) fails to compile.
template <FamilyKind K, size_t N>
class Family {
 public:
  template <typename... L>
  requires(sizeof...(L) == N && (std::is_convertible_v<L, std::string_view> && ...) &&
           (K != FamilyKind::kStateSet || N >= 1)) constexpr Family(std::string_view name, std::string_view help,
                                                                    L... labels)
      : name_(name), help_(help), labels_{std::string_view(labels)...} {
    if (!metrics_internal::IsValidName(name_, true) || help_.empty()) metrics_internal::InvalidMetricOrLabelName();
    for (size_t i = 0; i < N; ++i) {
      if (!metrics_internal::IsValidLabelName(labels_[i])) metrics_internal::InvalidMetricOrLabelName();
      for (size_t j = 0; j < i; ++j) {
        if (labels_[i] == labels_[j]) metrics_internal::InvalidMetricOrLabelName();
      }
    }
  }

  constexpr std::string_view name() const { return name_; }
  constexpr MetricDesc desc() const {
    return MetricDesc{name_, help_, TypeOf(K), std::span<const std::string_view>(labels_)};
  }
  constexpr operator MetricDesc() const { return desc(); }  // NOLINT: Describe() lists families as descs

 private:
  std::string_view name_;
  std::string_view help_;
  std::array<std::string_view, N> labels_;
};

template <size_t N>
using GaugeFamily = Family<FamilyKind::kGauge, N>;
template <size_t N>
using CounterFamily = Family<FamilyKind::kCounter, N>;
template <size_t N>
using HistogramFamily = Family<FamilyKind::kHistogram, N>;
// One series per state, 1 for the current one. N counts the state label
// (the last); samples give the values of the others.
template <size_t N>
using StateSetFamily = Family<FamilyKind::kStateSet, N>;

// Exactly N label values, in the family's label order.
template <size_t N>
class LabelValues {
 public:
  template <typename... V>
  requires(sizeof...(V) == N && (std::is_convertible_v<const V&, std::string_view> && ...))
      LabelValues(const V&... values)
      : values_{std::string_view(values)...} {}  // NOLINT: {a, b} at call sites

  std::span<const std::string_view> span() const { return values_; }

 private:
  std::array<std::string_view, N> values_;
};

class MetricSink {
 public:
  // The families this run may emit, declared in this order: each appears
  // (HELP/TYPE) even if it gets no samples. Two descs of one name must be
  // identical.
  explicit MetricSink(std::span<const MetricDesc> families);
  MetricSink(std::initializer_list<MetricDesc> families)
      : MetricSink(std::span<const MetricDesc>(families.begin(), families.size())) {}

  template <size_t N>
  void Gauge(const GaugeFamily<N>& f, LabelValues<N> labels, double value) {
    if (auto* m = Add(f.desc(), labels.span())) m->gauge.value = value;
  }
  template <size_t N>
  void Counter(const CounterFamily<N>& f, LabelValues<N> labels, double value) {
    if (auto* m = Add(f.desc(), labels.span())) m->counter.value = value;
  }
  // `bucket_counts[i]` is the cumulative count of samples <= bounds[i]; the
  // +Inf bucket is `count`.
  template <size_t N>
  void Histogram(const HistogramFamily<N>& f, LabelValues<N> labels, const std::vector<double>& bounds,
                 const std::vector<uint64_t>& bucket_counts, double sum, uint64_t count) {
    if (auto* m = Add(f.desc(), labels.span())) SetHistogram(m, bounds, bucket_counts, sum, count);
  }
  // One series per state: 1 for `current`, 0 otherwise.
  template <size_t N>
  void StateSet(const StateSetFamily<N>& f, LabelValues<N - 1> labels, const std::vector<std::string_view>& states,
                std::string_view current) {
    AddStateSet(f.desc(), labels.span(), states, current);
  }

  // Why the first rejected sample was rejected ("bug: ..."), empty if none.
  const std::string& error() const { return error_; }

  std::vector<prometheus::MetricFamily> Take() { return std::move(families_); }

 private:
  // The family's slot, or null (and error_ set) if `desc` was not declared
  // as it is.
  prometheus::MetricFamily* Find(const MetricDesc& desc);
  prometheus::ClientMetric* Add(const MetricDesc& desc, std::span<const std::string_view> values);
  void AddStateSet(const MetricDesc& desc, std::span<const std::string_view> values,
                   const std::vector<std::string_view>& states, std::string_view current);
  static void SetHistogram(prometheus::ClientMetric* m, const std::vector<double>& bounds,
                           const std::vector<uint64_t>& bucket_counts, double sum, uint64_t count);
  void Reject(std::string why);

  std::vector<MetricDesc> declared_;  // parallel to families_
  std::vector<prometheus::MetricFamily> families_;
  std::unordered_map<std::string_view, size_t> index_;
  std::string error_;
};

// HELP text as the exposition format wants it (prometheus-cpp 1.0.1 does not
// escape): backslash -> \\, newline -> \n.
std::string EscapeHelp(std::string_view help);

}  // namespace mailstack

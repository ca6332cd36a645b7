#include "collectors/core/metrics.h"

#include <gtest/gtest.h>

#include <string>

namespace mailstack {
namespace {

constexpr GaugeFamily<2> kTwo{"test_two", "Two labels.", "a", "b"};
constexpr CounterFamily<1> kCount{"test_count_total", "A counter.", "a"};
constexpr StateSetFamily<2> kState{"test_state", "A state set.", "unit", "state"};
constexpr HistogramFamily<0> kHist{"test_hist_seconds", "A histogram."};

// What must not compile, checked by the compiler itself: a sample with the
// wrong number of label values, and a setter of another type.
template <typename F, typename... V>
concept CanGauge = requires(MetricSink& s, const F& f, V... v) {
  s.Gauge(f, {v...}, 1.0);
};
template <typename F, typename... V>
concept CanCounter = requires(MetricSink& s, const F& f, V... v) {
  s.Counter(f, {v...}, 1.0);
};
template <typename F, typename... V>
concept CanStateSet = requires(MetricSink& s, const F& f, const std::vector<std::string_view>& st, V... v) {
  s.StateSet(f, {v...}, st, "x");
};
static_assert(CanGauge<GaugeFamily<2>, const char*, const char*>);
static_assert(!CanGauge<GaugeFamily<2>, const char*>, "one value for two labels");
static_assert(!CanGauge<GaugeFamily<2>, const char*, const char*, const char*>, "three values for two labels");
static_assert(!CanGauge<CounterFamily<1>, const char*>, "Gauge() on a counter family");
static_assert(CanCounter<CounterFamily<1>, const char*>);
static_assert(!CanCounter<GaugeFamily<2>, const char*, const char*>, "Counter() on a gauge family");
static_assert(!CanGauge<StateSetFamily<2>, const char*, const char*>, "Gauge() on a state set");
static_assert(CanStateSet<StateSetFamily<2>, const char*>, "a state set takes the values without the state");
static_assert(!CanStateSet<StateSetFamily<2>, const char*, const char*>);
static_assert(!CanGauge<GaugeFamily<1>, int>, "label values are strings");
// A family constant with a wrong label count does not compile either.
static_assert(!std::is_constructible_v<GaugeFamily<2>, std::string_view, std::string_view, const char*>);
static_assert(std::is_constructible_v<GaugeFamily<2>, std::string_view, std::string_view, const char*, const char*>);
// Name checks run in constant evaluation (a constexpr constant with a bad
// name is a compile error); the same predicates, checked here:
static_assert(metrics_internal::IsValidName("mailstack_up", true));
static_assert(!metrics_internal::IsValidName("bad-name", true));
static_assert(!metrics_internal::IsValidName("1st", true));
static_assert(!metrics_internal::IsValidLabelName("le"));
static_assert(!metrics_internal::IsValidLabelName("__name"));
static_assert(!metrics_internal::IsValidLabelName("a:b"));
static_assert(metrics_internal::IsValidLabelName("postfix_instance"));

TEST(MetricSinkTest, DeclaredFamiliesComeFirstInOrderAndSamplesCarryTheLabelNames) {
  MetricSink sink({kTwo, kCount, kState, kHist});
  sink.Counter(kCount, {"x"}, 5);
  sink.Gauge(kTwo, {"1", "2"}, 3);
  sink.StateSet(kState, {"postfix"}, {"active", "failed"}, "failed");
  sink.Histogram(kHist, {}, {1, 10}, {2, 3}, 12.5, 4);
  EXPECT_EQ(sink.error(), "");
  auto fams = sink.Take();
  ASSERT_EQ(fams.size(), 4u);
  EXPECT_EQ(fams[0].name, "test_two");
  EXPECT_EQ(fams[0].type, prometheus::MetricType::Gauge);
  ASSERT_EQ(fams[0].metric.size(), 1u);
  ASSERT_EQ(fams[0].metric[0].label.size(), 2u);
  EXPECT_EQ(fams[0].metric[0].label[0].name, "a");
  EXPECT_EQ(fams[0].metric[0].label[0].value, "1");
  EXPECT_EQ(fams[0].metric[0].label[1].name, "b");
  EXPECT_EQ(fams[0].metric[0].label[1].value, "2");
  EXPECT_EQ(fams[0].metric[0].gauge.value, 3);
  EXPECT_EQ(fams[1].type, prometheus::MetricType::Counter);
  EXPECT_EQ(fams[1].metric[0].counter.value, 5);
  ASSERT_EQ(fams[2].metric.size(), 2u);
  EXPECT_EQ(fams[2].metric[0].label[0].value, "postfix");
  EXPECT_EQ(fams[2].metric[0].label[1].name, "state");
  EXPECT_EQ(fams[2].metric[0].label[1].value, "active");
  EXPECT_EQ(fams[2].metric[0].gauge.value, 0);
  EXPECT_EQ(fams[2].metric[1].label[1].value, "failed");
  EXPECT_EQ(fams[2].metric[1].gauge.value, 1);
  EXPECT_EQ(fams[3].type, prometheus::MetricType::Histogram);
  EXPECT_EQ(fams[3].metric[0].histogram.sample_count, 4u);
  EXPECT_EQ(fams[3].metric[0].histogram.sample_sum, 12.5);
  ASSERT_EQ(fams[3].metric[0].histogram.bucket.size(), 2u);
  EXPECT_EQ(fams[3].metric[0].histogram.bucket[1].cumulative_count, 3u);
  EXPECT_EQ(fams[3].metric[0].histogram.bucket[1].upper_bound, 10);
}

TEST(MetricSinkTest, RejectsUndeclaredAndDifferentlyDeclaredFamiliesAndKeepsTheFirstReason) {
  constexpr GaugeFamily<1> kOtherLabels{"test_two", "Two labels.", "a"};
  constexpr GaugeFamily<2> kOtherHelp{"test_two", "Other help.", "a", "b"};
  MetricSink sink({kTwo});
  sink.Gauge(kTwo, {"1", "2"}, 1);  // declared: kept
  sink.Gauge(kOtherLabels, {"1"}, 2);
  sink.Gauge(kOtherHelp, {"1", "2"}, 3);
  sink.Counter(kCount, {"x"}, 4);
  EXPECT_EQ(sink.error(), "bug: sample of test_two{a}, declared as test_two{a,b} (or with another type or help)");
  auto fams = sink.Take();
  ASSERT_EQ(fams.size(), 1u);
  ASSERT_EQ(fams[0].metric.size(), 1u);
  EXPECT_EQ(fams[0].metric[0].gauge.value, 1);

  MetricSink undeclared({kTwo});
  undeclared.Counter(kCount, {"x"}, 4);
  EXPECT_EQ(undeclared.error(), "bug: sample of the undeclared family test_count_total{a}");
}

TEST(MetricSinkTest, ADuplicateDeclarationMustBeIdentical) {
  MetricSink same({kTwo, kTwo});
  EXPECT_EQ(same.error(), "");
  EXPECT_EQ(same.Take().size(), 1u);
  constexpr GaugeFamily<1> kOtherLabels{"test_two", "Two labels.", "a"};
  MetricSink differing({kTwo, kOtherLabels});
  EXPECT_EQ(differing.error(), "bug: the family test_two{a} is declared twice, differently (test_two{a,b})");
}

}  // namespace
}  // namespace mailstack

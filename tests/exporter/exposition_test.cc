#include "exporter/exposition.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace mailstack {
namespace {

TEST(ExpositionTest, WritesHeadersSamplesAndSpecialValues) {
  constexpr GaugeFamily<2> kG{"x_seconds", "A help \\ with\nnewline.", "path", "k"};
  constexpr GaugeFamily<0> kG0{"x_seconds", "A help \\ with\nnewline."};
  constexpr CounterFamily<0> kC{"x_total", "Counts."};
  std::string out;
  AppendHeader(&out, kG);
  AppendSample(&out, kG, {"/a\"b\\c\nd", ""}, 1795388673.185822);
  AppendSample(&out, kG0, {}, std::nan(""));
  AppendSample(&out, kG0, {}, std::numeric_limits<double>::infinity());
  AppendSample(&out, kG0, {}, -std::numeric_limits<double>::infinity());
  AppendSample(&out, kG0, {}, -0.000125);
  AppendMetric(&out, kC, 270553174016);
  EXPECT_EQ(out,
            "# HELP x_seconds A help \\\\ with\\nnewline.\n"
            "# TYPE x_seconds gauge\n"
            "x_seconds{path=\"/a\\\"b\\\\c\\nd\",k=\"\"} 1795388673.185822\n"
            "x_seconds NaN\n"
            "x_seconds +Inf\n"
            "x_seconds -Inf\n"
            "x_seconds -0.000125\n"
            "# HELP x_total Counts.\n"
            "# TYPE x_total counter\n"
            "x_total 270553174016\n");
}

}  // namespace
}  // namespace mailstack

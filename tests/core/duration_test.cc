#include "collectors/core/duration.h"

#include <gtest/gtest.h>

namespace mailstack {
namespace {

struct Good {
  const char* text;
  int64_t ms;
};

TEST(DurationTest, ParsesPrometheusDurations) {
  const Good cases[] = {
      {"0", 0},
      {"0s", 0},
      {"500ms", 500},
      {"30s", 30000},
      {"5m", 300000},
      {"1h", 3600000},
      {"1d", 86400000},
      {"1w", 604800000},
      {"1y", 31536000000},
      {"1h30m", 5400000},
      {"1m30s500ms", 90500},
      {"2d12h", 216000000},
  };
  for (const auto& c : cases) {
    auto d = ParseDuration(c.text);
    ASSERT_TRUE(d.ok()) << c.text << ": " << d.status().message();
    EXPECT_EQ(d->count(), c.ms) << c.text;
  }
}

TEST(DurationTest, RejectsBadDurations) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "empty duration (want e.g. 500ms, 30s, 5m, 1h, 1d; got \"\")"},
      {"5", "not a duration (want e.g. 500ms, 30s, 5m, 1h, 1d; got \"5\")"},
      {"5 s", "not a duration (want e.g. 500ms, 30s, 5m, 1h, 1d; got \"5 s\")"},
      {"-5s", "not a duration (want e.g. 500ms, 30s, 5m, 1h, 1d; got \"-5s\")"},
      {"1.5s", "not a duration (want e.g. 500ms, 30s, 5m, 1h, 1d; got \"1.5s\")"},
      {"5x", "not a duration (want e.g. 500ms, 30s, 5m, 1h, 1d; got \"5x\")"},
      {"30m1h", "duration units out of order (want e.g. 500ms, 30s, 5m, 1h, 1d; got \"30m1h\")"},
      {"1s1s", "duration units out of order (want e.g. 500ms, 30s, 5m, 1h, 1d; got \"1s1s\")"},
      {"99999999999999999999s", "duration too large (want e.g. 500ms, 30s, 5m, 1h, 1d; got \"99999999999999999999s\")"},
      {"9999999999999999y", "duration too large (want e.g. 500ms, 30s, 5m, 1h, 1d; got \"9999999999999999y\")"},
  };
  for (const auto& [text, msg] : cases) {
    auto d = ParseDuration(text);
    ASSERT_FALSE(d.ok()) << text;
    EXPECT_EQ(d.status().message(), msg);
  }
}

TEST(DurationTest, FormatsShortestForm) {
  EXPECT_EQ(FormatDuration(Duration(0)), "0s");
  EXPECT_EQ(FormatDuration(Duration(500)), "500ms");
  EXPECT_EQ(FormatDuration(Duration(90000)), "1m30s");
  EXPECT_EQ(FormatDuration(Duration(86400000 + 3600000)), "1d1h");
  for (const char* s : {"30s", "5m", "1h30m", "1d1h1m1s1ms"}) {
    EXPECT_EQ(FormatDuration(*ParseDuration(s)), s);
  }
}

}  // namespace
}  // namespace mailstack

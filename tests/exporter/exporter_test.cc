#include "exporter/exporter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <future>
#include <regex>
#include <thread>

#include <unistd.h>

#include "tests/support/func_collector.h"

namespace mailstack {
namespace {

using namespace std::chrono_literals;
using testing::FuncCollector;

constexpr GaugeFamily<1> kShared{"test_shared", "Emitted by two collectors.", "from"};
constexpr GaugeFamily<0> kSharedPlain{"test_shared", "Emitted by two collectors."};
constexpr GaugeFamily<0> kOwn{"test_own", "Help with a backslash \\ and a\nnewline."};

template <typename Pred>
bool WaitFor(Pred pred) {
  auto end = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t p = text.find(needle); p != std::string::npos; p = text.find(needle, p + 1)) ++n;
  return n;
}

Config TwoCollectors(std::shared_ptr<Collector> a, std::shared_ptr<Collector> b,
                     std::chrono::milliseconds beta_timeout = 5000ms) {
  Config cfg;
  cfg.source = "test";
  cfg.collectors.push_back({"alpha", 10s, 5s, std::move(a)});
  cfg.collectors.push_back({"beta", 10s, beta_timeout, std::move(b)});
  return cfg;
}

TEST(ExporterTest, MergesSameNamedFamiliesAndEscapesHelp) {
  auto a = std::make_shared<FuncCollector>(
      [](const CollectContext&, MetricSink& s) {
        s.Gauge(kShared, {"alpha"}, 1);
        s.Gauge(kOwn, {}, 3);
        return Status::Ok();
      },
      std::vector<MetricDesc>{kShared, kOwn});
  auto b = std::make_shared<FuncCollector>(
      [](const CollectContext&, MetricSink& s) {
        s.Gauge(kShared, {"beta"}, 2);
        return Status::Ok();
      },
      std::vector<MetricDesc>{kShared});
  Exporter e({});
  ASSERT_TRUE(e.Apply(TwoCollectors(a, b)).ok());
  ASSERT_TRUE(WaitFor([&] { return Count(e.RenderMetrics(), "mailstack_collector_success{") == 2; }));
  std::string text = e.RenderMetrics();
  EXPECT_EQ(Count(text, "# TYPE test_shared gauge"), 1u) << text;
  EXPECT_NE(text.find("test_shared{from=\"alpha\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("test_shared{from=\"beta\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# HELP test_own Help with a backslash \\\\ and a\\nnewline. Refreshed every 10s.\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("mailstack_collector_success{collector=\"alpha\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("mailstack_collector_success{collector=\"beta\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("mailstack_exporter_config_last_reload_successful 1\n"), std::string::npos);
  EXPECT_TRUE(std::regex_search(
      text, std::regex(
                "mailstack_exporter_build_info\\{version=\"[0-9.]+\",revision=\"[^\"]+\",compiler=\"[^\"]+\"\\} 1\n")));
  EXPECT_NE(text.find("\nprocess_resident_memory_bytes "), std::string::npos);
  EXPECT_NE(text.find("\nprocess_cpu_seconds_total "), std::string::npos);
  EXPECT_NE(text.find("\nprocess_open_fds "), std::string::npos);
}

TEST(ExporterTest, OverrunningCollectorOnlyTurnsItsOwnSuccessToZero) {
  std::atomic<bool> release{false};
  auto a = std::make_shared<FuncCollector>(
      [](const CollectContext&, MetricSink& s) {
        s.Gauge(kShared, {"alpha"}, 1);
        return Status::Ok();
      },
      std::vector<MetricDesc>{kShared});
  std::atomic<int> runs{0};
  auto b = std::make_shared<FuncCollector>(
      [&](const CollectContext& ctx, MetricSink& s) {
        if (++runs > 0) {
          while (!release && !ctx.Stopping()) std::this_thread::sleep_for(5ms);
        }
        s.Gauge(kShared, {"beta"}, 2);
        return Status::Ok();
      },
      std::vector<MetricDesc>{kShared});
  Exporter e({});
  ASSERT_TRUE(e.Apply(TwoCollectors(a, b, 100ms)).ok());
  ASSERT_TRUE(WaitFor([&] {
    std::string t = e.RenderMetrics();
    return t.find("mailstack_collector_success{collector=\"beta\"} 0\n") != std::string::npos &&
           t.find("mailstack_collector_success{collector=\"alpha\"} 1\n") != std::string::npos;
  }));
  // A scrape never waits on the stuck run: it returns while the run is held.
  auto render = std::async(std::launch::async, [&] { return e.RenderMetrics(); });
  const bool returned = render.wait_for(10s) == std::future_status::ready;
  if (!returned) release = true;
  ASSERT_TRUE(returned) << "RenderMetrics() waited for the overrunning run";
  std::string text = render.get();
  EXPECT_NE(text.find("mailstack_collector_success{collector=\"alpha\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("test_shared{from=\"alpha\"} 1\n"), std::string::npos);
  EXPECT_EQ(text.find("from=\"beta\""), std::string::npos);  // its data is not served while stuck
  EXPECT_NE(text.find("mailstack_collector_last_success_timestamp_seconds{collector=\"beta\"} 0\n"), std::string::npos);
  release = true;
}

TEST(ExporterTest, DisableExporterMetricsDropsProcessMetrics) {
  Exporter::Options o;
  o.exporter_metrics = false;
  Exporter e(o);
  Config cfg;
  cfg.source = "test";
  ASSERT_TRUE(e.Apply(cfg).ok());
  std::string text = e.RenderMetrics();
  EXPECT_EQ(text.find("process_"), std::string::npos) << text;
  EXPECT_NE(text.find("mailstack_exporter_build_info{"), std::string::npos);
}

TEST(ExporterTest, BadReloadKeepsTheRunningConfig) {
  std::string path = ::testing::TempDir() + "/mailstack_reload_test" + std::to_string(::getpid()) + ".yml";
  {
    std::ofstream out(path);
    out << "collectors:\n  filesystem:\n    interval: 1s\n    timeout: 500ms\n    paths: [/]\n";
  }
  Exporter::Options o;
  o.config_path = path;
  Exporter e(o);
  EXPECT_FALSE(e.ready());
  ASSERT_TRUE(e.Reload().ok());
  EXPECT_TRUE(e.ready());
  ASSERT_TRUE(WaitFor(
      [&] { return e.RenderMetrics().find("mailstack_filesystem_size_bytes{path=\"/\"}") != std::string::npos; }));
  {
    std::ofstream out(path);
    out << "collectors:\n  filesystem:\n    paths: [/]\n    colour: blue\n";
  }
  Status s = e.Reload();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(),
            path + ":4:5: collectors.filesystem.colour: unknown key (allowed: paths, enabled, interval, timeout)");
  std::string text = e.RenderMetrics();
  EXPECT_NE(text.find("mailstack_exporter_config_last_reload_successful 0\n"), std::string::npos);
  EXPECT_NE(text.find("mailstack_filesystem_size_bytes{path=\"/\"}"), std::string::npos);
  EXPECT_NE(text.find("mailstack_collector_success{collector=\"filesystem\"} 1\n"), std::string::npos);
  EXPECT_TRUE(e.ready());
  // A good reload switches back to 1 and applies the new config.
  {
    std::ofstream out(path);
    out << "collectors:\n  filesystem:\n    paths: [/tmp]\n";
  }
  ASSERT_TRUE(e.Reload().ok());
  ASSERT_TRUE(WaitFor(
      [&] { return e.RenderMetrics().find("mailstack_filesystem_size_bytes{path=\"/tmp\"}") != std::string::npos; }));
  text = e.RenderMetrics();
  EXPECT_NE(text.find("mailstack_exporter_config_last_reload_successful 1\n"), std::string::npos);
  EXPECT_EQ(text.find("mailstack_filesystem_size_bytes{path=\"/\"}"), std::string::npos);
}

TEST(ExporterTest, LandingPageListsCollectorsWithStatus) {
  auto a = std::make_shared<FuncCollector>([](const CollectContext&, MetricSink&) { return Status::Ok(); });
  auto b = std::make_shared<FuncCollector>(
      [](const CollectContext&, MetricSink&) { return Status::NotFound("showq <socket>: No such file"); });
  Exporter e({});
  ASSERT_TRUE(e.Apply(TwoCollectors(a, b)).ok());
  ASSERT_TRUE(WaitFor([&] {  // both first runs finished
    std::string h = e.RenderLanding("/metrics");
    return h.find("failed") != std::string::npos && h.find("pending") == std::string::npos;
  }));
  std::string html = e.RenderLanding("/metrics");
  EXPECT_NE(html.find("<a href=\"/metrics\">Metrics</a>"), std::string::npos);
  EXPECT_NE(html.find("<td>alpha</td><td>10s</td><td>5s</td><td class=\"ok\">ok</td>"), std::string::npos) << html;
  EXPECT_NE(html.find("showq &lt;socket&gt;: No such file"), std::string::npos) << html;
}

}  // namespace
}  // namespace mailstack

namespace mailstack {
namespace {

TEST(ExporterTest, ReloadedCollectorIsNeverServedFromTheOldCache) {
  auto make = [](double v) {
    Config cfg;
    cfg.source = "test";
    cfg.collectors.push_back({"alpha", 10s, 5s,
                              std::make_shared<FuncCollector>(
                                  [v](const CollectContext&, MetricSink& s) {
                                    s.Gauge(kSharedPlain, {}, v);
                                    return Status::Ok();
                                  },
                                  std::vector<MetricDesc>{kSharedPlain})});
    return cfg;
  };
  Exporter e({});
  ASSERT_TRUE(e.Apply(make(1)).ok());
  ASSERT_TRUE(WaitFor([&] { return e.RenderMetrics().find("\ntest_shared 1\n") != std::string::npos; }));
  // The new runner publishes its first snapshot, as the old one did: the
  // cache must not mistake one for the other.
  ASSERT_TRUE(e.Apply(make(2)).ok());
  ASSERT_TRUE(WaitFor([&] { return e.RenderMetrics().find("\ntest_shared 2\n") != std::string::npos; }))
      << e.RenderMetrics();
}

}  // namespace
}  // namespace mailstack

namespace mailstack {
namespace {

// A collector that counts its runs (and can be told it was replaced).
struct Counted {
  std::shared_ptr<std::atomic<int>> runs = std::make_shared<std::atomic<int>>(0);
  std::shared_ptr<FuncCollector> collector;
  explicit Counted(double value = 1) {
    auto r = runs;
    collector = std::make_shared<FuncCollector>(
        [r, value](const CollectContext&, MetricSink& s) {
          ++*r;
          s.Gauge(kOwn, {}, value);
          return Status::Ok();
        },
        std::vector<MetricDesc>{kOwn});
  }
};

CollectorConfig Entry(const std::string& name, const Counted& c, const std::string& fingerprint,
                      std::chrono::milliseconds interval = 20ms) {
  return {name, interval, 10ms, c.collector, fingerprint};
}

Config Of(std::vector<CollectorConfig> collectors) {
  Config cfg;
  cfg.source = "test";
  cfg.collectors = std::move(collectors);
  return cfg;
}

using Names = std::vector<std::string>;

TEST(ExporterReloadTest, AnUnchangedSectionKeepsItsCollectorRunningUntouched) {
  Counted first, second_alpha, beta;
  Exporter e({});
  Exporter::ReloadSummary s;
  ASSERT_TRUE(e.Apply(Of({Entry("alpha", first, "A")}), &s).ok());
  EXPECT_EQ(s.added, Names{"alpha"});
  ASSERT_TRUE(WaitFor([&] { return *first.runs >= 2; }));
  bool handed = false;
  second_alpha.collector->on_take_state = [&](Collector&) { handed = true; };
  ASSERT_TRUE(e.Apply(Of({Entry("alpha", second_alpha, "A"), Entry("beta", beta, "B")}), &s).ok());
  EXPECT_EQ(s.kept, Names{"alpha"});
  EXPECT_EQ(s.added, Names{"beta"});
  EXPECT_TRUE(s.replaced.empty());
  EXPECT_TRUE(s.removed.empty());
  // The first collector goes on with its schedule; the new object for the
  // same section is never run and gets no handoff.
  const int before = *first.runs;
  ASSERT_TRUE(WaitFor([&] { return *first.runs >= before + 3 && *beta.runs >= 1; }));
  EXPECT_EQ(*second_alpha.runs, 0);
  EXPECT_FALSE(handed);
}

TEST(ExporterReloadTest, AChangedSectionReplacesTheCollectorAfterItStoppedAndHandsItsStateOver) {
  Counted old_alpha(1), new_alpha(2);
  Exporter e({});
  ASSERT_TRUE(e.Apply(Of({Entry("alpha", old_alpha, "A")})).ok());
  ASSERT_TRUE(WaitFor([&] { return e.RenderMetrics().find("\ntest_own 1\n") != std::string::npos; }));
  Collector* handed_from = nullptr;
  int old_runs_at_handoff = -1;
  int new_runs_at_handoff = -1;
  new_alpha.collector->on_take_state = [&](Collector& prev) {
    handed_from = &prev;
    old_runs_at_handoff = *old_alpha.runs;
    new_runs_at_handoff = *new_alpha.runs;
  };
  Exporter::ReloadSummary s;
  ASSERT_TRUE(e.Apply(Of({Entry("alpha", new_alpha, "A2")}), &s).ok());
  EXPECT_EQ(s.replaced, Names{"alpha"});
  EXPECT_TRUE(s.kept.empty());
  // Handed over once the old one had stopped, before the new one's first run.
  EXPECT_EQ(handed_from, old_alpha.collector.get());
  EXPECT_EQ(new_runs_at_handoff, 0);
  EXPECT_EQ(*old_alpha.runs, old_runs_at_handoff) << "the old collector ran after it handed over its state";
  ASSERT_TRUE(WaitFor([&] { return e.RenderMetrics().find("\ntest_own 2\n") != std::string::npos; }));
  EXPECT_EQ(*old_alpha.runs, old_runs_at_handoff);
}

TEST(ExporterReloadTest, ARemovedCollectorAndItsMetricsDisappear) {
  Counted alpha, beta;
  static constexpr GaugeFamily<0> kBetaOnly{"test_beta_only", "Only beta emits this."};
  auto beta_collector = std::make_shared<FuncCollector>(
      [](const CollectContext&, MetricSink& s) {
        s.Gauge(kBetaOnly, {}, 5);
        return Status::Ok();
      },
      std::vector<MetricDesc>{kBetaOnly});
  Exporter e({});
  ASSERT_TRUE(e.Apply(Of({Entry("alpha", alpha, "A"), {"beta", 20ms, 10ms, beta_collector, "B"}})).ok());
  // Both have published (alpha's first run may end after beta's).
  ASSERT_TRUE(WaitFor([&] {
    const std::string t = e.RenderMetrics();
    return t.find("\ntest_beta_only 5\n") != std::string::npos &&
           t.find("mailstack_collector_success{collector=\"alpha\"}") != std::string::npos;
  }));
  Exporter::ReloadSummary s;
  ASSERT_TRUE(e.Apply(Of({Entry("alpha", alpha, "A")}), &s).ok());
  EXPECT_EQ(s.kept, Names{"alpha"});
  EXPECT_EQ(s.removed, Names{"beta"});
  const std::string text = e.RenderMetrics();
  EXPECT_EQ(text.find("test_beta_only"), std::string::npos) << text;
  EXPECT_EQ(text.find("collector=\"beta\""), std::string::npos) << text;
  EXPECT_NE(text.find("mailstack_collector_success{collector=\"alpha\"}"), std::string::npos) << text;
}

// An interval change is a changed collector even with an equal section
// text (the fingerprint carries the effective schedule; checked here too).
TEST(ExporterReloadTest, AnotherIntervalReplacesTheCollector) {
  Counted a1, a2;
  Exporter e({});
  ASSERT_TRUE(e.Apply(Of({Entry("alpha", a1, "A", 20ms)})).ok());
  Exporter::ReloadSummary s;
  ASSERT_TRUE(e.Apply(Of({Entry("alpha", a2, "A", 30ms)}), &s).ok());
  EXPECT_EQ(s.replaced, Names{"alpha"});
  ASSERT_TRUE(WaitFor([&] { return *a2.runs >= 1; }));
}

}  // namespace
}  // namespace mailstack

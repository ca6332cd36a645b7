#include "exporter/runner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "collectors/core/logging.h"
#include "tests/support/func_collector.h"

namespace mailstack {
namespace {

using namespace std::chrono_literals;
using testing::FuncCollector;
using Clock = std::chrono::steady_clock;

constexpr GaugeFamily<0> kValue{"test_value", "A test value."};
constexpr GaugeFamily<1> kPathValue{"test_value", "A test value.", "path"};

// Polls until pred() or 5s; returns pred().
template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds limit = 5000ms) {
  auto end = Clock::now() + limit;
  while (Clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

TEST(RunnerTest, PublishesSnapshotOfARun) {
  auto c = std::make_shared<FuncCollector>(
      [](const CollectContext&, MetricSink& sink) {
        sink.Gauge(kPathValue, {"/"}, 42);
        return Status::Ok();
      },
      std::vector<MetricDesc>{kPathValue});
  CollectorRunner r("test", c, 10s, 1s, nullptr, nullptr);
  EXPECT_EQ(r.Current().snapshot, nullptr);
  r.Start();
  ASSERT_TRUE(WaitFor([&] { return r.Current().snapshot != nullptr; }));
  auto snap = r.Current().snapshot;
  EXPECT_TRUE(snap->success);
  EXPECT_EQ(snap->error, "");
  EXPECT_EQ(snap->run, 1u);
  EXPECT_GT(snap->last_success_unix, 1.7e9);
  ASSERT_EQ(snap->families.size(), 1u);
  EXPECT_EQ(snap->families[0].name, "test_value");
  EXPECT_EQ(snap->families[0].help, "A test value. Refreshed every 10s.");
  ASSERT_EQ(snap->families[0].metric.size(), 1u);
  EXPECT_EQ(snap->families[0].metric[0].gauge.value, 42);
  EXPECT_EQ(snap->families[0].metric[0].label[0].value, "/");
  EXPECT_GT(r.Generation(), 0u);
}

TEST(RunnerTest, DeadlineIsTheTimeoutFromRunStart) {
  std::atomic<int64_t> remaining_ms{-1};
  auto c = std::make_shared<FuncCollector>([&](const CollectContext& ctx, MetricSink&) {
    remaining_ms = std::chrono::duration_cast<std::chrono::milliseconds>(ctx.deadline.Remaining()).count();
    return Status::Ok();
  });
  CollectorRunner r("test", c, 10s, 3s, nullptr, nullptr);
  r.Start();
  ASSERT_TRUE(WaitFor([&] { return remaining_ms >= 0; }));
  EXPECT_LE(remaining_ms, 3000);
  EXPECT_GT(remaining_ms, 2000);
}

TEST(RunnerTest, ThrowingCollectorIsAFailedRunAndTheRunnerGoesOn) {
  std::atomic<int> runs{0};
  std::atomic<bool> checked{false};
  auto c = std::make_shared<FuncCollector>(
      [&](const CollectContext& ctx, MetricSink& sink) -> Status {
        if (++runs == 1) throw std::runtime_error("boom");
        // Run 2 replaces run 1's snapshot only once the test has looked at it.
        while (!checked && !ctx.Stopping()) std::this_thread::sleep_for(1ms);
        sink.Gauge(kValue, {}, runs);
        return Status::Ok();
      },
      std::vector<MetricDesc>{kValue});
  CollectorRunner r("test", c, 100ms, 5s, nullptr, nullptr);
  r.Start();
  ASSERT_TRUE(WaitFor([&] {
    auto s = r.Current().snapshot;
    return s && s->run == 1;
  }));
  auto first = r.Current().snapshot;
  checked = true;
  EXPECT_FALSE(first->success);
  EXPECT_EQ(first->error, "bug: collector threw an exception: boom");
  EXPECT_EQ(first->last_success_unix, 0);
  ASSERT_TRUE(WaitFor([&] {
    auto s = r.Current().snapshot;
    return s && s->run >= 2;
  }));
  EXPECT_TRUE(r.Current().snapshot->success);
}

TEST(RunnerTest, OverrunIsReportedAtOnceWithoutWaitingForTheRun) {
  std::atomic<bool> release{false};
  auto c = std::make_shared<FuncCollector>(
      [&](const CollectContext& ctx, MetricSink& sink) {
        // Ignores its deadline on purpose, like a buggy collector stuck in I/O.
        while (!release && !ctx.Stopping()) std::this_thread::sleep_for(5ms);
        sink.Gauge(kValue, {}, 1);
        return Status::Ok();
      },
      std::vector<MetricDesc>{kValue});
  CollectorRunner r("test", c, 10s, 100ms, nullptr, nullptr);
  r.Start();
  ASSERT_TRUE(WaitFor([&] { return r.Current().overrunning; }));
  // Reading never waits on the run: it returns while the run is still held.
  auto read = std::async(std::launch::async, [&] { return r.Current(); });
  const bool returned = read.wait_for(10s) == std::future_status::ready;
  if (!returned) release = true;  // let a read that waits on the run return
  ASSERT_TRUE(returned) << "Current() waited for the overrunning run";
  auto v = read.get();
  EXPECT_TRUE(v.overrunning);
  EXPECT_GE(v.overrun_seconds, 0.1);
  EXPECT_EQ(v.snapshot, nullptr);
  release = true;
  ASSERT_TRUE(WaitFor([&] { return r.Current().snapshot != nullptr; }));
  auto snap = r.Current().snapshot;
  EXPECT_FALSE(snap->success);
  EXPECT_NE(snap->error.find("longer than its timeout 100ms"), std::string::npos) << snap->error;
  EXPECT_FALSE(r.Current().overrunning);
}

// One run as the collector saw it: the tick it was started for, when it
// started and when its work ended.
struct RunTimes {
  Clock::time_point scheduled, start, end;
};

// A collector that records RunTimes and works for `work`.
std::shared_ptr<FuncCollector> RecordingCollector(std::mutex& mu, std::vector<RunTimes>& runs, Clock::duration work,
                                                  std::atomic<int>* active = nullptr,
                                                  std::atomic<int>* max_active = nullptr) {
  return std::make_shared<FuncCollector>(
      [&mu, &runs, work, active, max_active](const CollectContext& ctx, MetricSink&) {
        if (active != nullptr) {
          int a = ++*active;
          int m = *max_active;
          while (a > m && !max_active->compare_exchange_weak(m, a)) {
          }
        }
        const auto start = Clock::now();
        std::this_thread::sleep_for(work);
        if (active != nullptr) --*active;
        std::lock_guard<std::mutex> lock(mu);
        runs.push_back({ctx.scheduled, start, Clock::now()});
        return Status::Ok();
      });
}

// Exact, whatever the machine's load: every run's tick lies on the grid of
// the first run's tick (no drift), no run starts before its tick, and a run
// that outlasts the interval makes the runner skip the ticks it missed (the
// next tick is after that run ended: a catch-up scheduler would start the
// next run at once, for a tick already past).
TEST(RunnerTest, RunsNeverOverlapAndMissedTicksAreSkipped) {
  std::atomic<int> active{0}, max_active{0};
  std::mutex mu;
  std::vector<RunTimes> runs;
  CollectorRunner r("test", RecordingCollector(mu, runs, 250ms, &active, &max_active), 100ms, 90ms, nullptr, nullptr);
  r.Start();
  ASSERT_TRUE(WaitFor(
      [&] {
        std::lock_guard<std::mutex> l(mu);
        return runs.size() >= 4;
      },
      20000ms));
  r.Stop(5s);
  EXPECT_EQ(max_active.load(), 1);
  std::lock_guard<std::mutex> lock(mu);
  for (size_t i = 0; i < runs.size(); ++i) {
    EXPECT_EQ((runs[i].scheduled - runs[0].scheduled) % 100ms, 0ms) << "run " << i << " is off the 100ms grid";
    EXPECT_GE(runs[i].start, runs[i].scheduled) << "run " << i << " started before its tick";
    EXPECT_LT(runs[i].start - runs[i].scheduled, 5s) << "run " << i << " started long after its tick";
    if (i > 0) {
      EXPECT_GT(runs[i].scheduled, runs[i - 1].end) << "run " << i << " is for a tick missed by the run before";
      EXPECT_GE(runs[i].start, runs[i - 1].end) << "runs " << i - 1 << " and " << i << " overlap";
    }
  }
}

TEST(RunnerTest, ScheduleDoesNotDrift) {
  std::mutex mu;
  std::vector<RunTimes> runs;
  // The work time (30ms of a 50ms interval) must not add up: a scheduler that
  // waits an interval after each run's end puts every tick off the grid.
  CollectorRunner r("test", RecordingCollector(mu, runs, 30ms), 50ms, 40ms, nullptr, nullptr);
  r.Start();
  ASSERT_TRUE(WaitFor(
      [&] {
        std::lock_guard<std::mutex> l(mu);
        return runs.size() >= 11;
      },
      20000ms));
  r.Stop(5s);
  std::lock_guard<std::mutex> lock(mu);
  for (size_t i = 1; i < runs.size(); ++i) {
    EXPECT_GT(runs[i].scheduled, runs[i - 1].scheduled);
    EXPECT_EQ((runs[i].scheduled - runs[0].scheduled) % 50ms, 0ms) << "run " << i << " drifted off the 50ms grid";
    EXPECT_GE(runs[i].start, runs[i].scheduled) << "run " << i << " started before its tick";
    EXPECT_LT(runs[i].start - runs[i].scheduled, 5s) << "run " << i << " started long after its tick";
  }
}

TEST(RunnerTest, OnlyTheLatestSnapshotIsKept) {
  std::atomic<int> runs{0};
  auto c = std::make_shared<FuncCollector>(
      [&](const CollectContext&, MetricSink& sink) {
        sink.Gauge(kValue, {}, ++runs);
        return Status::Ok();
      },
      std::vector<MetricDesc>{kValue});
  CollectorRunner r("test", c, 20ms, 10ms, nullptr, nullptr);
  r.Start();
  ASSERT_TRUE(WaitFor([&] {
    auto s = r.Current().snapshot;
    return s && s->run >= 5;
  }));
  r.Stop(1s);
  auto snap = r.Current().snapshot;
  ASSERT_EQ(snap->families.size(), 1u);
  ASSERT_EQ(snap->families[0].metric.size(), 1u);
  EXPECT_EQ(snap->families[0].metric[0].gauge.value, static_cast<double>(snap->run));
  // Generations are unique per publish across runners; this one published last.
  CollectorRunner other("other", c, 10s, 5s, nullptr, nullptr);
  EXPECT_EQ(other.Generation(), 0u);
  other.Start();
  ASSERT_TRUE(WaitFor([&] { return other.Generation() != 0; }));
  EXPECT_GT(other.Generation(), r.Generation());
}

TEST(RunnerTest, SeedIsServedUntilTheFirstRunAndRunsContinueCounting) {
  auto seed = std::make_shared<Snapshot>();
  seed->success = true;
  seed->run = 7;
  seed->last_success_unix = 1234;
  std::atomic<bool> release{false}, entered{false};
  auto c = std::make_shared<FuncCollector>([&](const CollectContext& ctx, MetricSink&) {
    entered = true;
    while (!release && !ctx.Stopping()) std::this_thread::sleep_for(5ms);
    return Status::Unavailable("socket gone");
  });
  CollectorRunner r("test", c, 10s, 5s, seed, nullptr);
  r.Start();
  ASSERT_TRUE(WaitFor([&] { return entered.load(); }));  // the first run is under way
  EXPECT_EQ(r.Current().snapshot->run, 7u);
  release = true;
  ASSERT_TRUE(WaitFor([&] { return r.Current().snapshot->run == 8; }));
  EXPECT_FALSE(r.Current().snapshot->success);
  EXPECT_EQ(r.Current().snapshot->error, "socket gone");
  EXPECT_EQ(r.Current().snapshot->last_success_unix, 1234);  // kept from before the reload
}

TEST(RunnerTest, StopSignalsTheRunAndDoesNotHangOnAStuckCollector) {
  std::atomic<bool> coop_entered{false}, coop_saw_stop{false};
  auto cooperative = std::make_shared<FuncCollector>([&](const CollectContext& ctx, MetricSink&) {
    coop_entered = true;
    while (!ctx.Stopping()) std::this_thread::sleep_for(1ms);
    coop_saw_stop = true;
    return Status::Ok();
  });
  CollectorRunner a("coop", cooperative, 10s, 60s, nullptr, nullptr);
  a.Start();
  ASSERT_TRUE(WaitFor([&] { return coop_entered.load(); }));
  auto t0 = Clock::now();
  a.Stop(30s);
  // The run ended because it was told to stop, long before its 60s deadline
  // or Stop's 30s grace (10s: only a hang misses it).
  EXPECT_TRUE(coop_saw_stop);
  EXPECT_LT(Clock::now() - t0, 10s);

  // A run that ignores stop and deadline: Stop gives up after its grace and
  // returns while the run is still held.
  std::atomic<bool> release{false}, stuck_entered{false}, stuck_done{false};
  auto stuck = std::make_shared<FuncCollector>([&](const CollectContext&, MetricSink&) {
    stuck_entered = true;
    while (!release) std::this_thread::sleep_for(1ms);
    stuck_done = true;
    return Status::Ok();
  });
  auto b = std::make_unique<CollectorRunner>("stuck", stuck, 10s, 5s, nullptr, nullptr);
  b->Start();
  ASSERT_TRUE(WaitFor([&] { return stuck_entered.load(); }));
  auto stopped = std::async(std::launch::async, [&] { b->Stop(100ms); });
  const bool returned = stopped.wait_for(10s) == std::future_status::ready;
  EXPECT_FALSE(stuck_done) << "the stuck run ended by itself";
  release = true;  // a Stop() that waits on the run returns now
  ASSERT_TRUE(returned) << "Stop() waited for a run that ignores it";
  stopped.get();
  b.reset();                                                // the detached run owns what it needs
  ASSERT_TRUE(WaitFor([&] { return stuck_done.load(); }));  // it finishes inside the test
}

TEST(RunnerTest, OnPublishIsCalledPerSnapshot) {
  std::atomic<int> published{0};
  auto c = std::make_shared<FuncCollector>([](const CollectContext&, MetricSink&) { return Status::Ok(); });
  CollectorRunner r("test", c, 20ms, 10ms, nullptr, [&] { ++published; });
  r.Start();
  ASSERT_TRUE(WaitFor([&] { return published >= 3; }));
  r.Stop(1s);
  int after = published;
  std::this_thread::sleep_for(60ms);
  EXPECT_EQ(published.load(), after);
}

}  // namespace
}  // namespace mailstack

namespace mailstack {
namespace {

TEST(RunnerLogTest, FailureIsLoggedOnceAndRecoveryOnce) {
  std::mutex mu;
  std::vector<std::string> lines;
  SetLogSinkForTest([&](std::string_view l) {
    std::lock_guard<std::mutex> lock(mu);
    lines.emplace_back(l);
  });
  std::atomic<int> runs{0};
  auto c = std::make_shared<testing::FuncCollector>([&](const CollectContext&, MetricSink&) {
    return ++runs <= 5 ? Status::PermissionDenied("showq /x: connect: Permission denied") : Status::Ok();
  });
  CollectorRunner r("postfix_queue", c, 20ms, 5s, nullptr, nullptr);
  r.Start();
  ASSERT_TRUE(WaitFor([&] { return runs >= 8; }));
  r.Stop(1s);
  SetLogSinkForTest(nullptr);
  std::lock_guard<std::mutex> lock(mu);
  std::vector<std::string> ours;
  for (const auto& l : lines) {
    if (l.find("collector=postfix_queue") != std::string::npos) ours.push_back(l);
  }
  ASSERT_EQ(ours.size(), 2u) << ::testing::PrintToString(ours);
  EXPECT_NE(ours[0].find("level=error"), std::string::npos);
  EXPECT_NE(ours[0].find("msg=\"collector failed\" collector=postfix_queue duration="), std::string::npos) << ours[0];
  EXPECT_NE(ours[0].find("err=\"showq /x: connect: Permission denied\""), std::string::npos) << ours[0];
  EXPECT_NE(ours[1].find("level=info"), std::string::npos);
  EXPECT_NE(ours[1].find("msg=\"collector recovered\" collector=postfix_queue failed_runs=5"), std::string::npos)
      << ours[1];
}

}  // namespace
}  // namespace mailstack

namespace mailstack {
namespace {

TEST(RunnerTest, GarbageOutputFailsTheRunAndIsNotServed) {
  // Malformed names do not compile in a constexpr family; built at run time
  // (const, not constexpr) they still reach the runner, which must refuse them.
  static const GaugeFamily<0> kBadName{"bad-name", "x"};
  static const GaugeFamily<1> kBadLabel{"good_metric", "x", "bad label"};
  static const GaugeFamily<1> kReservedLabel{"good_metric", "x", "__name"};
  static constexpr GaugeFamily<1> kGood{"good_metric", "x", "path"};
  struct Case {
    std::vector<MetricDesc> declared;
    std::function<void(MetricSink&)> emit;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{kBadName},
       [&](MetricSink& s) { s.Gauge(kBadName, {}, 1); },
       "bug: collector emitted an invalid metric name \"bad-name\""},
      {{kBadLabel},
       [&](MetricSink& s) { s.Gauge(kBadLabel, {"v"}, 1); },
       "bug: collector emitted an invalid label name \"bad label\" on good_metric"},
      {{kReservedLabel},
       [&](MetricSink& s) { s.Gauge(kReservedLabel, {"v"}, 1); },
       "bug: collector emitted an invalid label name \"__name\" on good_metric"},
      {{kGood},
       [&](MetricSink& s) {
         s.Gauge(kGood, {"/"}, 1);
         s.Gauge(kGood, {"/"}, 2);
       },
       "bug: collector emitted a duplicate series of good_metric"},
  };
  for (const auto& [declared, emit, message] : cases) {
    auto c = std::make_shared<testing::FuncCollector>(
        [&](const CollectContext&, MetricSink& s) {
          emit(s);
          return Status::Ok();
        },
        declared);
    CollectorRunner r("garbage", c, 10s, 1s, nullptr, nullptr);
    r.Start();
    ASSERT_TRUE(WaitFor([&] { return r.Current().snapshot != nullptr; }));
    auto snap = r.Current().snapshot;
    EXPECT_FALSE(snap->success);
    EXPECT_EQ(snap->error, message);
    EXPECT_TRUE(snap->families.empty());
  }
}

// A family the collector does not describe, or describes with other labels,
// is a bug: the sample is dropped and the run fails, naming the family; what
// was declared right is still served.
TEST(RunnerTest, SampleOfAnUndeclaredOrDifferentlyDeclaredFamilyFailsTheRun) {
  static constexpr GaugeFamily<1> kUndeclared{"test_undeclared", "Not in Describe().", "path"};
  struct Case {
    std::function<void(MetricSink&)> emit;
    std::string message;
  };
  const std::vector<Case> cases = {
      {[](MetricSink& s) { s.Gauge(kUndeclared, {"/"}, 1); },
       "bug: sample of the undeclared family test_undeclared{path}"},
      {[](MetricSink& s) { s.Gauge(kValue, {}, 1); },
       "bug: sample of test_value, declared as test_value{path} (or with another type or help)"},
  };
  for (const auto& [emit, message] : cases) {
    auto c = std::make_shared<testing::FuncCollector>(
        [&](const CollectContext&, MetricSink& s) {
          s.Gauge(kPathValue, {"/declared"}, 7);
          emit(s);
          return Status::Ok();
        },
        std::vector<MetricDesc>{kPathValue});
    CollectorRunner r("undeclared", c, 10s, 1s, nullptr, nullptr);
    r.Start();
    ASSERT_TRUE(WaitFor([&] { return r.Current().snapshot != nullptr; }));
    auto snap = r.Current().snapshot;
    EXPECT_FALSE(snap->success);
    EXPECT_EQ(snap->error, message);
    ASSERT_EQ(snap->families.size(), 1u);
    EXPECT_EQ(snap->families[0].name, "test_value");
    ASSERT_EQ(snap->families[0].metric.size(), 1u);
    EXPECT_EQ(snap->families[0].metric[0].label[0].value, "/declared");
    EXPECT_EQ(snap->families[0].metric[0].gauge.value, 7);
  }
}

// Families a collector describes are served (HELP and TYPE) before it emits
// anything, in the order it describes them.
TEST(RunnerTest, DescribedFamiliesAppearWithoutSamplesInDescribeOrder) {
  static constexpr CounterFamily<0> kFirst{"test_first_total", "First."};
  auto c = std::make_shared<testing::FuncCollector>([](const CollectContext&, MetricSink&) { return Status::Ok(); },
                                                    std::vector<MetricDesc>{kFirst, kPathValue});
  CollectorRunner r("quiet", c, 10s, 1s, nullptr, nullptr);
  r.Start();
  ASSERT_TRUE(WaitFor([&] { return r.Current().snapshot != nullptr; }));
  auto snap = r.Current().snapshot;
  EXPECT_TRUE(snap->success) << snap->error;
  ASSERT_EQ(snap->families.size(), 2u);
  EXPECT_EQ(snap->families[0].name, "test_first_total");
  EXPECT_EQ(snap->families[0].type, prometheus::MetricType::Counter);
  EXPECT_EQ(snap->families[1].name, "test_value");
  EXPECT_TRUE(snap->families[0].metric.empty());
  EXPECT_TRUE(snap->families[1].metric.empty());
}

}  // namespace
}  // namespace mailstack

#include "exporter/runner.h"

#include <algorithm>
#include <exception>

#include <prometheus/check_names.h>

#include <set>

#include "collectors/core/logging.h"

namespace mailstack {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3fs", s);
  return buf;
}

// A collector's output must serialize into valid exposition text: valid
// names, no duplicate series. Anything else is a bug in that collector, and
// must not break the scrape for the others.
Status ValidateFamilies(const std::vector<prometheus::MetricFamily>& families) {
  std::set<std::string> names;
  for (const auto& f : families) {
    if (!prometheus::CheckMetricName(f.name)) {
      return Status::Internal("bug: collector emitted an invalid metric name \"" + f.name + "\"");
    }
    if (!names.insert(f.name).second) {
      return Status::Internal("bug: collector emitted the family \"" + f.name + "\" twice");
    }
    std::set<std::string> series;
    for (const auto& m : f.metric) {
      std::string key;
      for (const auto& l : m.label) {
        if (!prometheus::CheckLabelName(l.name) || l.name == "le" || l.name == "quantile") {
          return Status::Internal("bug: collector emitted an invalid label name \"" + l.name + "\" on " + f.name);
        }
        key += l.name;
        key += '\0';
        key += l.value;
        key += '\0';
      }
      if (!series.insert(key).second) {
        return Status::Internal("bug: collector emitted a duplicate series of " + f.name);
      }
    }
  }
  return Status::Ok();
}

// Publish sequence shared by all runners, so a generation number is never
// reused by the runner that replaces another one on reload (scrape caches key
// on it).
std::atomic<uint64_t> g_publish_seq{0};

constexpr auto kFirstRepeatLog = 1min;
constexpr auto kMaxRepeatLog = 1h;

}  // namespace

RunResult RunOnce(Collector& collector, Duration timeout, const std::atomic<bool>* stop,
                  Deadline::Clock::time_point scheduled) {
  const auto start = Clock::now();
  CollectContext ctx{Deadline(start + timeout), stop, scheduled};
  const std::vector<MetricDesc> declared = collector.Describe();
  MetricSink sink(declared);
  RunResult result;
  try {
    result.status = collector.Collect(ctx, sink);
  } catch (const std::exception& e) {
    result.status = Status::Internal(std::string("bug: collector threw an exception: ") + e.what());
  } catch (...) {
    result.status = Status::Internal("bug: collector threw a non-standard exception");
  }
  const auto end = Clock::now();
  result.duration_seconds = std::chrono::duration<double>(end - start).count();
  if (result.status.ok() && end > ctx.deadline.at()) {
    result.status = Status::DeadlineExceeded("run took " + Seconds(result.duration_seconds) +
                                             ", longer than its timeout " + FormatDuration(timeout));
  }
  result.families = sink.Take();
  if (!sink.error().empty()) {
    // A sample of a family the collector did not describe (or describes
    // otherwise) was dropped: a bug, reported as the run's failure.
    if (result.status.ok()) result.status = Status::Internal(sink.error());
  }
  if (Status valid = ValidateFamilies(result.families); !valid.ok()) {
    result.families.clear();  // unserializable: serve none of it
    result.status = valid;
  }
  return result;
}

struct CollectorRunner::Shared {
  std::string name;
  std::shared_ptr<Collector> collector;
  Duration interval;
  Duration timeout;

  std::atomic<bool> stop{false};
  std::mutex wake_mu;  // with wake_cv: sleeps between runs
  std::condition_variable wake_cv;

  mutable std::mutex snap_mu;
  std::shared_ptr<const Snapshot> snapshot;  // guarded by snap_mu
  std::atomic<uint64_t> generation{0};
  std::atomic<bool> running{false};
  std::atomic<int64_t> run_start_ns{0};  // steady clock, valid while running

  std::mutex publish_mu;
  std::function<void()> on_publish;  // guarded by publish_mu; cleared by Stop

  std::mutex exit_mu;
  std::condition_variable exit_cv;
  bool exited = false;  // guarded by exit_mu

  // Failure logging (thread only).
  bool failing = false;
  uint64_t failed_runs = 0;
  Clock::time_point next_failure_log;
  Clock::duration failure_log_backoff = kFirstRepeatLog;
};

CollectorRunner::CollectorRunner(std::string name, std::shared_ptr<Collector> collector, Duration interval,
                                 Duration timeout, std::shared_ptr<const Snapshot> seed,
                                 std::function<void()> on_publish)
    : name_(std::move(name)),
      interval_(interval),
      timeout_(timeout),
      collector_(std::move(collector)),
      shared_(std::make_shared<Shared>()) {
  shared_->name = name_;
  shared_->collector = collector_;
  shared_->interval = interval;
  shared_->timeout = timeout;
  shared_->snapshot = std::move(seed);
  shared_->on_publish = std::move(on_publish);
}

CollectorRunner::~CollectorRunner() { Stop(1s); }

void CollectorRunner::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread(&CollectorRunner::Loop, shared_);
}

void CollectorRunner::RequestStop() {
  {
    std::lock_guard<std::mutex> lock(shared_->publish_mu);
    shared_->on_publish = nullptr;
  }
  {
    std::lock_guard<std::mutex> lock(shared_->wake_mu);
    shared_->stop = true;
  }
  shared_->wake_cv.notify_all();
}

bool CollectorRunner::Stop(Duration grace) {
  RequestStop();
  if (!thread_.joinable()) return !detached_;
  std::unique_lock<std::mutex> lock(shared_->exit_mu);
  if (shared_->exit_cv.wait_for(lock, grace, [&] { return shared_->exited; })) {
    lock.unlock();
    thread_.join();
    return true;
  }
  lock.unlock();
  MS_LOG(kWarn, "collector did not stop in time; leaving its run to finish in the background", {{"collector", name_}});
  thread_.detach();
  detached_ = true;
  return false;
}

CollectorRunner::View CollectorRunner::Current() const {
  View v;
  {
    std::lock_guard<std::mutex> lock(shared_->snap_mu);
    v.snapshot = shared_->snapshot;
  }
  if (shared_->running.load()) {
    auto started = Clock::time_point(Clock::duration(shared_->run_start_ns.load()));
    auto elapsed = Clock::now() - started;
    if (elapsed > shared_->timeout) {
      v.overrunning = true;
      v.overrun_seconds = std::chrono::duration<double>(elapsed).count();
    }
  }
  return v;
}

uint64_t CollectorRunner::Generation() const { return shared_->generation.load(); }

void CollectorRunner::Loop(std::shared_ptr<Shared> s) {
  uint64_t run = 0;
  double last_success = 0;
  {
    std::lock_guard<std::mutex> lock(s->snap_mu);
    if (s->snapshot) {
      run = s->snapshot->run;
      last_success = s->snapshot->last_success_unix;
    }
  }
  const std::string help_suffix = " Refreshed every " + FormatDuration(s->interval) + ".";
  auto next = Clock::now();
  while (true) {
    {
      std::unique_lock<std::mutex> lock(s->wake_mu);
      s->wake_cv.wait_until(lock, next, [&] { return s->stop.load(); });
    }
    if (s->stop) break;

    s->run_start_ns = Clock::now().time_since_epoch().count();
    s->running = true;
    RunResult result = RunOnce(*s->collector, s->timeout, &s->stop, next);
    const auto end = Clock::now();
    s->running = false;
    if (s->stop) break;  // partial results of an interrupted run are not published
    const Status& status = result.status;
    const double duration = result.duration_seconds;

    auto snap = std::make_shared<Snapshot>();
    snap->families = std::move(result.families);
    for (auto& f : snap->families) f.help += help_suffix;
    snap->success = status.ok();
    snap->error = status.ok() ? std::string() : status.message();
    snap->duration_seconds = duration;
    snap->end_unix = UnixTime();
    if (status.ok()) last_success = snap->end_unix;
    snap->last_success_unix = last_success;
    snap->run = ++run;
    {
      std::lock_guard<std::mutex> lock(s->snap_mu);
      s->snapshot = std::move(snap);
    }
    s->generation = g_publish_seq.fetch_add(1) + 1;
    {
      std::lock_guard<std::mutex> lock(s->publish_mu);
      if (s->on_publish) s->on_publish();
    }

    // Log a failure once, then at growing intervals, and the recovery once.
    if (!status.ok()) {
      ++s->failed_runs;
      if (!s->failing) {
        s->failing = true;
        s->failure_log_backoff = kFirstRepeatLog;
        s->next_failure_log = end + s->failure_log_backoff;
        MS_LOG(kError, "collector failed",
               {{"collector", s->name}, {"duration", Seconds(duration)}, {"err", status.message()}});
      } else if (end >= s->next_failure_log) {
        s->failure_log_backoff = std::min<Clock::duration>(s->failure_log_backoff * 2, kMaxRepeatLog);
        s->next_failure_log = end + s->failure_log_backoff;
        MS_LOG(kError, "collector still failing",
               {{"collector", s->name},
                {"failed_runs", s->failed_runs},
                {"duration", Seconds(duration)},
                {"err", status.message()}});
      }
    } else if (s->failing) {
      MS_LOG(kInfo, "collector recovered", {{"collector", s->name}, {"failed_runs", s->failed_runs}});
      s->failing = false;
      s->failed_runs = 0;
    }

    // Drift-free: keep the phase of the first run, skip missed ticks.
    next += s->interval;
    const auto now = Clock::now();
    if (next <= now) {
      const auto behind = now - next;
      next += (behind / s->interval + 1) * s->interval;
    }
  }
  std::lock_guard<std::mutex> lock(s->exit_mu);
  s->exited = true;
  s->exit_cv.notify_all();
}

}  // namespace mailstack

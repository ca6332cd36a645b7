// Runs one collector in the background on its own interval and keeps the
// latest result as an immutable snapshot. A scrape only reads snapshots.
//
// Schedule: drift-free (run k starts at start + k*interval); a run that
// overruns skips the ticks it missed; runs never overlap. Each run gets a
// deadline of `timeout`. A run still going past its deadline is reported as
// failed at scrape time without waiting for it; a collector that throws
// counts as a failed run and the runner goes on.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <prometheus/metric_family.h>

#include "collectors/core/collector.h"
#include "collectors/core/duration.h"

namespace mailstack {

// The result of one finished run. Immutable once published.
struct Snapshot {
  std::vector<prometheus::MetricFamily> families;
  bool success = false;
  std::string error;  // empty on success
  double duration_seconds = 0;
  double end_unix = 0;           // wall-clock end of the run
  double last_success_unix = 0;  // 0 until the first successful run
  uint64_t run = 0;              // 1 for the first run of this collector
};

// What one run of a collector produced.
struct RunResult {
  std::vector<prometheus::MetricFamily> families;  // declared families, validated; none if invalid
  Status status;                                   // the run's own, or why its output was rejected
  double duration_seconds = 0;
};

// Runs `collector` once: a deadline of `timeout` from now, `stop` (never
// null) to interrupt it, the families it describes declared before the run,
// any exception caught and reported as a bug, a run past its deadline
// reported as failed, and the output checked (declared families only, valid
// names, no duplicate series). The one path for the scheduled runs below,
// `check` and `/probe`. `scheduled` is passed to the collector as
// CollectContext::scheduled.
RunResult RunOnce(Collector& collector, Duration timeout, const std::atomic<bool>* stop,
                  Deadline::Clock::time_point scheduled = {});

class CollectorRunner {
 public:
  // `seed` (may be null) is the last snapshot of the collector this one
  // replaces on reload, served until the first run of this one finishes.
  // `on_publish` is called after each new snapshot (any thread).
  CollectorRunner(std::string name, std::shared_ptr<Collector> collector, Duration interval, Duration timeout,
                  std::shared_ptr<const Snapshot> seed, std::function<void()> on_publish);
  // Stops with a 1s grace (see Stop).
  ~CollectorRunner();

  CollectorRunner(const CollectorRunner&) = delete;
  CollectorRunner& operator=(const CollectorRunner&) = delete;

  void Start();
  // Asks the run to stop and returns at once (stop several, then wait).
  void RequestStop();
  // RequestStop(), then waits up to `grace` for the thread. True if it ended;
  // a thread stuck in a collector after that is detached (it owns what it
  // uses) and false is returned: its collector may still be running.
  bool Stop(Duration grace);

  struct View {
    std::shared_ptr<const Snapshot> snapshot;  // null before the first run
    bool overrunning = false;                  // a run is going past its deadline right now
    double overrun_seconds = 0;                // how long that run has been going
  };
  // Thread-safe, never blocks on a run.
  View Current() const;
  // 0 before the first publish; then a number unique across all runners of
  // the process, increasing with every published snapshot (overrunning is
  // not counted: read it from Current()).
  uint64_t Generation() const;

  const std::string& name() const { return name_; }
  // The collector this runner runs (for a reload's state handoff, only once
  // Stop() returned true).
  const std::shared_ptr<Collector>& collector() const { return collector_; }
  Duration interval() const { return interval_; }
  Duration timeout() const { return timeout_; }

 private:
  struct Shared;  // state shared with the (possibly detached) thread
  static void Loop(std::shared_ptr<Shared> s);

  const std::string name_;
  const Duration interval_;
  const Duration timeout_;
  const std::shared_ptr<Collector> collector_;
  std::shared_ptr<Shared> shared_;
  std::thread thread_;
  bool detached_ = false;  // Stop() gave up on the thread
};

}  // namespace mailstack

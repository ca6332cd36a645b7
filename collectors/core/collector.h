// The collector contract. A collector measures one concern and writes its
// samples into a MetricSink. The runner calls Collect() on a background
// thread, never two runs of one collector at once, each with a deadline.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <vector>

#include "collectors/core/deadline.h"
#include "collectors/core/metrics.h"
#include "collectors/core/status.h"

namespace mailstack {

struct CollectContext {
  Deadline deadline;
  // Set when the exporter shuts down or the collector is replaced by a reload.
  // Never null.
  const std::atomic<bool>* stop;
  // The tick of the runner's schedule this run was started for: a multiple
  // of the interval after the first run's tick (the run itself starts at or
  // a little after it). Tells a run which slot it fills; zero when a caller
  // runs a collector outside a schedule.
  Deadline::Clock::time_point scheduled{};

  bool Stopping() const { return stop->load(std::memory_order_relaxed); }
  // True when the run should end now: deadline passed or stop requested.
  bool Done() const { return Stopping() || deadline.Expired(); }
  // The deadline for a collector's network waits: a little before the run's
  // (a tenth of the time left, at most 250 ms), so that what a peer that
  // never answers held up is still reported as a timeout in this run
  // instead of the whole run overrunning.
  Deadline WorkDeadline() const {
    const auto left = deadline.Remaining();
    return Deadline(deadline.at() - std::min<Deadline::Clock::duration>(std::chrono::milliseconds(250), left / 10));
  }
};

class Collector {
 public:
  virtual ~Collector() = default;

  // Every family this collector may emit, whatever its options. The runner
  // declares them before each run (they appear even without samples) and
  // rejects a sample of any other family.
  virtual std::vector<MetricDesc> Describe() const = 0;

  // One run. Must return by ctx.deadline: every blocking call takes it.
  // A failing item (one path, one target) is data and the run goes on; return
  // non-OK only when the collector could not do its job at all. Should not
  // throw; the runner catches and reports a bug if it does.
  // Not called concurrently with itself; may keep state between runs.
  virtual Status Collect(const CollectContext& ctx, MetricSink& sink) = 0;

  // On reload, when this collector replaces `previous` (the same registry
  // entry whose section changed): take over whatever of its state is still
  // valid for this collector's options (caches, open connections, problems
  // already logged, a log reader's offsets and counters). Called before this
  // collector's first run, only once `previous` has stopped running; never
  // called for a section that did not change (that collector keeps running).
  // `previous` may be of another class (check with dynamic_cast).
  virtual void TakeStateFrom(Collector& previous) { (void)previous; }
};

}  // namespace mailstack

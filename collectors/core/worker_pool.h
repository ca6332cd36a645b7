// One bounded pool of worker threads for every fan-out of the collectors:
// the probes' targets, the spool's batched head reads, the filesystem's
// statvfs calls (and next the mailboxes and /probe). Threads start lazily up
// to a cap and end after a minute idle, so a 1-CPU VPS at rest runs none.
//
// Two ways in:
//  - ForEach runs fn(0..n-1) on the calling thread plus up to
//    parallelism-1 free workers. The caller takes items too, so ForEach
//    always finishes: with no worker to be had (cap reached, or the system
//    refuses a thread) it is a plain loop on the caller. That is the inline
//    fallback, not an error.
//  - TrySpawn hands one task to a free worker, or says no. For a call that
//    may block for good (statvfs on a hung NFS mount): the caller waits for
//    it with its own deadline and leaves it running when it overstays; the
//    worker it holds is the cost, bounded by the cap.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

namespace mailstack {

class WorkerPool {
 public:
  // At most `max_threads` workers at once (0: every call runs inline).
  explicit WorkerPool(size_t max_threads);
  // Idle workers end; a task still running finishes on its own (workers are
  // detached and own the pool's state). Pending ForEach calls must be over.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // The process-wide pool (64 workers), never destroyed.
  static WorkerPool& Shared();

  // Runs fn(i) for every i in [0, n) exactly once and returns when all have
  // returned; at most `parallelism` at a time (the caller counts as one).
  // fn must not throw.
  void ForEach(size_t n, size_t parallelism, const std::function<void(size_t)>& fn);

  // Starts `task` on a free worker (starting one if under the cap). False:
  // no worker free and none can be started; `task` was not run.
  bool TrySpawn(std::function<void()> task);

  // Workers alive now, and of those the ones running a task (for tests).
  size_t threads() const;
  size_t busy() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace mailstack

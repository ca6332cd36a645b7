#include "collectors/core/worker_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <system_error>
#include <thread>

namespace mailstack {

namespace {
// A worker with nothing to do for this long ends.
constexpr std::chrono::seconds kIdleExit{60};
}  // namespace

struct WorkerPool::State {
  explicit State(size_t cap) : max_threads(cap) {}
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::function<void()>> queue;  // only ever as long as there are idle workers to take it
  const size_t max_threads;
  size_t threads = 0, idle = 0, busy = 0;
  bool closing = false;

  // A worker: runs `first`, then whatever is handed to it, until idle too long or closing.
  static void Work(const std::shared_ptr<State>& s, const std::function<void()>& first) {
    first();
    std::unique_lock<std::mutex> lock(s->mu);
    for (;;) {
      --s->busy;
      ++s->idle;
      s->cv.wait_for(lock, kIdleExit, [&] { return !s->queue.empty() || s->closing; });
      --s->idle;
      if (s->queue.empty()) {
        --s->threads;
        return;
      }
      std::function<void()> task = std::move(s->queue.front());
      s->queue.pop_front();
      ++s->busy;
      lock.unlock();
      task();
      task = nullptr;  // its captures die outside the lock, before the worker waits again
      lock.lock();
    }
  }
};

WorkerPool::WorkerPool(size_t max_threads) : state_(std::make_shared<State>(max_threads)) {}

WorkerPool::~WorkerPool() {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->closing = true;
  state_->cv.notify_all();
}

WorkerPool& WorkerPool::Shared() {
  static auto* pool = new WorkerPool(64);  // never destroyed: a hung task may outlive main
  return *pool;
}

bool WorkerPool::TrySpawn(std::function<void()> task) {
  std::unique_lock<std::mutex> lock(state_->mu);
  State& s = *state_;
  if (s.closing) return false;
  if (s.idle > s.queue.size()) {
    s.queue.push_back(std::move(task));
    s.cv.notify_one();
    return true;
  }
  if (s.threads >= s.max_threads) return false;
  ++s.threads;
  ++s.busy;
  lock.unlock();
  try {
    std::thread([st = state_, t = std::move(task)] { State::Work(st, t); }).detach();
    return true;
  } catch (const std::system_error&) {  // RLIMIT_NPROC, memory: no thread to be had
    lock.lock();
    --s.threads;
    --s.busy;
    return false;
  }
}

void WorkerPool::ForEach(size_t n, size_t parallelism, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < n;) fn(i);
  };
  std::mutex mu;
  std::condition_variable cv;
  size_t running = 0;  // helpers handed out and not yet returned
  const size_t helpers = std::min(parallelism, n) > 0 ? std::min(parallelism, n) - 1 : 0;
  for (size_t h = 0; h < helpers; ++h) {
    {
      std::lock_guard<std::mutex> lock(mu);
      ++running;
    }
    const bool spawned = TrySpawn([&] {
      work();
      std::lock_guard<std::mutex> lock(mu);
      --running;
      cv.notify_all();
    });
    if (!spawned) {
      std::lock_guard<std::mutex> lock(mu);
      --running;
      break;  // no more workers: the ones there (this thread at least) do it all
    }
  }
  work();
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return running == 0; });
}

size_t WorkerPool::threads() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->threads;
}

size_t WorkerPool::busy() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->busy;
}

}  // namespace mailstack

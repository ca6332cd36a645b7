#include "collectors/core/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace mailstack {
namespace {

using namespace std::chrono_literals;

// Waits (bounded) until pred holds; the bound is a failure, never a pass.
template <typename Pred>
bool WaitFor(Pred pred, std::chrono::seconds limit = 30s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// A gate the tasks wait at until the test opens it.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  int waiting = 0;
  void Wait() {
    std::unique_lock<std::mutex> lock(mu);
    ++waiting;
    cv.notify_all();
    cv.wait(lock, [&] { return open; });
  }
  // True when n tasks wait at the same time (bounded).
  bool AwaitWaiting(int n) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, 30s, [&] { return waiting >= n; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu);
    open = true;
    cv.notify_all();
  }
};

TEST(WorkerPoolTest, ForEachRunsEveryItemExactlyOnce) {
  WorkerPool pool(4);
  std::vector<std::atomic<int>> hits(1000);
  pool.ForEach(hits.size(), 4, [&](size_t i) { hits[i].fetch_add(1); });
  for (size_t i = 0; i < hits.size(); ++i) ASSERT_EQ(hits[i].load(), 1) << i;
  EXPECT_LE(pool.threads(), 3u);  // the caller is the fourth
}

TEST(WorkerPoolTest, ForEachReachesTheParallelismAsked) {
  // Three items that each wait until all three wait: only passes when three
  // run at once (the caller and two workers).
  WorkerPool pool(8);
  Gate gate;
  std::thread opener([&] {
    if (gate.AwaitWaiting(3)) gate.Open();
  });
  std::mutex mu;
  std::set<std::thread::id> ids;
  pool.ForEach(3, 3, [&](size_t) {
    {
      std::lock_guard<std::mutex> lock(mu);
      ids.insert(std::this_thread::get_id());
    }
    gate.Wait();
  });
  opener.join();
  EXPECT_TRUE(gate.open);
  EXPECT_EQ(ids.size(), 3u);
}

TEST(WorkerPoolTest, WithoutWorkersForEachRunsInlineOnTheCaller) {
  WorkerPool pool(0);
  std::set<std::thread::id> ids;
  std::vector<size_t> order;
  pool.ForEach(5, 5, [&](size_t i) {
    ids.insert(std::this_thread::get_id());
    order.push_back(i);
  });
  EXPECT_EQ(ids, std::set<std::thread::id>{std::this_thread::get_id()});
  EXPECT_EQ(order, (std::vector<size_t>{0, 1, 2, 3, 4}));
  EXPECT_FALSE(pool.TrySpawn([] {}));
  EXPECT_EQ(pool.threads(), 0u);
}

TEST(WorkerPoolTest, TrySpawnIsBoundedAndWorkersAreReused) {
  WorkerPool pool(2);
  Gate gate;
  ASSERT_TRUE(pool.TrySpawn([&] { gate.Wait(); }));
  ASSERT_TRUE(pool.TrySpawn([&] { gate.Wait(); }));
  ASSERT_TRUE(gate.AwaitWaiting(2));
  // Both workers are held (as by two hung statvfs calls): no third.
  std::atomic<bool> ran{false};
  EXPECT_FALSE(pool.TrySpawn([&] { ran = true; }));
  EXPECT_EQ(pool.busy(), 2u);
  // A ForEach still finishes, on the caller alone.
  std::atomic<int> sum{0};
  pool.ForEach(10, 10, [&](size_t i) { sum += static_cast<int>(i); });
  EXPECT_EQ(sum.load(), 45);
  gate.Open();
  ASSERT_TRUE(WaitFor([&] { return pool.busy() == 0; }));
  // The two idle workers take new tasks; no third thread is started.
  std::atomic<int> done{0};
  ASSERT_TRUE(pool.TrySpawn([&] { ++done; }));
  ASSERT_TRUE(WaitFor([&] { return done.load() == 1; }));
  EXPECT_EQ(pool.threads(), 2u);
  EXPECT_FALSE(ran.load());
}

TEST(WorkerPoolTest, ATaskOutlivesItsPool) {
  auto gate = std::make_shared<Gate>();
  auto finished = std::make_shared<std::atomic<bool>>(false);
  {
    WorkerPool pool(1);
    ASSERT_TRUE(pool.TrySpawn([gate, finished] {
      gate->Wait();
      *finished = true;
    }));
    ASSERT_TRUE(gate->AwaitWaiting(1));
  }  // the pool is gone, its task is still blocked
  gate->Open();
  EXPECT_TRUE(WaitFor([&] { return finished->load(); }));
}

TEST(WorkerPoolTest, ConcurrentForEachCallsShareThePool) {
  WorkerPool pool(3);
  std::atomic<int> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&] { pool.ForEach(500, 4, [&](size_t) { total.fetch_add(1); }); });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(total.load(), 2000);
  EXPECT_LE(pool.threads(), 3u);
}

}  // namespace
}  // namespace mailstack

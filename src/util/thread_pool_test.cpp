// ThreadPool: every index is covered exactly once, chunks respect the grain, loops with fewer
// chunks than threads (which involve only some workers) interleave safely with full ones,
// exceptions reach the caller, and the pool survives being idle long enough to sleep.
#include "util/thread_pool.h"

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "util/testing.h"

using namespace tc;

TC_TEST(thread_pool_covers_every_index_once) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    for (int64_t n : {1, 2, 3, 7, 64, 1000}) {
      for (int64_t grain : {1, 4, 100}) {
        std::vector<std::atomic<int>> hits(n);
        std::atomic<int> max_index{0};
        pool.parallel_for(n, [&](int64_t b, int64_t e, int index) {
          for (int64_t i = b; i < e; ++i) hits[i]++;
          int m = max_index.load();
          while (index > m && !max_index.compare_exchange_weak(m, index)) {
          }
        }, grain);
        bool once = true;
        for (auto& h : hits) once = once && h.load() == 1;
        TC_EXPECT(once);
        // Chunk count: min(threads, ceil(n / grain)), so the thread index stays below it.
        TC_EXPECT(max_index.load() < std::min<int64_t>(threads, (n + grain - 1) / grain));
      }
    }
  }
}

TC_TEST(thread_pool_many_short_loops_of_varying_width) {
  // Alternate 1-chunk, 2-chunk and full loops: workers left out of one loop must not run a
  // chunk of the next one twice or miss it.
  ThreadPool pool(4);
  std::atomic<int64_t> total{0};
  int64_t expected = 0;
  for (int it = 0; it < 1000; ++it) {
    const int64_t n = 1 + it % 5;
    pool.parallel_for(n, [&](int64_t b, int64_t e, int) { total += e - b; });
    expected += n;
  }
  TC_EXPECT_EQ(total.load(), expected);
}

TC_TEST(thread_pool_rethrows_and_keeps_working_after_idle) {
  ThreadPool pool(3);
  bool caught = false;
  try {
    pool.parallel_for(30, [&](int64_t b, int64_t, int) {
      if (b > 0) throw std::runtime_error("chunk failed");
    });
  } catch (const std::runtime_error& e) {
    caught = std::string(e.what()) == "chunk failed";
  }
  TC_EXPECT(caught);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));  // workers go to sleep
  std::atomic<int> sum{0};
  pool.parallel_for(3, [&](int64_t b, int64_t e, int) { sum += int(e - b); });
  TC_EXPECT_EQ(sum.load(), 3);
}

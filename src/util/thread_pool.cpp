#include "util/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <exception>

#if defined(__x86_64__)
#include <immintrin.h>
#define TC_CPU_RELAX() _mm_pause()
#else
#define TC_CPU_RELAX() ((void)0)
#endif

namespace tc {

namespace {

constexpr int kChunkBits = 16;  // chunks per job < 65536
// Waiting: this many pause instructions first (a pause is 10-60 ns depending on the CPU and
// hypervisor), then yield the core until kSpinYield has passed, then sleep.
constexpr int kSpinPauses = 256;
constexpr auto kSpinYield = std::chrono::microseconds(300);

}  // namespace

ThreadPool::ThreadPool(int n_threads) {
  if (n_threads <= 0) {
    unsigned hw = std::thread::hardware_concurrency();
    n_threads = hw ? int(hw) : 1;
  }
  n_threads_ = std::min(n_threads, (1 << kChunkBits) - 1);
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
    state_.store((++epoch_) << kChunkBits);
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

ThreadPool& ThreadPool::global() {
  static ThreadPool pool([] {
    const char* env = std::getenv("TC_THREADS");
    return env ? std::atoi(env) : 0;
  }());
  return pool;
}

void ThreadPool::run_chunk(int index) {
  if (index >= job_chunks_) return;
  int64_t begin = job_n_ * index / job_chunks_;
  int64_t end = job_n_ * (index + 1) / job_chunks_;
  if (begin >= end) return;
  try {
    (*job_)(begin, end, index);
  } catch (...) {
    std::lock_guard<std::mutex> lock(error_mutex_);
    if (!error_) error_ = std::current_exception();
  }
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;  // epoch of the last job this worker looked at
  for (;;) {
    uint64_t state = state_.load(std::memory_order_acquire);
    for (int i = 0; i < kSpinPauses && (state >> kChunkBits) == seen; ++i) {
      TC_CPU_RELAX();
      state = state_.load(std::memory_order_acquire);
    }
    if ((state >> kChunkBits) == seen) {
      const auto deadline = std::chrono::steady_clock::now() + kSpinYield;
      while ((state = state_.load(std::memory_order_acquire)) >> kChunkBits == seen &&
             std::chrono::steady_clock::now() < deadline)
        std::this_thread::yield();
    }
    if ((state >> kChunkBits) == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      sleepers_.fetch_add(1);  // seq_cst: pairs with the master's store of state_ then load of sleepers_
      wake_.wait(lock, [&] { return (state_.load() >> kChunkBits) != seen; });
      sleepers_.fetch_sub(1);
      state = state_.load(std::memory_order_acquire);
    }
    seen = state >> kChunkBits;
    if (stop_.load()) return;
    // Only workers with a chunk take part; the master waits for exactly those, so job_ and
    // friends stay valid while a participant reads them.
    const int chunks = int(state & ((uint64_t(1) << kChunkBits) - 1));
    if (index < chunks) {
      run_chunk(index);
      pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn, int64_t grain) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  int chunks = int(std::min<int64_t>(n_threads_, (n + grain - 1) / grain));
  if (chunks <= 1 || workers_.empty()) {
    fn(0, n, 0);
    return;
  }
  job_ = &fn;
  job_n_ = n;
  job_chunks_ = chunks;
  error_ = nullptr;
  pending_.store(chunks - 1, std::memory_order_relaxed);
  state_.store(((++epoch_) << kChunkBits) | uint64_t(chunks));  // seq_cst: publishes the job
  if (sleepers_.load() > 0) {
    { std::lock_guard<std::mutex> lock(mutex_); }  // a sleeper is either waiting or will see state_
    wake_.notify_all();
  }
  run_chunk(0);
  for (int i = 0; pending_.load(std::memory_order_acquire) != 0; ++i) {
    if (i < kSpinPauses)
      TC_CPU_RELAX();
    else
      std::this_thread::yield();  // a worker may be waiting for this core
  }
  job_ = nullptr;
  if (error_) std::rethrow_exception(error_);
}

}  // namespace tc

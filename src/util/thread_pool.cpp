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
constexpr uint64_t kChunkMask = (uint64_t(1) << kChunkBits) - 1;
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
  n_threads_ = std::min(n_threads, int(kChunkMask));
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_.store(true);
    epoch_word_.store(++epoch_);
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
  int64_t begin = job_n_ * index / job_chunks_;
  int64_t end = job_n_ * (index + 1) / job_chunks_;
  if (begin < end) {
    try {
      (*job_)(begin, end, index);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex_);
      if (!error_) error_ = std::current_exception();
    }
  }
  done_.fetch_add(1, std::memory_order_acq_rel);
}

// The claim word: (epoch mod 2^32) << 32 | chunks << 16 | next unclaimed chunk. Everything a
// claim decides on is in the word, so a late worker reads no field of a job it cannot join;
// after a successful claim the job cannot finish before that chunk does, so its fields stay valid.
static uint64_t claim_word(uint64_t epoch, int chunks) { return (epoch << 32) | (uint64_t(chunks) << kChunkBits); }

void ThreadPool::run_claimed_chunks(uint64_t epoch) {
  uint64_t word = claim_.load(std::memory_order_acquire);
  for (;;) {
    if ((word >> 32) != (epoch & 0xFFFFFFFFu)) return;  // a later job: nothing of ours is left
    const int chunks = int((word >> kChunkBits) & kChunkMask), chunk = int(word & kChunkMask);
    if (chunk >= chunks) return;
    if (claim_.compare_exchange_weak(word, word + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
      run_chunk(chunk);
      word = claim_.load(std::memory_order_acquire);
    }
  }
}

void ThreadPool::worker_loop() {
  uint64_t seen = 0;  // epoch of the last job this worker looked at
  for (;;) {
    uint64_t epoch = epoch_word_.load(std::memory_order_acquire);
    for (int i = 0; i < kSpinPauses && epoch == seen; ++i) {
      TC_CPU_RELAX();
      epoch = epoch_word_.load(std::memory_order_acquire);
    }
    if (epoch == seen) {
      const auto deadline = std::chrono::steady_clock::now() + kSpinYield;
      while ((epoch = epoch_word_.load(std::memory_order_acquire)) == seen &&
             std::chrono::steady_clock::now() < deadline)
        std::this_thread::yield();
    }
    if (epoch == seen) {
      std::unique_lock<std::mutex> lock(mutex_);
      sleepers_.fetch_add(1);  // seq_cst: pairs with the master's store of epoch_word_ then load of sleepers_
      wake_.wait(lock, [&] { return epoch_word_.load() != seen; });
      sleepers_.fetch_sub(1);
      epoch = epoch_word_.load(std::memory_order_acquire);
    }
    seen = epoch;
    if (stop_.load()) return;
    run_claimed_chunks(epoch);
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
  done_.store(0, std::memory_order_relaxed);
  const uint64_t epoch = ++epoch_;
  claim_.store(claim_word(epoch, chunks), std::memory_order_release);  // chunk 0 of this job is next
  epoch_word_.store(epoch);                                       // seq_cst: wakes spinning workers
  if (sleepers_.load() > 0) {
    { std::lock_guard<std::mutex> lock(mutex_); }  // a sleeper is either waiting or will see the epoch
    wake_.notify_all();
  }
  run_claimed_chunks(epoch);
  for (int i = 0; done_.load(std::memory_order_acquire) != chunks; ++i) {
    if (i < kSpinPauses)
      TC_CPU_RELAX();
    else
      std::this_thread::yield();  // a worker is finishing a chunk and may need this core
  }
  job_ = nullptr;
  if (error_) std::rethrow_exception(error_);
}

}  // namespace tc

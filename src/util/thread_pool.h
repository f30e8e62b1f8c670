// A persistent worker pool for data-parallel loops. The calling thread takes part, so a
// pool of n threads runs n-1 workers. Workers spin briefly on a job word before sleeping,
// because a decode step issues hundreds of short loops and a condition-variable wake-up per
// loop would cost more than the work on small models. The spin is bounded in time (pause,
// then yield so an oversubscribed machine still makes progress). Chunks are claimed, not
// assigned: the caller and the workers take the next unclaimed chunk, so a worker that the
// OS has not scheduled yet delays nothing (the caller runs its chunk instead).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tc {

class ThreadPool {
 public:
  // n_threads <= 0 picks the number of hardware threads.
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs fn(begin, end, thread_index) over [0, n) split into contiguous chunks of at least
  // `grain` items, at most one chunk per thread. Returns when all chunks are done. Exceptions
  // in fn are captured and rethrown on the calling thread. thread_index is the chunk's index
  // (< size()): no two concurrent calls of fn share one, so it can select per-thread scratch.
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn, int64_t grain = 1);

  // The process-wide default pool (sized by TC_THREADS or the hardware).
  static ThreadPool& global();

 private:
  void worker_loop();
  void run_chunk(int index);
  // Claims and runs chunks of the job published as `epoch` until none is left.
  void run_claimed_chunks(uint64_t epoch);

  int n_threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  // The published job: its epoch (bumped per job; wakes the workers) and the claim word
  // (epoch, chunk count, next unclaimed chunk). Claims compare the epoch, so a late worker
  // can never take a chunk of a later job than the one it saw.
  std::atomic<uint64_t> epoch_word_{0};
  std::atomic<uint64_t> claim_{0};
  uint64_t epoch_ = 0;            // master only
  std::atomic<int> done_{0};      // chunks finished in the current job
  std::atomic<int> sleepers_{0};  // workers blocked on wake_
  std::atomic<bool> stop_{false};
  // The current job.
  const std::function<void(int64_t, int64_t, int)>* job_ = nullptr;
  int64_t job_n_ = 0;
  int job_chunks_ = 0;
  std::exception_ptr error_;
  std::mutex error_mutex_;
};

}  // namespace tc

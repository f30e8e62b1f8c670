// A persistent worker pool for data-parallel loops. The calling thread takes part, so a
// pool of n threads runs n-1 workers. Workers spin briefly on a job word before sleeping,
// because a decode step issues hundreds of short loops and a condition-variable wake-up per
// loop would cost more than the work on small models. The spin is bounded in time (pause,
// then yield so an oversubscribed machine still makes progress), and a loop split into
// fewer chunks than threads only involves (and waits for) the workers that have a chunk.
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
  // `grain` items, one chunk per thread. Returns when all chunks are done. Exceptions in
  // fn are captured and rethrown on the calling thread.
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t, int)>& fn, int64_t grain = 1);

  // The process-wide default pool (sized by TC_THREADS or the hardware).
  static ThreadPool& global();

 private:
  void worker_loop(int index);
  void run_chunk(int index);

  int n_threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  // The published job: (epoch << 16) | chunks. One word, so a worker never pairs an epoch
  // with another job's chunk count.
  std::atomic<uint64_t> state_{0};
  uint64_t epoch_ = 0;            // master only
  std::atomic<int> pending_{0};   // chunks still running on workers
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

// matmul_bench: fast vs reference matmul for SmolLM2-like shapes and every weight dtype.
//
//   decode  (n = 1):   GB/s of weight bytes streamed (and Gw/s: billions of weights). The weights rotate through enough
//                      copies (>= 128 MiB) that every call reads them from DRAM, as a real
//                      decode step does; a plain read of a large buffer gives the ceiling.
//   prefill (n = 128): GFLOP/s (2 * n * rows * cols per call).
// Each number is the best of several timed runs (the machine is shared and noisy); "ratio"
// is fast / reference. Q4_K / Q6_K widths are rounded up to a multiple of 256. The reference is the scalar double-accumulating ops_ref matmul; for
// the 49152-row matrix it is timed on its first 4096 rows and scaled.
//
// usage: matmul_bench [--threads 1,2] [--dtypes q4_1,q8_0,...] [--shapes 576x576,...]
//                     [--no-ref] [--hot] [--no-baseline] [--prefill-n 128] [--min-time 0.3]
// --hot decodes the same copy every call (weights in cache: the kernels' compute ceiling).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "backend/cpu/kernel_test_util.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/ops_ref.h"
#include "util/rng.h"
#include "util/thread_pool.h"

using namespace tc;

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Best seconds per call of fn over at least min_time seconds (and at least 3 calls).
double best_time(const std::function<void()>& fn, double min_time) {
  fn();  // warm-up
  double best = 1e30, start = now_s();
  int calls = 0;
  while (calls < 3 || now_s() - start < min_time) {
    double t0 = now_s();
    fn();
    best = std::min(best, now_s() - t0);
    ++calls;
    if (calls >= 2000) break;
  }
  return best;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

// GB/s of reading `bytes` with `threads` threads (sum of floats, vectorised by the compiler).
double read_bandwidth(ThreadPool& pool, size_t bytes, double min_time) {
  std::vector<float> buf(bytes / 4, 1.0f);
  std::vector<double> sums(64);
  double t = best_time([&] {
    pool.parallel_for(int64_t(buf.size()), [&](int64_t b, int64_t e, int th) {
      float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (int64_t i = b; i + 4 <= e; i += 4) {
        s0 += buf[i];
        s1 += buf[i + 1];
        s2 += buf[i + 2];
        s3 += buf[i + 3];
      }
      sums[th] = s0 + s1 + s2 + s3;
    }, 1 << 16);
  }, min_time);
  return double(bytes) / t / 1e9;
}

double pool_overhead_us(ThreadPool& pool, double min_time) {
  const int calls = 1000;
  std::vector<int> sink(64);
  double t = best_time([&] {
    for (int i = 0; i < calls; ++i) pool.parallel_for(pool.size(), [&](int64_t b, int64_t, int th) { sink[th] += int(b); });
  }, min_time);
  return t / calls * 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> thread_counts = {1, 2};
  std::vector<std::string> dtypes = {"f32",  "f16",  "bf16", "q8_0", "q5_0", "q5_1",   "q4_0",  "q4_1",
                                     "q2_k", "q3_k", "q4_k", "q5_k", "q6_k", "iq4_nl", "iq4_xs"};
  std::vector<std::string> shapes = {"576x576", "192x576", "1536x576", "576x1536", "49152x576"};
  bool with_ref = true, hot = false, baseline = true;
  int prefill_n = 128;
  double min_time = 0.3;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) { std::fprintf(stderr, "matmul_bench: %s needs a value\n", a.c_str()); std::exit(2); }
      return argv[++i];
    };
    if (a == "--threads") { thread_counts.clear(); for (auto& s : split(next())) thread_counts.push_back(std::atoi(s.c_str())); }
    else if (a == "--dtypes") dtypes = split(next());
    else if (a == "--shapes") shapes = split(next());
    else if (a == "--no-ref") with_ref = false;
    else if (a == "--hot") hot = true;
    else if (a == "--no-baseline") baseline = false;
    else if (a == "--prefill-n") prefill_n = std::atoi(next().c_str());
    else if (a == "--min-time") min_time = std::atof(next().c_str());
    else { std::fprintf(stderr, "matmul_bench: unknown option %s\n", a.c_str()); return 2; }
  }

  std::printf("matmul_bench: isa %s, decode GB/s (weights from DRAM) and prefill n=%d GFLOP/s, best of runs\n",
              cpu::cpu_isa_name(), prefill_n);
  for (int th : thread_counts) {
    if (!baseline) break;
    ThreadPool pool(th);
    std::printf("threads %d: DRAM read %.1f GB/s, empty parallel_for %.2f us\n", th,
                read_bandwidth(pool, size_t(256) << 20, min_time), pool_overhead_us(pool, min_time));
  }
  std::printf("%-6s %-10s %3s | %9s %9s %7s %9s | %9s %9s %7s\n", "dtype", "shape", "thr", "dec GB/s", "ref GB/s",
              "ratio", "dec Gw/s", "pf GF/s", "ref GF/s", "ratio");

  Rng rng(1);
  for (const std::string& dn : dtypes) {
    const DType dt = dtype_from_name(dn);
    for (const std::string& shape : shapes) {
      const int64_t rows = std::atoll(shape.c_str());
      int64_t cols = std::atoll(shape.c_str() + shape.find('x') + 1);
      // K-quants need rows of whole 256-element super-blocks: round the width up (576 -> 768).
      const int block = dtype_info(dt).block_elems;
      cols = (cols + block - 1) / block * block;
      const std::string shape_used = std::to_string(rows) + "x" + std::to_string(cols);
      auto bytes = cpu::testing_util::random_weights(dt, rows, cols, rng);
      // Copies so that one decode sweep over all of them exceeds the caches (>= 128 MiB).
      const int copies = hot ? 1 : int(std::max<size_t>(1, (size_t(128) << 20) / bytes.size() + 1));
      std::vector<std::vector<uint8_t>> mats(copies, bytes);
      std::vector<TensorView> views;
      for (auto& m : mats) views.push_back(cpu::testing_util::view_of(dt, rows, cols, m));
      auto x = cpu::testing_util::random_floats(size_t(prefill_n) * cols, rng);
      std::vector<float> y(size_t(prefill_n) * rows);
      const int64_t ref_rows = std::min<int64_t>(rows, 4096);
      TensorView ref_view = cpu::testing_util::view_of(dt, ref_rows, cols, bytes);
      const double flops = 2.0 * prefill_n * rows * cols;

      for (int th : thread_counts) {
        ThreadPool pool(th);
        size_t next_copy = 0;
        const double t_dec = best_time([&] {
          cpu::matmul(views[next_copy], x.data(), y.data(), 1, pool);
          next_copy = (next_copy + 1) % views.size();
        }, min_time);
        const double t_pf = best_time([&] { cpu::matmul(views[0], x.data(), y.data(), prefill_n, pool); }, min_time);
        double t_dec_ref = 0, t_pf_ref = 0;
        if (with_ref) {
          const double scale = double(rows) / ref_rows;
          t_dec_ref = scale * best_time([&] { cpu::ref::matmul(ref_view, x.data(), y.data(), 1, pool); }, min_time);
          t_pf_ref = scale * best_time([&] { cpu::ref::matmul(ref_view, x.data(), y.data(), prefill_n, pool); }, 0);
        }
        const double gb = double(bytes.size()) / 1e9;
        std::printf("%-6s %-10s %3d | %9.2f %9.2f %7.1f %9.2f | %9.2f %9.2f %7.1f\n", dn.c_str(), shape_used.c_str(),
                    th, gb / t_dec, with_ref ? gb / t_dec_ref : 0.0, with_ref ? t_dec_ref / t_dec : 0.0,
                    double(rows) * cols / t_dec / 1e9, flops / t_pf / 1e9,
                    with_ref ? flops / t_pf_ref / 1e9 : 0.0, with_ref ? t_pf_ref / t_pf : 0.0);
        std::fflush(stdout);
      }
    }
  }
  return 0;
}

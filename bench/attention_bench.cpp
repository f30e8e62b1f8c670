// attention_bench: fast vs reference attention over one layer of a KV cache.
//
//   decode  (1 query):   GB/s of K+V bytes read (n_slots * n_store_heads * head_dim * 2 rows)
//   prefill (n queries): GFLOP/s counting 4 * n * n_visible * head_dim per query head
//                        (QK and PV), causal from an empty cache
// Shapes: SmolLM2-135M (9 heads, 3 KV heads, head_dim 64) and Qwen3-0.6B-like (16 heads,
// 8 KV heads, head_dim 128); KV cache in F16. Taps (probs + colsum) on, as H2O-style
// policies use them. Best of several runs; "ratio" is fast / reference.
//
// usage: attention_bench [--threads 1,2] [--min-time 0.3] [--no-ref]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

#include "backend/cpu/kernel_test_util.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/ops_ref.h"
#include "kv/kv_cache.h"
#include "util/thread_pool.h"

using namespace tc;

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double best_time(const std::function<void()>& fn, double min_time) {
  fn();
  double best = 1e30, start = now_s();
  int calls = 0;
  while (calls < 3 || now_s() - start < min_time) {
    double t0 = now_s();
    fn();
    best = std::min(best, now_s() - t0);
    if (++calls >= 5000) break;
  }
  return best;
}

struct Model {
  const char* name;
  int n_heads, n_kv_heads, head_dim;
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> thread_counts = {1, 2};
  double min_time = 0.3;
  bool with_ref = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) {
      thread_counts.clear();
      std::string s = argv[++i];
      for (size_t p = 0; p <= s.size();) {
        size_t c = s.find(',', p);
        if (c == std::string::npos) c = s.size();
        thread_counts.push_back(std::atoi(s.substr(p, c - p).c_str()));
        p = c + 1;
      }
    } else if (a == "--min-time" && i + 1 < argc) {
      min_time = std::atof(argv[++i]);
    } else if (a == "--no-ref") {
      with_ref = false;
    } else {
      std::fprintf(stderr, "attention_bench: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  std::printf("attention_bench: isa %s, KV f16, taps on, best of runs\n", cpu::cpu_isa_name());
  std::printf("%-10s %-16s %3s | %10s %10s %7s\n", "model", "case", "thr", "fast", "ref", "ratio");
  const Model models[] = {{"smollm2", 9, 3, 64}, {"qwen3-0.6b", 16, 8, 128}};
  Rng rng(1);
  for (const Model& m : models) {
    for (int n_slots : {512, 4096}) {
      // Decode: n_slots - 1 cached tokens plus the query's own.
      KvCache cache({1, m.n_heads, m.n_kv_heads, m.head_dim}, {n_slots, DType::F16, KvLayout::Gqa});
      auto k = cpu::testing_util::random_floats(size_t(n_slots) * m.n_kv_heads * m.head_dim, rng);
      auto v = cpu::testing_util::random_floats(k.size(), rng);
      std::vector<int32_t> pos(n_slots);
      std::iota(pos.begin(), pos.end(), 0);
      cache.append(0, n_slots, k.data(), v.data(), pos.data());
      auto q = cpu::testing_util::random_floats(size_t(512) * m.n_heads * m.head_dim, rng);
      std::vector<float> out(q.size()), probs(size_t(m.n_heads) * n_slots), colsum(probs.size());
      const float scale = 1.0f / std::sqrt(float(m.head_dim));
      const int32_t qpos = n_slots - 1;
      const double kv_bytes = 2.0 * n_slots * m.n_kv_heads * cache.row_bytes();
      for (int th : thread_counts) {
        ThreadPool pool(th);
        double t = best_time([&] {
          cpu::attention(q.data(), 1, &qpos, cache, 0, scale, out.data(), probs.data(), colsum.data(), n_slots, pool);
        }, min_time);
        double tr = with_ref ? best_time([&] {
          cpu::ref::attention(q.data(), 1, &qpos, cache, 0, scale, out.data(), probs.data(), colsum.data(), n_slots, pool);
        }, min_time) : 0;
        char label[64];
        std::snprintf(label, sizeof label, "decode %d", n_slots);
        std::printf("%-10s %-16s %3d | %7.2f GB/s %7.2f GB/s %7.1f\n", m.name, label, th, kv_bytes / t / 1e9,
                    with_ref ? kv_bytes / tr / 1e9 : 0.0, with_ref ? tr / t : 0.0);
        std::fflush(stdout);
      }
    }
    for (int n_tokens : {128, 512}) {
      // Prefill from an empty cache: the call's own n_tokens tokens, causal.
      KvCache cache({1, m.n_heads, m.n_kv_heads, m.head_dim}, {n_tokens, DType::F16, KvLayout::Gqa});
      auto k = cpu::testing_util::random_floats(size_t(n_tokens) * m.n_kv_heads * m.head_dim, rng);
      auto v = cpu::testing_util::random_floats(k.size(), rng);
      std::vector<int32_t> pos(n_tokens);
      std::iota(pos.begin(), pos.end(), 0);
      cache.append(0, n_tokens, k.data(), v.data(), pos.data());
      auto q = cpu::testing_util::random_floats(size_t(n_tokens) * m.n_heads * m.head_dim, rng);
      std::vector<float> out(q.size()), probs(size_t(m.n_heads) * n_tokens), colsum(probs.size());
      const float scale = 1.0f / std::sqrt(float(m.head_dim));
      const double flops = 4.0 * m.n_heads * m.head_dim * (double(n_tokens) * (n_tokens + 1) / 2);
      for (int th : thread_counts) {
        ThreadPool pool(th);
        for (bool taps : {false, true}) {
          float* pr = taps ? probs.data() : nullptr;
          float* cs = taps ? colsum.data() : nullptr;
          double t = best_time([&] {
            cpu::attention(q.data(), n_tokens, pos.data(), cache, 0, scale, out.data(), pr, cs, n_tokens, pool);
          }, min_time);
          double tr = with_ref && taps ? best_time([&] {
            cpu::ref::attention(q.data(), n_tokens, pos.data(), cache, 0, scale, out.data(), pr, cs, n_tokens, pool);
          }, 0) : 0;
          char label[64];
          std::snprintf(label, sizeof label, "prefill %d%s", n_tokens, taps ? " taps" : "");
          std::printf("%-10s %-16s %3d | %7.2f GF/s %7.2f GF/s %7.1f\n", m.name, label, th, flops / t / 1e9,
                      tr > 0 ? flops / tr / 1e9 : 0.0, tr > 0 ? tr / t : 0.0);
          std::fflush(stdout);
        }
      }
    }
  }
  return 0;
}

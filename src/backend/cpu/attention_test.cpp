// attention (fast) against ref::attention over KV caches of every dtype and layout, GQA
// ratios 1/3/4, head_dim 64/80/128 and an odd 20 (vector tails), decode and prefill token
// counts, slots evicted and reordered (positions not sorted), queries that see nothing,
// and both score taps. Tolerances: outputs are convex combinations of V rows with |v| ~ 1,
// so 2e-5 absolute covers f32 dot products of length <= 128 and the 2-ulp exp; taps are
// probabilities, compared to 2e-6 absolute plus 1e-4 relative.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "backend/cpu/kernel_test_util.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/ops_ref.h"
#include "kv/kv_cache.h"
#include "util/error.h"
#include "util/testing.h"

using namespace tc;
using namespace tc::cpu::testing_util;

namespace {

struct Case {
  int n_heads, n_kv_heads, head_dim;
  DType dtype;
  KvLayout layout;
  int n_cached;   // tokens appended before the queries' own tokens
  int n_tokens;   // queries in the call (their K/V are appended too, as the engine does)
  bool evict;     // drop and reorder slots before the call
};

// Fills a cache the way the engine does, optionally evicts/reorders, then compares fast and
// reference attention (with taps) for the last n_tokens positions.
void run_case(const Case& c, Rng& rng, ThreadPool& pool) {
  const int total = c.n_cached + c.n_tokens;
  KvCache cache({2, c.n_heads, c.n_kv_heads, c.head_dim}, {total + 8, c.dtype, c.layout});
  const int layer = 1;
  // k, v: [total][n_kv_heads][head_dim]
  auto k = random_floats(size_t(total) * c.n_kv_heads * c.head_dim, rng);
  auto v = random_floats(size_t(total) * c.n_kv_heads * c.head_dim, rng);
  std::vector<int32_t> pos(total);
  std::iota(pos.begin(), pos.end(), 5);  // positions 5.. (not starting at 0)
  cache.append(layer, c.n_cached, k.data(), v.data(), pos.data());
  if (c.evict) {
    for (int sh = 0; sh < cache.n_store_heads(); ++sh) {
      // Keep a random subset in a random order (different per head), so positions are not
      // sorted and head sizes differ.
      std::vector<int32_t> keep;
      for (int s = 0; s < c.n_cached; ++s)
        if (rng.uniform() < 0.7) keep.push_back(s);
      for (size_t i = keep.size(); i > 1; --i) std::swap(keep[i - 1], keep[rng.below(i)]);
      cache.retain(layer, sh, keep.data(), int(keep.size()));
    }
  }
  const size_t kv_off = size_t(c.n_cached) * c.n_kv_heads * c.head_dim;
  cache.append(layer, c.n_tokens, k.data() + kv_off, v.data() + kv_off, pos.data() + c.n_cached);
  if (c.evict && c.n_tokens > 1) {
    // Move a few of the new tokens' slots around too (remove() fills holes with the last).
    int32_t drop[] = {0};
    cache.remove(layer, 0, drop, 1);
  }

  const int d = c.head_dim, H = c.n_heads;
  auto q = random_floats(size_t(c.n_tokens) * H * d, rng);
  std::vector<int32_t> q_pos(pos.begin() + c.n_cached, pos.end());
  if (c.n_tokens > 2) q_pos[1] = 0;  // a query that sees no slot at all (all positions >= 5)
  const float scale = 1.0f / std::sqrt(float(d));
  const int stride = cache.max_size() + 3;

  std::vector<float> out(size_t(c.n_tokens) * H * d, NAN), out_ref(out.size());
  std::vector<float> probs(size_t(H) * stride, -1.0f), probs_ref(probs.size(), -1.0f);
  auto colsum0 = random_floats(size_t(H) * stride, rng);  // taps accumulate onto this
  std::vector<float> colsum = colsum0, colsum_ref = colsum0;
  ThreadPool one(1);
  cpu::attention(q.data(), c.n_tokens, q_pos.data(), cache, layer, scale, out.data(), probs.data(), colsum.data(),
                 stride, pool);
  cpu::ref::attention(q.data(), c.n_tokens, q_pos.data(), cache, layer, scale, out_ref.data(), probs_ref.data(),
                      colsum_ref.data(), stride, one);
  const double e_out = worst_error(out.data(), out_ref.data(), out.size(), 2e-5, 0);
  const double e_probs = worst_error(probs.data(), probs_ref.data(), probs.size(), 2e-6, 1e-4);
  const double e_colsum = worst_error(colsum.data(), colsum_ref.data(), colsum.size(), 2e-6 * c.n_tokens, 1e-4);
  if (!(e_out <= 1 && e_probs <= 1 && e_colsum <= 1)) {
    std::fprintf(stderr, "    case H=%d KV=%d d=%d %s layout=%d cached=%d tokens=%d evict=%d threads=%d: "
                 "err out %.3g probs %.3g colsum %.3g (1 = tolerance)\n", c.n_heads, c.n_kv_heads, c.head_dim,
                 dtype_name(c.dtype), int(c.layout), c.n_cached, c.n_tokens, int(c.evict), pool.size(), e_out,
                 e_probs, e_colsum);
    TC_EXPECT(e_out <= 1);
    TC_EXPECT(e_probs <= 1);
    TC_EXPECT(e_colsum <= 1);
  }
  // Without taps the output is the same.
  std::vector<float> out2(out.size());
  cpu::attention(q.data(), c.n_tokens, q_pos.data(), cache, layer, scale, out2.data(), nullptr, nullptr, 0, pool);
  TC_EXPECT(worst_error(out2.data(), out_ref.data(), out.size(), 2e-5, 0) <= 1);
  if (c.n_tokens > 2)  // the blind query: zeros, as the reference defines it
    for (int h = 0; h < H; ++h)
      TC_EXPECT_EQ(out[(size_t(1) * H + h) * d], 0.0f);
}

}  // namespace

TC_TEST(cpu_attention_decode_matches_reference) {
  Rng rng(21);
  ThreadPool one(1), three(3);
  for (DType dt : {DType::F16, DType::BF16, DType::F32})
    for (int d : {64, 80, 128, 20})
      for (auto [H, KV] : {std::pair{4, 4}, std::pair{9, 3}, std::pair{8, 2}})
        for (bool evict : {false, true}) {
          // 700 cached slots: several decode chunks per head, merged by the second pass.
          run_case({H, KV, d, dt, KvLayout::Gqa, d == 64 ? 700 : 90, 1, evict}, rng, three);
          run_case({H, KV, d, dt, KvLayout::Gqa, 33, 1, evict}, rng, one);
        }
  run_case({6, 2, 64, DType::F16, KvLayout::PerQueryHead, 300, 1, true}, rng, three);
  run_case({4, 4, 64, DType::F16, KvLayout::Gqa, 0, 1, false}, rng, three);  // only its own slot
}

TC_TEST(cpu_attention_prefill_matches_reference) {
  Rng rng(22);
  ThreadPool one(1), three(3);
  for (DType dt : {DType::F16, DType::BF16, DType::F32})
    for (int d : {64, 80, 128, 20})
      for (auto [H, KV] : {std::pair{4, 4}, std::pair{9, 3}, std::pair{8, 2}})
        for (int n_tokens : {7, 64}) {
          const bool evict = (d + n_tokens) % 3 != 0;
          run_case({H, KV, d, dt, KvLayout::Gqa, n_tokens == 7 ? 150 : 40, n_tokens, evict}, rng,
                   n_tokens == 7 ? one : three);
        }
  run_case({6, 2, 64, DType::F16, KvLayout::PerQueryHead, 100, 19, true}, rng, three);
  run_case({2, 1, 64, DType::F16, KvLayout::Gqa, 0, 130, false}, rng, three);  // causal from an empty cache
  // A slot tile (64 slots) whose first position equals the last query's: must not be skipped.
  run_case({4, 4, 64, DType::F16, KvLayout::Gqa, 58, 7, false}, rng, one);
  run_case({12, 2, 128, DType::F16, KvLayout::Gqa, 70, 33, true}, rng, three);  // G = 6
}

TC_TEST(cpu_attention_rejects_bad_layer) {
  KvCache cache({2, 2, 2, 16}, {8, DType::F16, KvLayout::Gqa});
  ThreadPool one(1);
  std::vector<float> q(32), out(32);
  int32_t qp = 0;
  TC_EXPECT_THROWS(cpu::attention(q.data(), 1, &qp, cache, 2, 1.0f, out.data(), nullptr, nullptr, 0, one),
                   "layer 2");
}

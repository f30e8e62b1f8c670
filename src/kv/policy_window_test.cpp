// The window-query scorers and their policies on tiny hand-made caches: VaSE-AttnV (§2.6),
// decode-time SnapKV (§2.8), R-KV (§3.1) and prefill SnapKV (§3.2). Expected numbers come
// from tools/oracles/policy_hand_examples.py, an independent torch implementation of the
// spec written the way the original code computes (F.avg_pool1d count_include_pad,
// F.max_pool1d, torch.topk).
#include <cmath>
#include <map>
#include <vector>

#include "kv/policies/rkv.h"
#include "kv/policies/snapkv.h"
#include "kv/policies/window_scores.h"
#include "kv/policy.h"
#include "kv/policy_score_ops.h"
#include "kv/policy_test_util.h"
#include "kv/query_window.h"
#include "util/testing.h"

using namespace tc;
using namespace tc::testing;

TC_TEST(policy_pools_follow_pytorch_padding_semantics) {
  const float x[] = {5, 0, 0, 10, 0, 0, 1};
  float y[7];
  // AvgPool1d(5, 1, 2), count_include_pad: edges divided by 5, zero padding.
  avg_pool_same(x, y, 7, 5);
  const float avg[] = {1, 3, 3, 2, 2.2f, 2.2f, 0.2f};
  for (int i = 0; i < 7; ++i) TC_EXPECT_NEAR(y[i], avg[i], 1e-6);
  // MaxPool1d(7, 1, 3): padding never wins, even over negative values.
  const float neg[] = {-3, -1, -2, -5, -4, -6, -7, -8, -9};
  float m[9];
  max_pool_same(neg, m, 9, 7);
  const float mx[] = {-1, -1, -1, -1, -1, -2, -4, -4, -6};
  for (int i = 0; i < 9; ++i) TC_EXPECT_NEAR(m[i], mx[i], 0);
  const float v[] = {0.5f, -2.0f, 3.0f, 1.0f};
  TC_EXPECT_NEAR(value_range(v, 4), 5.0, 0);
}

TC_TEST(policy_window_softmax_masks_causally) {
  // Two keys in 1-D: k = [1, 2]; query q = 1 at position 0 sees only key 0 (position 0);
  // query q = 1 at position 1 sees both: softmax([1, 2]) = [0.26894, 0.73106].
  const float q[] = {1, 1}, k[] = {1, 2};
  const int64_t qpos[] = {0, 1};
  const int32_t kpos[] = {0, 1};
  std::vector<float> out(2, 0.0f), scratch;
  WindowSoftmaxArgs a;
  a.q = q;
  a.q_stride = 1;
  a.q_pos = qpos;
  a.n_q = 2;
  a.k = k;
  a.k_pos = kpos;
  a.n_softmax = 2;
  a.n_out = 2;
  a.d = 1;
  accumulate_window_softmax(a, out.data(), scratch);
  TC_EXPECT_NEAR(out[0], 1.0 + 0.268941, 1e-5);
  TC_EXPECT_NEAR(out[1], 0.731059, 1e-5);
}

namespace {

// The VaSE example: 1 layer, 2 query heads, 1 KV head, head_dim 2, tokens 0..11.
const float kVaseK[12][2] = {{1, 0}, {0, 1}, {1, 1}, {-1, 0}, {0, -1}, {2, 0}, {0, 2}, {1, -1},
                             {0.5f, 0.5f}, {-0.5f, 1}, {1, 0.5f}, {0, 0}};
const float kVaseV[12][2] = {{0, 0.1f}, {0, 3}, {1, 1.5f}, {0, 0.2f}, {2, -2}, {0, 0.3f}, {0.1f, 0}, {1, -5},
                             {0, 1}, {0, 1}, {0, 1}, {0, 1}};
// Window queries of positions 8..11: [pos - 8][head][dim]; earlier queries are zero.
const float kVaseQ[4][2][2] = {{{2, 0}, {0, 2}}, {{1, 1}, {2, -1}}, {{0, 3}, {-1, 0}}, {{1, 0}, {0, 1}}};

std::vector<float> vase_queries(int first, int n) {
  std::vector<float> q(size_t(n) * 4, 0.0f);
  for (int i = 0; i < n; ++i)
    if (first + i >= 8)
      for (int h = 0; h < 2; ++h)
        for (int e = 0; e < 2; ++e) q[size_t(i) * 4 + h * 2 + e] = kVaseQ[first + i - 8][h][e];
  return q;
}

// Prefill of tokens 0..10, then the decode step of token 11 (the eviction step: 12 % 4 == 0, 12 > 8).
std::unique_ptr<KvCache> run_vase_example(KvPolicy& policy) {
  KvCacheShape shape{1, 2, 1, 2};
  KvCacheOptions o;
  o.capacity = policy.capacity_for(11, 1);
  o.dtype = DType::F32;
  auto cache = std::make_unique<KvCache>(shape, o);
  policy.attach(*cache);
  std::vector<float> q = vase_queries(0, 11);
  hand_forward(policy, *cache, true, 0, 0, 11, q.data(), &kVaseK[0][0], &kVaseV[0][0]);
  hand_end_prefill(policy, 11);
  q = vase_queries(11, 1);
  hand_forward(policy, *cache, false, 1, 11, 1, q.data(), kVaseK[11], kVaseV[11]);
  return cache;
}

const double kVaseScores[8] = {0.06301040, 0.07566515, 0.08536779, 0.11023918,
                               0.14546894, 0.13698960, 0.12433485, 0.11463221};

}  // namespace

TC_TEST(vase_window_scores_match_the_oracle_and_pool_over_slot_order) {
  KvCacheShape shape{1, 2, 1, 2};
  KvCache cache(shape, {12, DType::F32, KvLayout::Gqa});
  std::vector<int32_t> pos(12);
  for (int i = 0; i < 12; ++i) pos[i] = i;
  cache.append(0, 12, &kVaseK[0][0], &kVaseV[0][0], pos.data());
  QueryWindow window;
  window.reset(1, 2, 2, 4);
  std::vector<float> q = vase_queries(0, 12);
  window.push(0, q.data(), 12, 0);
  TC_REQUIRE(window.count(0) == 4 && window.position(0, 0) == 8);
  ScoreScratch scratch;
  float s[8];
  vase_window_scores(cache, window, 0, 0, 8, 1.0f, 5, s, scratch);
  for (int i = 0; i < 8; ++i) TC_EXPECT_NEAR(s[i], kVaseScores[i], 1e-6);
  // Permute the candidate slots: the pool runs over the new slot order (spec §2.12.1).
  const int32_t perm[12] = {5, 2, 7, 0, 1, 6, 3, 4, 8, 9, 10, 11};
  cache.retain(0, 0, perm, 12);
  vase_window_scores(cache, window, 0, 0, 8, 1.0f, 5, s, scratch);
  const double permuted[8] = {0.08574822, 0.10339743, 0.12290514, 0.13512202,
                              0.12192328, 0.11425178, 0.09660257, 0.07709486};
  for (int i = 0; i < 8; ++i) TC_EXPECT_NEAR(s[i], permuted[i], 1e-6);
}

TC_TEST(vase_keeps_sinks_and_top_ranges_first_then_samples_in_proportion) {
  // budget 8, R = 4, n_large 3 with 1 sink: reserved = [sink 0, then ranges 6 (pos 7), 4 (pos 4)],
  // one more candidate is drawn from {1, 2, 3, 5, 6} with probability ∝ the smoothed score,
  // then the 4 recent tokens. Oracle draw probabilities (tools/oracles/policy_hand_examples.py):
  const int pool[5] = {1, 2, 3, 5, 6};
  const double expect[5] = {0.142068, 0.160286, 0.206984, 0.257211, 0.233450};
  const int runs = 4000;
  std::map<int, int> drawn;
  for (int seed = 0; seed < runs; ++seed) {
    auto policy = make_policy(
        policy_spec("vase", 8, 4, {{"n_large", "3"}, {"sinks", "1"}}, uint64_t(seed)), KvCacheShape{1, 2, 1, 2});
    auto cache = run_vase_example(*policy);
    std::vector<int> got = slot_positions(*cache, 0, 0);
    TC_REQUIRE(got.size() == 8u);
    TC_EXPECT(got[0] == 0 && got[1] == 7 && got[2] == 4);
    TC_EXPECT(got[4] == 8 && got[5] == 9 && got[6] == 10 && got[7] == 11);
    ++drawn[got[3]];
    if (seed == 0) {
      TC_EXPECT_EQ(policy->stats().evictions, int64_t(1));
      TC_EXPECT_EQ(policy->stats().slots_evicted, int64_t(4));
    }
  }
  int total = 0;
  for (int i = 0; i < 5; ++i) {
    double f = double(drawn[pool[i]]) / runs;
    total += drawn[pool[i]];
    TC_EXPECT_NEAR(f, expect[i], 5 * std::sqrt(expect[i] * (1 - expect[i]) / runs));
  }
  TC_EXPECT_EQ(total, runs);  // never a reserved or recent token
}

TC_TEST(vase_same_seed_same_choice) {
  std::vector<int> first;
  for (int rep = 0; rep < 2; ++rep) {
    auto policy = make_policy(policy_spec("vase", 8, 4, {{"n_large", "3"}, {"sinks", "1"}}, 77), KvCacheShape{1, 2, 1, 2});
    auto cache = run_vase_example(*policy);
    if (rep == 0) first = slot_positions(*cache, 0, 0);
    else TC_EXPECT(slot_positions(*cache, 0, 0) == first);
  }
}

TC_TEST(snapkv_decode_mode_takes_the_top_of_the_same_window_score) {
  // Top 4 of kVaseScores: slots 4, 5, 6, 7 (descending), no sinks, then the 4 recent.
  auto policy = make_policy(policy_spec("snapkv", 8, 4, {{"mode", "decode"}}), KvCacheShape{1, 2, 1, 2});
  auto cache = run_vase_example(*policy);
  TC_EXPECT(slot_positions(*cache, 0, 0) == (std::vector<int>{4, 5, 6, 7, 8, 9, 10, 11}));
}

namespace {

// The R-KV / SnapKV example: 1 layer, 2 query heads, 1 KV head, head_dim 3, a 10-token prompt;
// the window queries are positions 8 and 9.
const float kRkvK[10][3] = {{1, 0, 0}, {0.9f, 0.1f, 0}, {0, 1, 0}, {0, 0, 1}, {0.1f, 0.9f, 0.2f},
                            {-1, 0, 0}, {0, -1, 0.5f}, {1, 1, 1}, {0.5f, -0.5f, 0}, {0, 0.2f, 1}};
const float kRkvQ[2][2][3] = {{{1, 0.5f, 0}, {0, 1, -1}}, {{0.3f, 0.3f, 2}, {-1, 0, 1}}};

std::vector<float> rkv_queries() {  // [10][2][3]
  std::vector<float> q(60, 0.0f);
  for (int j = 0; j < 2; ++j)
    for (int h = 0; h < 2; ++h)
      for (int e = 0; e < 3; ++e) q[size_t(8 + j) * 6 + h * 3 + e] = kRkvQ[j][h][e];
  return q;
}

std::unique_ptr<KvCache> run_prompt(KvPolicy& policy) {
  KvCacheOptions o;
  o.capacity = policy.capacity_for(10, 0);
  o.dtype = DType::F32;
  o.layout = policy.layout();
  auto cache = std::make_unique<KvCache>(KvCacheShape{1, 2, 1, 3}, o);
  policy.attach(*cache);
  std::vector<float> q = rkv_queries();
  hand_forward(policy, *cache, true, 0, 0, 10, q.data(), &kRkvK[0][0], &kRkvK[0][0]);
  hand_end_prefill(policy, 10);
  return cache;
}

void fill_example_cache(KvCache& cache, QueryWindow& window) {
  std::vector<int32_t> pos(10);
  for (int i = 0; i < 10; ++i) pos[i] = i;
  cache.append(0, 10, &kRkvK[0][0], &kRkvK[0][0], pos.data());
  window.reset(1, 2, 3, 2);
  std::vector<float> q = rkv_queries();
  window.push(0, q.data(), 10, 0);
}

}  // namespace

TC_TEST(rkv_scores_match_the_oracle_with_and_without_the_index0_quirk) {
  KvCache cache(KvCacheShape{1, 2, 1, 3}, {10, DType::F32, KvLayout::Gqa});
  QueryWindow window;
  fill_example_cache(cache, window);
  ScoreScratch scratch;
  float z[8];
  RkvScoreParams p;
  rkv_scores(cache, window, 0, 0, 8, p, z, scratch);
  const double expect[8] = {-0.09571433, -0.08650078, -0.07461609, -0.09391319,
                            -0.07323430, -0.03766871, -0.05187609, -0.07120347};
  for (int i = 0; i < 8; ++i) TC_EXPECT_NEAR(z[i], expect[i], 1e-6);
  p.index0_quirk = false;
  rkv_scores(cache, window, 0, 0, 8, p, z, scratch);
  const double no_quirk[8] = {-0.08643080, -0.08768281, -0.07565848, -0.09518231,
                              -0.07437657, -0.03839313, -0.05276743, -0.07232188};
  for (int i = 0; i < 8; ++i) TC_EXPECT_NEAR(z[i], no_quirk[i], 1e-6);
}

TC_TEST(rkv_compresses_a_long_prompt_at_prefill_in_score_order) {
  auto policy = make_policy(policy_spec("rkv", 6, 2), KvCacheShape{1, 2, 1, 3});
  auto cache = run_prompt(*policy);
  TC_EXPECT(slot_positions(*cache, 0, 0) == (std::vector<int>{5, 6, 7, 4, 8, 9}));
  TC_EXPECT_EQ(policy->stats().evictions, int64_t(1));
}

TC_TEST(snapkv_prefill_scores_and_compression_match_the_oracle) {
  KvCache cache(KvCacheShape{1, 2, 1, 3}, {10, DType::F32, KvLayout::Gqa});
  QueryWindow window;
  fill_example_cache(cache, window);
  ScoreScratch scratch;
  float s[8];
  snapkv_prefill_scores(cache, window, 0, 0, 8, 5, false, s, scratch);
  const double expect[8] = {0.11947532, 0.16565213, 0.21039687, 0.20896259,
                            0.20173582, 0.21880813, 0.17263132, 0.12788658};
  for (int i = 0; i < 8; ++i) TC_EXPECT_NEAR(s[i], expect[i], 1e-6);

  auto policy = make_policy(policy_spec("snapkv", 6, 2), KvCacheShape{1, 2, 1, 3});
  auto compressed = run_prompt(*policy);
  TC_EXPECT(slot_positions(*compressed, 0, 0) == (std::vector<int>{5, 2, 3, 4, 8, 9}));
  // Prefill-only: decoding afterwards never evicts, the cache grows past the budget.
  TC_EXPECT_EQ(policy->capacity_for(10, 5), 11);
}

// LazyEviction: the spec's score table (§1.5), the TS/MRI recurrence (§1.2-1.4) on a
// hand-made run with values worked out by hand, the keep order, the GQA rule and the fp16
// state emulation.
#include <cmath>
#include <map>
#include <vector>

#include "kv/policies/lazy.h"
#include "kv/policy.h"
#include "kv/policy_test_util.h"
#include "util/testing.h"

using namespace tc;
using namespace tc::testing;

TC_TEST(lazy_score_code_form_matches_spec_table) {
  // eviction-methods.md §1.5 "Unit-test vectors, code formula": (M, Δ) -> I.
  struct Row { double m, delta, i; };
  const Row rows[] = {{2, 6, 0.5739}, {3, 2, 0.5561}, {3, 1, 0.6556}, {2, 0, 1.0758}, {1, 3, 1.0360}};
  for (const Row& r : rows) TC_EXPECT_NEAR(lazy_importance(LazyScoreForm::Code, r.delta, r.m), r.i, 1e-4);
  // M = 0 (never activated), Δ >= 1: I ≈ 0.
  for (double d : {1.0, 3.0, 100.0}) TC_EXPECT_NEAR(lazy_importance(LazyScoreForm::Code, d, 0), 0.0, 1e-9);
  // H1 alone at Δ = 0: 2σ(−1) = 0.5379; H2 at M = 1, 2, 3, 5 (§1.5 properties) via I − H1(Δ=0).
  TC_EXPECT_NEAR(lazy_importance(LazyScoreForm::Code, 0, 0), 0.5379, 1e-4);
  const double h2[][2] = {{1, 1.0}, {2, 0.538}, {3, 0.238}, {5, 0.036}};
  for (auto& m : h2) {
    double h1 = 2.0 / (1.0 + std::exp(1.0 + 0.0));
    TC_EXPECT_NEAR(lazy_importance(LazyScoreForm::Code, 0, m[0]) - h1, m[1], 1e-3);
  }
}

TC_TEST(lazy_score_paper_form_matches_figure_example) {
  // §1.5: framework figure panel (c), version (A) gives 0.633, 1.434, 1.590, 1.538, 0.095, 0.0.
  const double m[] = {2, 3, 3, 2, 1, 0}, d[] = {6, 2, 1, 0, 3, 3}, i[] = {0.633, 1.434, 1.590, 1.538, 0.095, 0.0};
  for (int k = 0; k < 6; ++k) TC_EXPECT_NEAR(lazy_importance(LazyScoreForm::Paper, d[k], m[k]), i[k], 1e-3);
}

namespace {

// 1 layer, 2 query heads sharing 1 KV head (or 2 store heads with heads=query), head_dim 2.
constexpr int kHeads = 2, kDim = 2;

struct LazyRun {
  std::unique_ptr<KvPolicy> policy;
  std::unique_ptr<KvCache> cache;
  int stride = 0;
  int ts = -1, mri = -1;

  LazyRun(int budget, int window, std::map<std::string, std::string> options, int prompt, int max_new) {
    KvCacheShape shape{1, kHeads, 1, kDim};
    policy = make_policy(policy_spec("lazy", budget, window, std::move(options)), shape);
    KvCacheOptions o;
    o.capacity = policy->capacity_for(prompt, max_new);
    o.dtype = DType::F32;
    o.layout = policy->layout();
    cache = std::make_unique<KvCache>(shape, o);
    policy->attach(*cache);
    stride = o.capacity;
    ts = cache->find_channel("lazy.ts");
    mri = cache->find_channel("lazy.mri");
  }

  void prefill(int n) {
    std::vector<float> q(size_t(n) * kHeads * kDim, 0.1f), kv(size_t(n) * kDim, 0.5f);
    hand_forward(*policy, *cache, true, 0, 0, n, q.data(), kv.data(), kv.data());
    hand_end_prefill(*policy, n);
  }

  // One decode step at position `pos`; active: {position -> query head whose probability is 0.5}
  // (every other probability is 0.01 < alpha).
  void step(int64_t t, int pos, const std::map<int, int>& active) {
    std::vector<float> q(size_t(kHeads) * kDim, 0.1f), kv(kDim, 0.5f);
    std::vector<float> probs(size_t(kHeads) * stride, 0.01f);
    // probs index slots after the append: the new token's slot is the current size.
    int n_after = cache->size(0, 0) + 1;
    for (int s = 0; s < n_after; ++s) {
      int p = s < n_after - 1 ? cache->positions(0, 0)[s] : pos;
      auto it = active.find(p);
      if (it != active.end()) probs[size_t(it->second) * stride + s] = 0.5f;
    }
    hand_forward(*policy, *cache, false, t, pos, 1, q.data(), kv.data(), kv.data(), probs.data(), nullptr, stride);
  }

  // {position -> (TS, MRI)} of store head h.
  std::map<int, std::pair<int, int>> state(int h = 0) const {
    std::map<int, std::pair<int, int>> out;
    for (int s = 0; s < cache->size(0, h); ++s)
      out[cache->positions(0, h)[s]] = {cache->channel_i32(ts, 0, h)[s], cache->channel_i32(mri, 0, h)[s]};
    return out;
  }
};

}  // namespace

TC_TEST(lazy_recurrence_state_and_evictions_follow_the_released_code) {
  // B = 5, W = 3, alpha = 0.1, prompt of 3 tokens (positions 0-2); decode tokens 3-8 at t = 1-6.
  // Worked by hand from §1.2-1.5 (Δ = t − TS, I from the code form):
  //  t=1 (pos 3, TS 0)  active {0 via head 0, 3 via head 1}: 0 -> (1,1), 3 -> (1,1)
  //  t=2 (pos 4, TS 1)  active {1, 4}: 1 -> (2,2), 4 -> (2,1)
  //  t=3 (pos 5, TS 2)  active {0, 5}: 0 -> (3,2), 5 -> (3,1); N = 6 > 5 and 3 % 3 == 0: evict.
  //     candidates pos 0,1,2 (the last 3 slots hold 3,4,5): I(0)=I(Δ0,M2)=1.0758,
  //     I(1)=I(Δ1,M2)=0.9027, I(2)=I(Δ3,M0)≈0 -> keep [0, 1] + [3, 4, 5]
  //  t=4 (pos 6, TS 3)  active {3, 6}: 3 -> (4,3), 6 -> (4,1)
  //  t=5 (pos 7, TS 4)  active {1}: 1 -> (5,3)
  //  t=6 (pos 8, TS 5)  active {4}: 4 -> (6,4); N = 8 > 5, 6 % 3 == 0: evict.
  //     slots [0,1,3,4,5,6,7,8]; candidates 0,1,3,4,5: I = 0.6896, 0.6556, 0.5561, 0.6327, 1.0360
  //     -> keep [5, 0] (descending I) + [6, 7, 8]
  LazyRun r(5, 3, {{"alpha", "0.1"}}, 3, 6);
  r.prefill(3);
  r.step(1, 3, {{0, 0}, {3, 1}});
  auto s = r.state();
  TC_EXPECT(s[0] == std::make_pair(1, 1));
  TC_EXPECT(s[3] == std::make_pair(1, 1));
  TC_EXPECT(s[1] == std::make_pair(0, 0));
  TC_EXPECT(s[2] == std::make_pair(0, 0));
  r.step(2, 4, {{1, 0}, {4, 1}});
  s = r.state();
  TC_EXPECT(s[1] == std::make_pair(2, 2));
  TC_EXPECT(s[4] == std::make_pair(2, 1));
  r.step(3, 5, {{0, 1}, {5, 0}});
  TC_EXPECT_EQ(r.policy->stats().evictions, int64_t(1));
  TC_EXPECT(slot_positions(*r.cache, 0, 0) == (std::vector<int>{0, 1, 3, 4, 5}));
  s = r.state();
  TC_EXPECT(s[0] == std::make_pair(3, 2));
  TC_EXPECT(s[5] == std::make_pair(3, 1));
  r.step(4, 6, {{3, 0}, {6, 1}});
  s = r.state();
  TC_EXPECT(s[3] == std::make_pair(4, 3));
  TC_EXPECT(s[6] == std::make_pair(4, 1));
  r.step(5, 7, {{1, 1}});
  TC_EXPECT_EQ(r.cache->size(0, 0), 7);  // 5 % 3 != 0: no eviction
  TC_EXPECT(r.state()[1] == std::make_pair(5, 3));
  r.step(6, 8, {{4, 0}});
  TC_EXPECT_EQ(r.policy->stats().evictions, int64_t(2));
  TC_EXPECT(slot_positions(*r.cache, 0, 0) == (std::vector<int>{5, 0, 6, 7, 8}));
  s = r.state();
  TC_EXPECT(s[5] == std::make_pair(3, 1));
  TC_EXPECT(s[0] == std::make_pair(3, 2));
  TC_EXPECT(s[6] == std::make_pair(4, 1));
  TC_EXPECT(s[7] == std::make_pair(4, 0));
  TC_EXPECT(s[8] == std::make_pair(5, 0));
  TC_EXPECT_EQ(r.policy->stats().slots_evicted, int64_t(1 + 3));
  TC_EXPECT_EQ(r.policy->stats().peak_tokens, int64_t(8));
}

TC_TEST(lazy_paper_score_option_changes_the_choice) {
  // Same run as above with score=paper: at t=6 the paper form gives
  // I(0: Δ3,M2) = 2σ(−1.5)+2σ(−1) = 0.9027, I(1: Δ1,M3) = 2σ(−1/3)+2σ(−1/2) = 1.5899,
  // I(3: Δ2,M3) = 2σ(−2/3)+2σ(−1/2) = 1.4335, I(4: Δ0,M4) = 1+2σ(−1/3) = 1.8349, I(5: Δ3,M1) = 2σ(−3) = 0.0949
  // -> keep [4, 1] + [6, 7, 8]. (At t=3: I(0: Δ0,M2) = 1.5379, I(1: Δ1,M2) = 2σ(−1/2)+2σ(−1) = 1.2930.)
  LazyRun r(5, 3, {{"alpha", "0.1"}, {"score", "paper"}}, 3, 6);
  r.prefill(3);
  r.step(1, 3, {{0, 0}, {3, 1}});
  r.step(2, 4, {{1, 0}, {4, 1}});
  r.step(3, 5, {{0, 1}, {5, 0}});
  TC_EXPECT(slot_positions(*r.cache, 0, 0) == (std::vector<int>{0, 1, 3, 4, 5}));
  r.step(4, 6, {{3, 0}, {6, 1}});
  r.step(5, 7, {{1, 1}});
  r.step(6, 8, {{4, 0}});
  TC_EXPECT(slot_positions(*r.cache, 0, 0) == (std::vector<int>{4, 1, 6, 7, 8}));
}

TC_TEST(lazy_gqa_rule_versus_per_query_head_layout) {
  // Native GQA: a token is active for the KV head when ANY query head of the group is >= alpha.
  // heads=query: each query head has its own copy and its own state (the released code).
  LazyRun gqa(5, 3, {{"alpha", "0.1"}}, 3, 6);
  TC_EXPECT_EQ(gqa.cache->n_store_heads(), 1);
  gqa.prefill(3);
  gqa.step(1, 3, {{0, 0}, {2, 1}});
  auto s = gqa.state(0);
  TC_EXPECT(s[0] == std::make_pair(1, 1));
  TC_EXPECT(s[2] == std::make_pair(1, 1));

  LazyRun per(5, 3, {{"alpha", "0.1"}, {"heads", "query"}}, 3, 6);
  TC_EXPECT(per.policy->layout() == KvLayout::PerQueryHead);
  TC_EXPECT_EQ(per.cache->n_store_heads(), 2);
  per.prefill(3);
  per.step(1, 3, {{0, 0}, {2, 1}});
  auto h0 = per.state(0), h1 = per.state(1);
  TC_EXPECT(h0[0] == std::make_pair(1, 1));
  TC_EXPECT(h0[2] == std::make_pair(0, 0));
  TC_EXPECT(h1[0] == std::make_pair(0, 0));
  TC_EXPECT(h1[2] == std::make_pair(1, 1));
}

TC_TEST(lazy_fp16_state_rounds_steps_like_the_released_code) {
  // fp16 holds integers exactly only up to 2048; 2049 rounds to 2048 (ties to even), 4099 to 4100.
  for (const char* mode : {"int32", "fp16"}) {
    LazyRun r(5, 3, {{"alpha", "0.1"}, {"state", mode}}, 3, 6);
    r.prefill(3);
    r.step(2049, 3, {{0, 0}});
    bool f16 = std::string(mode) == "fp16";
    auto s = r.state();
    TC_EXPECT(s[0] == (f16 ? std::make_pair(2048, 2048) : std::make_pair(2049, 2049)));
    // The new token at t = 2049 enters with TS = t − 1 = 2048 (exact in both).
    TC_EXPECT_EQ(s[3].first, 2048);
    r.step(4099, 4, {{0, 0}});
    s = r.state();
    // int32: MRI = max(2049, 4099 − 2049 = 2050); fp16: TS = 4100, gap 4100 − 2048 = 2052.
    TC_EXPECT(s[0] == (f16 ? std::make_pair(4100, 2052) : std::make_pair(4099, 2050)));
  }
}

TC_TEST(lazy_trigger_fires_only_at_multiples_of_w_when_over_budget) {
  // Prompt of 10 > B = 6 with W = 4: the prompt is kept whole at prefill and the first
  // eviction waits for t = 4 (N = 14), then every 4 steps; sizes peak at B + W.
  LazyRun r(6, 4, {{"alpha", "0.1"}}, 10, 20);
  r.prefill(10);
  TC_EXPECT_EQ(r.cache->size(0, 0), 10);
  TC_EXPECT_EQ(r.cache->capacity(), 14);
  for (int t = 1; t <= 20; ++t) {
    int64_t before = r.policy->stats().evictions;
    r.step(t, 9 + t, {});
    bool fired = r.policy->stats().evictions > before;
    TC_EXPECT_EQ(fired, t % 4 == 0);
    if (fired) TC_EXPECT_EQ(r.cache->size(0, 0), 6);
  }
}

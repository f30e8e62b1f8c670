// The every-step policies (H2O, TOVA, StreamingLLM) and the CUR-projection policies
// (VaSE-DKV, CurDKV) on hand-made caches; expected outcomes worked out by hand.
#include <map>
#include <set>
#include <vector>

#include "kv/policy.h"
#include "kv/policy_test_util.h"
#include "util/testing.h"

using namespace tc;
using namespace tc::testing;

namespace {

std::unique_ptr<KvCache> attach_cache(KvPolicy& p, const KvCacheShape& shape, int prompt, int max_new) {
  KvCacheOptions o;
  o.capacity = p.capacity_for(prompt, max_new);
  o.dtype = DType::F32;
  o.layout = p.layout();
  auto c = std::make_unique<KvCache>(shape, o);
  p.attach(*c);
  return c;
}

std::set<int> position_set(const KvCache& c, int layer, int head) {
  auto v = slot_positions(c, layer, head);
  return std::set<int>(v.begin(), v.end());
}

}  // namespace

TC_TEST(h2o_accumulates_attention_and_drops_the_lightest_old_token) {
  // budget 4 = 2 heavy + 2 recent; 2 query heads share 1 KV head (sums over the group).
  KvCacheShape shape{1, 2, 1, 2};
  auto p = make_policy(policy_spec("h2o", 4, 2), shape);
  TC_EXPECT(p->needs().prob_colsum);
  auto c = attach_cache(*p, shape, 4, 2);
  const int st = c->capacity();
  std::vector<float> q(4 * 2 * 2, 0.0f), kv(4 * 2, 1.0f);
  // Prefill column sums: head 0 [1.0 .2 .5 .3], head 1 [.5 .1 .1 .3] -> acc [1.5 .3 .6 .6].
  std::vector<float> col(2 * st, 0.0f);
  const float h0[] = {1.0f, 0.2f, 0.5f, 0.3f}, h1[] = {0.5f, 0.1f, 0.1f, 0.3f};
  for (int s = 0; s < 4; ++s) col[s] = h0[s], col[st + s] = h1[s];
  hand_forward(*p, *c, true, 0, 0, 4, q.data(), kv.data(), kv.data(), nullptr, col.data(), st);
  hand_end_prefill(*p, 4);
  TC_EXPECT_EQ(c->size(0, 0), 4);  // not over budget
  // t=1, token 4: head 0 [.1 .5 0 .1 .3], head 1 [.1 .1 0 .1 .7] -> acc [1.7 .9 .6 .8 1.0];
  // recent {3, 4}; the lightest of {0, 1, 2} is 2.
  std::fill(col.begin(), col.end(), 0.0f);
  const float a0[] = {0.1f, 0.5f, 0.0f, 0.1f, 0.3f}, a1[] = {0.1f, 0.1f, 0.0f, 0.1f, 0.7f};
  for (int s = 0; s < 5; ++s) col[s] = a0[s], col[st + s] = a1[s];
  hand_forward(*p, *c, false, 1, 4, 1, q.data(), kv.data(), kv.data(), nullptr, col.data(), st);
  TC_EXPECT(position_set(*c, 0, 0) == (std::set<int>{0, 1, 3, 4}));
  // Hole filling moved token 4 into slot 2: slots [0, 1, 4, 3].
  TC_EXPECT(slot_positions(*c, 0, 0) == (std::vector<int>{0, 1, 4, 3}));
  // t=2, token 5 at slot 4; by slot: head 0 [0 0 .2 .5 .3], head 1 [0 0 0 .5 .5]
  // -> acc by position {0: 1.7, 1: .9, 4: 1.2, 3: 1.8, 5: .8}; recent {4, 5}; drop 1.
  std::fill(col.begin(), col.end(), 0.0f);
  const float b0[] = {0, 0, 0.2f, 0.5f, 0.3f}, b1[] = {0, 0, 0, 0.5f, 0.5f};
  for (int s = 0; s < 5; ++s) col[s] = b0[s], col[st + s] = b1[s];
  hand_forward(*p, *c, false, 2, 5, 1, q.data(), kv.data(), kv.data(), nullptr, col.data(), st);
  TC_EXPECT(position_set(*c, 0, 0) == (std::set<int>{0, 3, 4, 5}));
  int acc = c->find_channel("h2o.acc");
  std::map<int, float> by_pos;
  for (int s = 0; s < 4; ++s) by_pos[c->positions(0, 0)[s]] = c->channel_f32(acc, 0, 0)[s];
  TC_EXPECT_NEAR(by_pos[0], 1.7, 1e-6);
  TC_EXPECT_NEAR(by_pos[3], 1.8, 1e-6);
  TC_EXPECT_NEAR(by_pos[4], 1.2, 1e-6);
  TC_EXPECT_NEAR(by_pos[5], 0.8, 1e-6);
  TC_EXPECT_EQ(p->stats().evictions, int64_t(2));
  TC_EXPECT_EQ(p->stats().slots_evicted, int64_t(2));
}

TC_TEST(h2o_per_query_head_layout_decides_per_head) {
  // heads=query: head 0 acc [1.1 .7 .5 .4 .3] drops 2; head 1 acc [.6 .1 .4 .4 .5] drops 1.
  KvCacheShape shape{1, 2, 1, 2};
  auto p = make_policy(policy_spec("h2o", 4, 2, {{"heads", "query"}}), shape);
  auto c = attach_cache(*p, shape, 4, 1);
  TC_REQUIRE(c->n_store_heads() == 2);
  const int st = c->capacity();
  std::vector<float> q(16, 0.0f), kv(8, 1.0f), col(2 * st, 0.0f);
  const float h0[] = {1.0f, 0.2f, 0.5f, 0.3f}, h1[] = {0.5f, 0.1f, 0.1f, 0.3f};
  for (int s = 0; s < 4; ++s) col[s] = h0[s], col[st + s] = h1[s];
  hand_forward(*p, *c, true, 0, 0, 4, q.data(), kv.data(), kv.data(), nullptr, col.data(), st);
  hand_end_prefill(*p, 4);
  std::fill(col.begin(), col.end(), 0.0f);
  const float a0[] = {0.1f, 0.5f, 0.0f, 0.1f, 0.3f}, a1[] = {0.1f, 0.0f, 0.3f, 0.1f, 0.5f};
  for (int s = 0; s < 5; ++s) col[s] = a0[s], col[st + s] = a1[s];
  hand_forward(*p, *c, false, 1, 4, 1, q.data(), kv.data(), kv.data(), nullptr, col.data(), st);
  TC_EXPECT(position_set(*c, 0, 0) == (std::set<int>{0, 1, 3, 4}));
  TC_EXPECT(position_set(*c, 0, 1) == (std::set<int>{0, 2, 3, 4}));
}

TC_TEST(tova_drops_the_lowest_head_mean_per_layer_never_the_current_token) {
  // 4 query heads, 2 KV heads; budget 3.
  KvCacheShape shape{1, 4, 2, 2};
  auto p = make_policy(policy_spec("tova", 3), shape);
  auto c = attach_cache(*p, shape, 3, 2);
  const int st = c->capacity();
  std::vector<float> q(3 * 4 * 2, 0.0f), kv(3 * 2 * 2, 1.0f);
  hand_forward(*p, *c, true, 0, 0, 3, q.data(), kv.data(), kv.data());  // no probabilities at prefill
  hand_end_prefill(*p, 3);
  // t=1: per head [.1 .2 .3 .4], [.4 .1 .1 .4], [.1 .1 .7 .1], [.3 .3 .3 .1] -> mean [.225 .175 .35 .25]: drop 1.
  std::vector<float> probs(4 * st, 0.0f);
  const float ph[4][4] = {{.1f, .2f, .3f, .4f}, {.4f, .1f, .1f, .4f}, {.1f, .1f, .7f, .1f}, {.3f, .3f, .3f, .1f}};
  for (int h = 0; h < 4; ++h)
    for (int s = 0; s < 4; ++s) probs[h * st + s] = ph[h][s];
  hand_forward(*p, *c, false, 1, 3, 1, q.data(), kv.data(), kv.data(), probs.data(), nullptr, st);
  for (int h = 0; h < 2; ++h) TC_EXPECT(position_set(*c, 0, h) == (std::set<int>{0, 2, 3}));
  // t=2: slots [0, 3, 2, 4]; every head [.3 .3 .39 .01]: the current token (slot 3) is lowest
  // but protected; slots 0 and 1 tie at .3 -> the older position (0) goes.
  std::fill(probs.begin(), probs.end(), 0.0f);
  const float pt[] = {.3f, .3f, .39f, .01f};
  for (int h = 0; h < 4; ++h)
    for (int s = 0; s < 4; ++s) probs[h * st + s] = pt[s];
  hand_forward(*p, *c, false, 2, 4, 1, q.data(), kv.data(), kv.data(), probs.data(), nullptr, st);
  for (int h = 0; h < 2; ++h) TC_EXPECT(position_set(*c, 0, h) == (std::set<int>{2, 3, 4}));
}

TC_TEST(tova_compresses_a_long_prompt_with_the_last_prompt_query) {
  KvCacheShape shape{1, 2, 1, 2};
  auto p = make_policy(policy_spec("tova", 3), shape);
  auto c = attach_cache(*p, shape, 5, 1);
  const int st = c->capacity();
  std::vector<float> q(5 * 2 * 2, 0.0f), kv(5 * 2, 1.0f), probs(2 * st, 0.0f);
  const float pr[] = {.3f, .05f, .4f, .1f, .15f};
  for (int h = 0; h < 2; ++h)
    for (int s = 0; s < 5; ++s) probs[h * st + s] = pr[s];
  hand_forward(*p, *c, true, 0, 0, 5, q.data(), kv.data(), kv.data(), probs.data(), nullptr, st);
  hand_end_prefill(*p, 5);
  TC_EXPECT(position_set(*c, 0, 0) == (std::set<int>{0, 2, 4}));
  TC_EXPECT_EQ(p->stats().evictions, int64_t(1));
}

TC_TEST(streaming_keeps_sinks_and_the_recent_tokens) {
  KvCacheShape shape{2, 2, 1, 2};
  auto p = make_policy(policy_spec("streaming", 5, -1, {{"sinks", "2"}}), shape);
  auto c = attach_cache(*p, shape, 8, 3);
  TC_EXPECT_EQ(c->capacity(), 9);
  std::vector<float> q(8 * 2 * 2, 0.0f), kv(8 * 2, 1.0f);
  hand_forward(*p, *c, true, 0, 0, 8, q.data(), kv.data(), kv.data());
  hand_end_prefill(*p, 8);
  for (int l = 0; l < 2; ++l) TC_EXPECT(position_set(*c, l, 0) == (std::set<int>{0, 1, 5, 6, 7}));
  for (int t = 1; t <= 3; ++t) {
    hand_forward(*p, *c, false, t, 7 + t, 1, q.data(), kv.data(), kv.data());
    std::set<int> expect = {0, 1, 5 + t, 6 + t, 7 + t};
    for (int l = 0; l < 2; ++l) TC_EXPECT(position_set(*c, l, 0) == expect);
  }
}

namespace {

// Tokens whose keys and values are scale·u for a direction u; 12 tokens, evicted at 12.
void dkv_example(KvPolicy& p, KvCache*& out, std::unique_ptr<KvCache>& holder) {
  KvCacheShape shape{1, 2, 1, 4};
  holder = attach_cache(p, shape, 11, 1);
  out = holder.get();
  const float scale[12] = {1, 0, 10, 0.1f, 5, 0.2f, 3, 0.3f, 1, 1, 1, 1};
  const float dir[12][4] = {{1, 0, 0, 0}, {0, 1, 0, 0}, {0.5f, 0.5f, 0.5f, 0.5f}, {0, 0, 1, 0}, {0, 0, 0, 1},
                            {0.6f, 0, 0.8f, 0}, {0, 0.6f, 0, 0.8f}, {0.8f, 0, 0, 0.6f}, {1, 0, 0, 0},
                            {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}};
  std::vector<float> kv(12 * 4);
  for (int t = 0; t < 12; ++t)
    for (int e = 0; e < 4; ++e) kv[t * 4 + e] = scale[t] * dir[t][e];
  std::vector<float> q(12 * 2 * 4, 0.0f);
  hand_forward(p, *out, true, 0, 0, 11, q.data(), kv.data(), kv.data());
  hand_end_prefill(p, 11);
  hand_forward(p, *out, false, 1, 11, 1, q.data(), kv.data() + 11 * 4, kv.data() + 11 * 4);
}

}  // namespace

TC_TEST(cur_projection_policies_keep_sinks_then_the_largest_leverage) {
  // Candidates 0..7 with k = v = scale·u: ‖kG‖²‖vG‖² ∝ scale⁴, so whatever G is drawn the
  // top 3 non-sink candidates are positions 2 (10), 4 (5), 6 (3) and position 1 (k = 0) is last.
  for (const char* name : {"vase-dkv", "curdkv"}) {
    for (uint64_t seed : {1u, 2u, 3u}) {
      auto p = make_policy(policy_spec(name, 8, 4, {{"sinks", "1"}}, seed), KvCacheShape{1, 2, 1, 4});
      KvCache* c = nullptr;
      std::unique_ptr<KvCache> holder;
      dkv_example(*p, c, holder);
      TC_EXPECT(slot_positions(*c, 0, 0) == (std::vector<int>{0, 2, 4, 6, 8, 9, 10, 11}));
    }
  }
}

TC_TEST(curdkv_reuses_its_projection_while_vase_dkv_redraws_it) {
  // Two equal-norm directions a, b alternate. With one fixed G one of them always scores
  // higher, so every eviction keeps a majority of the same direction; a fresh G per eviction
  // flips the preference about half the time. budget 8, R 4, 1 sink: 3 candidates kept.
  const float a[4] = {1, 0, 0, 0}, b[4] = {0, 0.6f, 0.8f, 0};
  for (const char* name : {"curdkv", "vase-dkv"}) {
    auto p = make_policy(policy_spec(name, 8, 4, {{"sinks", "1"}}, 5), KvCacheShape{1, 2, 1, 4});
    auto c = attach_cache(*p, KvCacheShape{1, 2, 1, 4}, 8, 4 * 12);
    std::vector<float> q(2 * 4, 0.0f);
    std::set<char> preferred;
    int evictions = 0;
    for (int pos = 0; pos < 8 + 4 * 12; ++pos) {
      const float* kv = pos % 2 ? b : a;
      bool prefill = pos < 8;
      hand_forward(*p, *c, prefill, prefill ? 0 : pos - 7, pos, 1, q.data(), kv, kv);
      if (pos == 7) hand_end_prefill(*p, 8);
      if (p->stats().evictions == evictions) continue;
      evictions = int(p->stats().evictions);
      int n_a = 0;
      for (int s = 1; s < 4; ++s) n_a += c->positions(0, 0)[s] % 2 == 0;
      preferred.insert(n_a >= 2 ? 'a' : 'b');
    }
    TC_EXPECT_EQ(evictions, 12);
    if (std::string(name) == "curdkv")
      TC_EXPECT_EQ(preferred.size(), size_t(1));
    else
      TC_EXPECT_EQ(preferred.size(), size_t(2));
  }
}

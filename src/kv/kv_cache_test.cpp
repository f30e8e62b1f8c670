#include "kv/kv_cache.h"

#include <algorithm>
#include <vector>

#include "util/error.h"
#include "util/rng.h"
#include "util/testing.h"

using namespace tc;

namespace {
// k for token t, kv head g, dim d: a distinct value per (t, g, d).
float k_value(int t, int g, int d) { return float(t * 100 + g * 10 + d) * 0.5f; }
float v_value(int t, int g, int d) { return -float(t * 100 + g * 10 + d) * 0.25f; }

void append_tokens(KvCache& c, int layer, int first, int n) {
  const auto& s = c.shape();
  std::vector<float> k(size_t(n) * s.n_kv_heads * s.head_dim), v(k.size());
  std::vector<int32_t> pos(n);
  for (int t = 0; t < n; ++t) {
    pos[t] = first + t;
    for (int g = 0; g < s.n_kv_heads; ++g)
      for (int d = 0; d < s.head_dim; ++d) {
        k[(size_t(t) * s.n_kv_heads + g) * s.head_dim + d] = k_value(first + t, g, d);
        v[(size_t(t) * s.n_kv_heads + g) * s.head_dim + d] = v_value(first + t, g, d);
      }
  }
  c.append(layer, n, k.data(), v.data(), pos.data());
}

// Every live slot holds exactly the K/V written for its recorded position.
bool slots_consistent(const KvCache& c, int layer, int head) {
  std::vector<float> k(c.head_dim()), v(c.head_dim());
  int g = c.kv_head_of_store(head);
  for (int s = 0; s < c.size(layer, head); ++s) {
    int t = c.positions(layer, head)[s];
    c.read_k(layer, head, s, k.data());
    c.read_v(layer, head, s, v.data());
    for (int d = 0; d < c.head_dim(); ++d)
      if (k[d] != k_value(t, g, d) || v[d] != v_value(t, g, d)) return false;
  }
  return true;
}
}  // namespace

TC_TEST(kv_cache_append_and_read_back_exact_in_f32) {
  KvCache c({2, 4, 2, 8}, {16, DType::F32, KvLayout::Gqa});
  TC_EXPECT_EQ(c.n_store_heads(), 2);
  append_tokens(c, 0, 0, 5);
  TC_EXPECT_EQ(c.size(0, 0), 5);
  TC_EXPECT_EQ(c.size(1, 0), 0);
  TC_EXPECT(slots_consistent(c, 0, 0));
  TC_EXPECT(slots_consistent(c, 0, 1));
  TC_EXPECT_EQ(c.kv_bytes_allocated(), size_t(2 * 2 * 2 * 16 * 8 * 4));
  TC_EXPECT_EQ(c.kv_bytes_per_token(), size_t(2 * 2 * 2 * 8 * 4));
}

TC_TEST(kv_cache_per_query_head_layout_copies_groups) {
  KvCache c({1, 6, 2, 4}, {8, DType::F32, KvLayout::PerQueryHead});
  TC_EXPECT_EQ(c.n_store_heads(), 6);
  TC_EXPECT_EQ(c.queries_per_store_head(), 1);
  TC_EXPECT_EQ(c.kv_head_of_store(2), 0);
  TC_EXPECT_EQ(c.kv_head_of_store(3), 1);
  append_tokens(c, 0, 0, 3);
  for (int h = 0; h < 6; ++h) TC_EXPECT(slots_consistent(c, 0, h));
}

TC_TEST(kv_cache_retain_gathers_in_order_with_channels) {
  KvCache c({1, 2, 1, 4}, {10, DType::F32, KvLayout::Gqa});
  int ch = c.add_channel("score", KvCache::ChannelType::F32);
  append_tokens(c, 0, 0, 8);
  float* sc = c.channel_f32(ch, 0, 0);
  for (int s = 0; s < 8; ++s) sc[s] = float(s) * 1.5f;
  std::vector<int32_t> keep = {6, 1, 3};
  c.retain(0, 0, keep.data(), 3);
  TC_EXPECT_EQ(c.size(0, 0), 3);
  TC_EXPECT_EQ(c.positions(0, 0)[0], 6);
  TC_EXPECT_EQ(c.positions(0, 0)[1], 1);
  TC_EXPECT_EQ(c.positions(0, 0)[2], 3);
  TC_EXPECT_NEAR(c.channel_f32(ch, 0, 0)[0], 9.0, 0);
  TC_EXPECT_NEAR(c.channel_f32(ch, 0, 0)[2], 4.5, 0);
  TC_EXPECT(slots_consistent(c, 0, 0));
  TC_EXPECT_EQ(c.slots_evicted(), 5);
  // The freed slots are reused by the next append, and new slots start with zero state.
  append_tokens(c, 0, 8, 2);
  TC_EXPECT_EQ(c.size(0, 0), 5);
  TC_EXPECT_EQ(c.positions(0, 0)[4], 9);
  TC_EXPECT_NEAR(c.channel_f32(ch, 0, 0)[3], 0.0, 0);
  TC_EXPECT(slots_consistent(c, 0, 0));
}

TC_TEST(kv_cache_remove_fills_holes_and_keeps_bytes) {
  Rng rng(7);
  KvCache c({1, 3, 3, 8}, {64, DType::F32, KvLayout::Gqa});
  // f16-exact values: small integers times 0.5 / 0.25 are representable.
  append_tokens(c, 0, 0, 40);
  int next = 40;
  for (int round = 0; round < 50; ++round) {
    for (int h = 0; h < 3; ++h) {
      int sz = c.size(0, h);
      std::vector<int32_t> all(sz);
      for (int s = 0; s < sz; ++s) all[s] = s;
      int n_drop = int(rng.below(uint64_t(sz / 2 + 1)));
      for (int i = 0; i < n_drop; ++i) std::swap(all[i], all[i + rng.below(uint64_t(sz - i))]);
      std::vector<int32_t> before(c.positions(0, h), c.positions(0, h) + sz);
      std::vector<int> expect_pos;
      std::vector<char> dropped(sz, 0);
      for (int i = 0; i < n_drop; ++i) dropped[all[i]] = 1;
      for (int s = 0; s < sz; ++s)
        if (!dropped[s]) expect_pos.push_back(before[s]);
      c.remove(0, h, all.data(), n_drop);
      TC_REQUIRE(c.size(0, h) == sz - n_drop);
      std::vector<int> got(c.positions(0, h), c.positions(0, h) + c.size(0, h));
      std::sort(got.begin(), got.end());
      std::sort(expect_pos.begin(), expect_pos.end());
      TC_EXPECT(got == expect_pos);
      TC_EXPECT(slots_consistent(c, 0, h));
    }
    int room = c.capacity() - c.max_size();
    int n = std::min(room, 1 + int(rng.below(10)));
    append_tokens(c, 0, next, n);
    next += n;
    for (int h = 0; h < 3; ++h) TC_EXPECT(slots_consistent(c, 0, h));
  }
}

TC_TEST(kv_cache_rejects_bad_requests) {
  TC_EXPECT_THROWS(KvCache({1, 3, 2, 4}, {8, DType::F32, KvLayout::Gqa}), "not a multiple");
  TC_EXPECT_THROWS(KvCache({1, 2, 2, 4}, {0, DType::F32, KvLayout::Gqa}), "capacity");
  TC_EXPECT_THROWS(KvCache({1, 2, 2, 4}, {8, DType::Q8_0, KvLayout::Gqa}), "dtype");
  KvCache c({1, 2, 2, 4}, {4, DType::F32, KvLayout::Gqa});
  append_tokens(c, 0, 0, 4);
  TC_EXPECT_THROWS(append_tokens(c, 0, 4, 1), "KV cache full");
  std::vector<int32_t> dup = {1, 1};
  TC_EXPECT_THROWS(c.retain(0, 0, dup.data(), 2), "listed twice");
  std::vector<int32_t> out = {9};
  TC_EXPECT_THROWS(c.remove(0, 0, out.data(), 1), "out of range");
}

TC_TEST(kv_cache_f16_and_bf16_rows_round_to_nearest) {
  for (DType dt : {DType::F16, DType::BF16}) {
    KvCache c({1, 1, 1, 4}, {2, dt, KvLayout::Gqa});
    float k[4] = {1.0f, -2.5f, 1e-3f, 300.25f}, v[4] = {0.1f, 0.2f, -0.3f, 4096.5f};
    int32_t pos = 0;
    c.append(0, 1, k, v, &pos);
    float out[4];
    c.read_k(0, 0, 0, out);
    double rel = dt == DType::F16 ? 1.0 / 2048 : 1.0 / 256;
    for (int d = 0; d < 4; ++d) TC_EXPECT_NEAR(out[d], k[d], std::fabs(k[d]) * rel);
    c.read_v(0, 0, 0, out);
    for (int d = 0; d < 4; ++d) TC_EXPECT_NEAR(out[d], v[d], std::fabs(v[d]) * rel);
  }
}

#include "kv/policy.h"

TC_TEST(policy_registry_knows_full_and_rejects_unknown_names) {
  KvCacheShape shape{2, 4, 2, 8};
  PolicySpec spec;
  spec.name = "full";
  auto p = make_policy(spec, shape);
  TC_EXPECT_EQ(p->name(), std::string("full"));
  TC_EXPECT_EQ(p->capacity_for(10, 20), 30);
  spec.name = "no-such-policy";
  TC_EXPECT_THROWS(make_policy(spec, shape), "unknown KV policy \"no-such-policy\"");
  spec.name = "full";
  spec.options["bogus"] = "1";
  TC_EXPECT_THROWS(make_policy(spec, shape), "has no option \"bogus\"");
}

// The analysis observer: recurrence tracking agrees with LazyEviction's own state, summaries
// follow hand-made activity patterns, value-range statistics match a direct computation,
// and wrapping a policy does not change what it does.
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "kv/kv_observer.h"
#include "kv/policy.h"
#include "kv/policy_driver_test_util.h"
#include "kv/policy_score_ops.h"
#include "kv/policy_test_util.h"
#include "util/testing.h"

using namespace tc;
using namespace tc::testing;

namespace {
const KvCacheShape kShape{2, 4, 2, 16};

DriverSpec driver_spec(int prompt, int steps) {
  DriverSpec ds;
  ds.shape = kShape;
  ds.prompt_tokens = prompt;
  ds.max_new_tokens = steps;
  ds.prefill_chunk = 16;
  ds.value_outlier_rate = 0.05;
  ds.value_outlier_gain = 10.0f;
  return ds;
}
}  // namespace

TC_TEST(observer_recurrence_equals_lazy_eviction_state_per_query_head) {
  // Without eviction, LazyEviction with one K/V copy per query head (heads=query) holds in its
  // channels exactly the TS/MRI the observer tracks per (layer, query head, token).
  const int prompt = 30, steps = 200;
  ObserverOptions oo;
  oo.alpha = 0.02;
  PolicyDriver obs(driver_spec(prompt, steps),
                   std::make_unique<KvObserver>(make_policy(policy_spec("full", 0), kShape), oo));
  PolicyDriver lazy(driver_spec(prompt, steps),
                    make_policy(policy_spec("lazy", 1000, 16, {{"alpha", "0.02"}, {"heads", "query"}}), kShape));
  obs.prefill();
  lazy.prefill();
  for (int t = 0; t < steps; ++t) {
    obs.decode();
    lazy.decode();
  }
  auto& o = static_cast<KvObserver&>(obs.policy());
  const KvCache& c = lazy.cache();
  const int ts = c.find_channel("lazy.ts"), mri = c.find_channel("lazy.mri");
  int mismatches = 0, recurring = 0;
  for (int l = 0; l < kShape.n_layers; ++l)
    for (int h = 0; h < kShape.n_heads; ++h)
      for (int s = 0; s < c.size(l, h); ++s) {
        const int pos = c.positions(l, h)[s];
        mismatches += o.mri(l, h, pos) != c.channel_i32(mri, l, h)[s];
        mismatches += o.last_active(l, h, pos) != c.channel_i32(ts, l, h)[s];
        recurring += o.mri(l, h, pos) >= 2;
      }
  TC_EXPECT_EQ(mismatches, 0);
  TC_EXPECT(recurring > 100);  // the run has real recurrences to compare
}

TC_TEST(observer_per_kv_head_equals_lazy_eviction_native_gqa_state) {
  // Tracking per KV head (a token is active when any query head of its group has p >= alpha)
  // is what `lazy` keeps in its channels with the default native GQA cache (heads=kv).
  const int prompt = 30, steps = 200;
  ObserverOptions oo;
  oo.alpha = 0.02;
  oo.per_kv_head = true;
  PolicyDriver obs(driver_spec(prompt, steps),
                   std::make_unique<KvObserver>(make_policy(policy_spec("full", 0), kShape), oo));
  PolicyDriver lazy(driver_spec(prompt, steps), make_policy(policy_spec("lazy", 1000, 16, {{"alpha", "0.02"}}), kShape));
  obs.prefill();
  lazy.prefill();
  for (int t = 0; t < steps; ++t) {
    obs.decode();
    lazy.decode();
  }
  auto& o = static_cast<KvObserver&>(obs.policy());
  TC_EXPECT_EQ(o.tracked_heads(), kShape.n_kv_heads);
  const KvCache& c = lazy.cache();
  TC_REQUIRE(c.n_store_heads() == kShape.n_kv_heads);
  const int ts = c.find_channel("lazy.ts"), mri = c.find_channel("lazy.mri");
  int mismatches = 0, recurring = 0;
  for (int l = 0; l < kShape.n_layers; ++l)
    for (int g = 0; g < kShape.n_kv_heads; ++g)
      for (int s = 0; s < c.size(l, g); ++s) {
        const int pos = c.positions(l, g)[s];
        mismatches += o.mri(l, g, pos) != c.channel_i32(mri, l, g)[s];
        mismatches += o.last_active(l, g, pos) != c.channel_i32(ts, l, g)[s];
        recurring += o.mri(l, g, pos) >= 2;
      }
  TC_EXPECT_EQ(mismatches, 0);
  TC_EXPECT(recurring > 50);
  // The tables hold the same numbers: [layer][head][position].
  const std::vector<int32_t> table = o.mri_table(), ts_table = o.ts_table();
  const int64_t n = o.table_positions();
  TC_EXPECT_EQ(n, int64_t(prompt + steps));
  TC_REQUIRE(table.size() == size_t(kShape.n_layers * kShape.n_kv_heads) * size_t(n));
  int table_mismatches = 0;
  for (int l = 0; l < kShape.n_layers; ++l)
    for (int g = 0; g < kShape.n_kv_heads; ++g)
      for (int64_t q = 0; q < n; ++q) {
        const size_t i = (size_t(l) * kShape.n_kv_heads + g) * size_t(n) + size_t(q);
        table_mismatches += table[i] != o.mri(l, g, q);
        table_mismatches += ts_table[i] != o.last_active(l, g, q);
      }
  TC_EXPECT_EQ(table_mismatches, 0);
}

TC_TEST(observer_summarises_hand_made_activity) {
  // 1 layer, 1 head; prompt of 4 tokens (positions 0-3), then steps t = 1..8 with token t+3.
  // Activity (the probability is 0.5 where listed, else 0): position 0 at t = 1, 5 (MRI 4);
  // position 1 at t = 2, 3, 8 (MRI 5); position 2 at t = 1 (MRI 1); position 3 never (MRI 0);
  // every new token at its own step (MRI 1).
  const KvCacheShape shape{1, 1, 1, 2};
  ObserverOptions oo;
  oo.alpha = 0.1;
  oo.recurrence_gaps = {2, 5};
  KvObserver obs(make_policy(policy_spec("full", 0), shape), oo);
  KvCache cache(shape, {12, DType::F32, KvLayout::Gqa});
  obs.attach(cache);
  std::vector<float> q(8, 0.0f), kv(8, 1.0f);
  hand_forward(obs, cache, true, 0, 0, 4, q.data(), kv.data(), kv.data());
  hand_end_prefill(obs, 4);
  const std::map<int, std::vector<int>> active = {{1, {0, 2}}, {2, {1}}, {3, {1}}, {5, {0}}, {8, {1}}};
  for (int t = 1; t <= 8; ++t) {
    std::vector<float> probs(12, 0.0f);
    probs[t + 3] = 0.5f;  // the new token
    if (active.count(t))
      for (int p : active.at(t)) probs[p] = 0.5f;
    hand_forward(obs, cache, false, t, t + 3, 1, q.data(), kv.data(), kv.data(), probs.data(), nullptr, 12);
  }
  TC_EXPECT_EQ(obs.mri(0, 0, 0), 4);
  TC_EXPECT_EQ(obs.mri(0, 0, 1), 5);
  TC_EXPECT_EQ(obs.mri(0, 0, 2), 1);
  TC_EXPECT_EQ(obs.mri(0, 0, 3), 0);
  TC_EXPECT_EQ(obs.mri(0, 0, 4), 1);
  RecurrenceSummary r = obs.recurrence();
  // 12 tokens: MRIs {4, 5, 1, 0} + eight 1s; the 11 active ones sorted: [1 x9, 4, 5].
  TC_EXPECT_EQ(r.tokens, int64_t(12));
  TC_EXPECT_EQ(r.never_active, int64_t(1));
  TC_EXPECT_NEAR(r.p50, 1, 0);
  TC_EXPECT_NEAR(r.p80, 1, 0);   // rank ceil(0.8 · 11) = 9 -> 1
  TC_EXPECT_NEAR(r.p90, 4, 0);   // rank 10
  TC_EXPECT_NEAR(r.max, 5, 0);
  TC_EXPECT_EQ(r.recommended_window, 1);
  TC_REQUIRE(r.share_recurring.size() == 2u);
  TC_EXPECT_NEAR(r.share_recurring[0], 2.0 / 12, 1e-12);  // MRI >= 2
  TC_EXPECT_NEAR(r.share_recurring[1], 1.0 / 12, 1e-12);  // MRI >= 5
  // log2 bins: [0]: 1, [1]: 9, [2,3]: 0, [4,7]: 2.
  TC_EXPECT(r.histogram == (std::vector<int64_t>{1, 9, 0, 2}));
}

TC_TEST(observer_value_range_statistics_match_direct_computation) {
  DriverSpec ds = driver_spec(50, 100);
  PolicyDriver d(ds, std::make_unique<KvObserver>(make_policy(policy_spec("full", 0), kShape), ObserverOptions{}));
  d.prefill();
  for (int t = 0; t < 100; ++t) d.decode();
  auto& o = static_cast<KvObserver&>(d.policy());
  std::vector<ValueRangeLayer> vr = o.value_ranges();
  TC_REQUIRE(vr.size() == 2u);
  for (int l = 0; l < 2; ++l) {
    std::vector<std::pair<float, int>> all;  // (range, position) over tokens and KV heads
    std::vector<float> k(size_t(kShape.n_kv_heads) * kShape.head_dim), v(k.size());
    for (int pos = 0; pos < 150; ++pos) {
      d.tokens().key_value(l, pos, k.data(), v.data());
      for (int g = 0; g < kShape.n_kv_heads; ++g)
        all.push_back({value_range(v.data() + size_t(g) * kShape.head_dim, kShape.head_dim), pos});
    }
    std::vector<float> sorted;
    for (auto& a : all) sorted.push_back(a.first);
    std::sort(sorted.begin(), sorted.end());
    const double median = sorted[size_t(std::ceil(0.5 * sorted.size())) - 1];
    TC_EXPECT_EQ(vr[l].tokens, int64_t(all.size()));
    TC_EXPECT_NEAR(vr[l].median, median, 1e-6);
    TC_EXPECT_NEAR(vr[l].max, sorted.back(), 1e-6);
    int64_t outliers = 0;
    for (float x : sorted) outliers += x > 5.0 * median;
    TC_EXPECT_NEAR(vr[l].outlier_share, double(outliers) / sorted.size(), 1e-12);
    TC_EXPECT(outliers > 0);  // the synthetic tokens carry 10x value outliers
    std::sort(all.rbegin(), all.rend());
    TC_REQUIRE(!vr[l].top.empty());
    TC_EXPECT_EQ(vr[l].top[0].first, all[0].second);
  }
}

TC_TEST(observer_does_not_change_the_wrapped_policy) {
  for (const char* name : {"lazy", "h2o", "vase"}) {
    auto spec = policy_spec(name, std::string(name) == "vase" ? 128 : 64, -1, {}, 3);
    PolicyDriver plain(driver_spec(40, 300), make_policy(spec, kShape));
    PolicyDriver wrapped(driver_spec(40, 300),
                         std::make_unique<KvObserver>(make_policy(spec, kShape), ObserverOptions{}));
    plain.prefill();
    wrapped.prefill();
    bool same = true;
    for (int t = 0; t < 300; ++t) {
      plain.decode();
      wrapped.decode();
      for (int l = 0; l < kShape.n_layers; ++l) same &= plain.output(l) == wrapped.output(l);
    }
    TC_EXPECT(same);
    TC_EXPECT(plain.policy().stats().evictions > 0);
    TC_EXPECT_EQ(plain.policy().stats().evictions, wrapped.policy().stats().evictions);
    for (int l = 0; l < kShape.n_layers; ++l)
      for (int h = 0; h < plain.cache().n_store_heads(); ++h)
        TC_EXPECT(slot_positions(plain.cache(), l, h) == slot_positions(wrapped.cache(), l, h));
  }
}

TC_TEST(observer_writes_json_and_svg) {
  PolicyDriver d(driver_spec(20, 60), std::make_unique<KvObserver>(make_policy(policy_spec("full", 0), kShape),
                                                                    ObserverOptions{}));
  d.prefill();
  for (int t = 0; t < 60; ++t) d.decode();
  auto& o = static_cast<KvObserver&>(d.policy());
  Json j = Json::parse(o.to_json().dump());
  TC_EXPECT(j.at("recurrence").at("recommended_window").as_int() == o.recurrence().recommended_window);
  TC_EXPECT_EQ(j.at("value_ranges").at("layers").size(), size_t(2));
  TC_EXPECT(j.at("recurrence").at("mri_histogram").size() > 0);
  std::string svg = o.to_svg();
  TC_EXPECT(svg.rfind("<svg", 0) == 0);
  TC_EXPECT(svg.find("</svg>") != std::string::npos);
  TC_EXPECT(svg.find("<polyline") != std::string::npos);
}

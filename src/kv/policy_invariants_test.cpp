// Invariants of every policy over long runs on synthetic tokens, driven through the hook
// contract with a real KvCache and cpu::attention (kv/policy_driver_test_util.h):
//   - evictions fire exactly when the spec's trigger rule says (checked against the rule
//     written out here, per policy), and leave exactly B tokens per head;
//   - the cache never exceeds its static capacity (KvCache::append would throw);
//   - sinks, the recent window and VaSE's reserved value-range set are never evicted;
//   - every kept slot holds exactly the K/V bytes appended for its position;
//   - attention outputs equal the full cache's, bit for bit, until the first eviction, and
//     for the whole run when the budget covers the sequence.
#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "kv/policy.h"
#include "kv/policy_driver_test_util.h"
#include "kv/policy_score_ops.h"
#include "kv/policy_test_util.h"
#include "util/testing.h"

using namespace tc;
using namespace tc::testing;

namespace {

struct InvariantCase {
  std::string label;
  PolicySpec spec;
  KvCacheShape shape{2, 4, 2, 16};
  int prompt = 40;
  int steps = 400;
  int chunk = 16;
  DType dtype = DType::F32;
  int sinks = 0;   // positions < sinks are never evicted
  int recent = 0;  // the `recent` newest positions are never evicted
  int n_large = 0; // VaSE: the top n_large − sinks value ranges among candidates survive
  // The spec's trigger: t = decode step, total = tokens so far, n = size after the append.
  std::function<bool(int64_t t, int64_t total, int n)> decode_fires;
  std::function<bool(int prompt)> prefill_fires;
};

using Snapshot = std::vector<std::vector<int>>;  // [layer * store_heads + head] sorted positions

Snapshot snapshot(const KvCache& c) {
  Snapshot s;
  for (int l = 0; l < c.n_layers(); ++l)
    for (int h = 0; h < c.n_store_heads(); ++h) {
      std::vector<int> p = slot_positions(c, l, h);
      std::sort(p.begin(), p.end());
      s.push_back(std::move(p));
    }
  return s;
}

// Every live slot holds the bytes of the K/V appended for its position.
bool kv_bytes_intact(PolicyDriver& d) {
  const KvCache& c = d.cache();
  const int kvh = c.shape().n_kv_heads, dim = c.head_dim();
  std::vector<float> k(size_t(kvh) * dim), v(k.size());
  std::vector<uint8_t> row(c.row_bytes());
  for (int l = 0; l < c.n_layers(); ++l)
    for (int h = 0; h < c.n_store_heads(); ++h) {
      const int g = c.kv_head_of_store(h);
      for (int s = 0; s < c.size(l, h); ++s) {
        d.tokens().key_value(l, c.positions(l, h)[s], k.data(), v.data());
        kv_row_from_f32(c.dtype(), k.data() + size_t(g) * dim, row.data(), dim);
        if (std::memcmp(row.data(), c.k_rows(l, h) + size_t(s) * c.row_bytes(), c.row_bytes())) return false;
        kv_row_from_f32(c.dtype(), v.data() + size_t(g) * dim, row.data(), dim);
        if (std::memcmp(row.data(), c.v_rows(l, h) + size_t(s) * c.row_bytes(), c.row_bytes())) return false;
      }
    }
  return true;
}

bool outputs_equal(const PolicyDriver& a, const PolicyDriver& b, int n_layers) {
  for (int l = 0; l < n_layers; ++l)
    if (a.output(l) != b.output(l)) return false;
  return true;
}

// Value range of the stored value row of (layer, kv head g, position).
float stored_range(PolicyDriver& d, int layer, int g, int pos) {
  const KvCache& c = d.cache();
  const int kvh = c.shape().n_kv_heads, dim = c.head_dim();
  std::vector<float> k(size_t(kvh) * dim), v(k.size()), r(dim);
  std::vector<uint8_t> row(c.row_bytes());
  d.tokens().key_value(layer, pos, k.data(), v.data());
  kv_row_from_f32(c.dtype(), v.data() + size_t(g) * dim, row.data(), dim);
  kv_row_to_f32(c.dtype(), row.data(), r.data(), dim);
  return value_range(r.data(), dim);
}

// Checks one forward's effect: `before` = positions before it, `added` its new positions.
void check_forward(const InvariantCase& c, PolicyDriver& d, const Snapshot& before, int first_added, int n_added,
                   bool expect_fire, bool fired, const char* phase) {
  const KvCache& cache = d.cache();
  const int64_t newest = first_added + n_added - 1;
  TC_EXPECT_EQ(fired, expect_fire);
  if (fired != expect_fire)
    std::fprintf(stderr, "    %s: %s at token %lld: fired=%d expected=%d\n", c.label.c_str(), phase,
                 (long long)newest, int(fired), int(expect_fire));
  Snapshot after = snapshot(cache);
  for (int l = 0; l < cache.n_layers(); ++l)
    for (int h = 0; h < cache.n_store_heads(); ++h) {
      const size_t i = size_t(l) * cache.n_store_heads() + h;
      std::vector<int> had = before[i];
      for (int p = first_added; p < first_added + n_added; ++p) had.push_back(p);
      const std::vector<int>& now = after[i];
      TC_EXPECT_EQ(int(now.size()), fired ? c.spec.budget : int(had.size()));
      TC_EXPECT(std::adjacent_find(now.begin(), now.end()) == now.end());
      std::vector<int> evicted;
      std::set_difference(had.begin(), had.end(), now.begin(), now.end(), std::back_inserter(evicted));
      TC_EXPECT(std::includes(had.begin(), had.end(), now.begin(), now.end()));
      for (int p : evicted) {
        TC_EXPECT(p >= c.sinks);
        TC_EXPECT(p <= newest - c.recent);
      }
      if (c.n_large > 0 && fired) {
        // VaSE: among the non-sink candidates, the n_large − sinks largest value ranges survive.
        std::vector<std::pair<float, int>> cand;
        for (int p : had)
          if (p >= c.sinks && p <= newest - c.recent) cand.push_back({stored_range(d, l, cache.kv_head_of_store(h), p), p});
        std::sort(cand.rbegin(), cand.rend());
        for (int j = 0; j < c.n_large - c.sinks && j < int(cand.size()); ++j)
          TC_EXPECT(std::binary_search(now.begin(), now.end(), cand[j].second));
      }
    }
  // Compaction is what could corrupt rows: check after every eviction (and now and then).
  if (fired || newest % 32 == 0) TC_EXPECT(kv_bytes_intact(d));
}

void run_case(const InvariantCase& c) {
  DriverSpec ds;
  ds.shape = c.shape;
  ds.dtype = c.dtype;
  ds.prompt_tokens = c.prompt;
  ds.max_new_tokens = c.steps;
  ds.prefill_chunk = c.chunk;
  ds.data_seed = 17;
  PolicyDriver run(ds, make_policy(c.spec, c.shape));
  PolicyDriver full(ds, make_policy(policy_spec("full", 0), c.shape));
  const int n_layers = c.shape.n_layers;
  const int failures_at_start = testing::current_failures();

  Snapshot before = snapshot(run.cache());
  run.prefill();
  full.prefill();
  TC_EXPECT(outputs_equal(run, full, n_layers));
  bool evicted_yet = run.policy().stats().evictions > 0;
  check_forward(c, run, before, 0, c.prompt, c.prefill_fires(c.prompt), evicted_yet, "prefill");
  for (int t = 1; t <= c.steps; ++t) {
    before = snapshot(run.cache());
    int64_t events = run.policy().stats().evictions;
    run.decode();
    full.decode();
    if (!evicted_yet) TC_EXPECT(outputs_equal(run, full, n_layers));
    bool fired = run.policy().stats().evictions > events;
    int n = run.size_before_eviction();
    check_forward(c, run, before, c.prompt + t - 1, 1, c.decode_fires(t, c.prompt + t, n), fired, "decode");
    evicted_yet |= fired;
    if (testing::current_failures() - failures_at_start > 20) return;  // one broken invariant is enough to report
  }
  TC_EXPECT(evicted_yet);  // every case is sized so that the policy has to evict
  TC_EXPECT(run.cache().max_size() <= run.cache().capacity());
  TC_EXPECT(run.policy().stats().peak_tokens <= run.cache().capacity());
  TC_EXPECT_EQ(run.policy().stats().slots_evicted, run.cache().slots_evicted());
}

auto never_at_prefill = [](int) { return false; };

}  // namespace

TC_TEST(policy_invariants_lazy) {
  InvariantCase c;
  c.label = "lazy";
  c.spec = policy_spec("lazy", 96, 16, {{"alpha", "0.02"}});
  c.recent = 16;
  c.decode_fires = [](int64_t t, int64_t, int n) { return t % 16 == 0 && n > 96; };
  c.prefill_fires = never_at_prefill;
  run_case(c);
  // Faithful per-query-head layout, f16 storage, a prompt longer than the budget.
  c.label = "lazy heads=query f16 long prompt";
  c.spec = policy_spec("lazy", 64, 8, {{"heads", "query"}, {"state", "fp16"}});
  c.recent = 8;
  c.prompt = 150;
  c.steps = 120;
  c.chunk = 64;
  c.dtype = DType::F16;
  c.decode_fires = [](int64_t t, int64_t, int n) { return t % 8 == 0 && n > 64; };
  run_case(c);
}

TC_TEST(policy_invariants_vase_family) {
  InvariantCase c;
  c.label = "vase";
  c.spec = policy_spec("vase", 128, -1, {}, 3);
  c.sinks = 4;
  c.recent = 64;
  c.n_large = 32;
  c.steps = 420;
  c.decode_fires = [](int64_t, int64_t, int n) { return n % 64 == 0 && n > 128; };
  c.prefill_fires = never_at_prefill;
  run_case(c);
  c.label = "vase small window f16";
  c.spec = policy_spec("vase", 48, 16, {{"n_large", "12"}}, 4);
  c.recent = 16;
  c.n_large = 12;
  c.dtype = DType::F16;
  c.decode_fires = [](int64_t, int64_t, int n) { return n % 16 == 0 && n > 48; };
  run_case(c);
  for (const char* name : {"vase-dkv", "curdkv"}) {
    InvariantCase d;
    d.label = name;
    d.spec = policy_spec(name, 128, -1, {}, 5);
    d.sinks = 4;
    d.recent = 64;
    d.steps = 300;
    d.decode_fires = [](int64_t, int64_t, int n) { return n % 64 == 0 && n > 128; };
    d.prefill_fires = never_at_prefill;
    run_case(d);
  }
  InvariantCase s;
  s.label = "snapkv decode";
  s.spec = policy_spec("snapkv", 64, 32, {{"mode", "decode"}});
  s.recent = 32;
  s.steps = 200;
  s.decode_fires = [](int64_t, int64_t, int n) { return n % 32 == 0 && n > 64; };
  s.prefill_fires = never_at_prefill;
  run_case(s);
}

TC_TEST(policy_invariants_rkv_and_snapkv_prefill) {
  InvariantCase c;
  c.label = "rkv";
  c.spec = policy_spec("rkv", 48, -1, {{"every", "32"}});
  c.recent = 8;
  c.prompt = 60;  // >= B: compressed at prefill
  c.steps = 300;
  c.decode_fires = [](int64_t, int64_t total, int n) { return total % 32 == 0 && n >= 48; };
  c.prefill_fires = [](int p) { return p >= 48; };
  run_case(c);
  c.label = "rkv default period, short prompt";
  c.spec = policy_spec("rkv", 100, 4);
  c.recent = 4;
  c.prompt = 20;
  c.decode_fires = [](int64_t, int64_t total, int n) { return total % 128 == 0 && n >= 100; };
  run_case(c);
  InvariantCase s;
  s.label = "snapkv prefill";
  s.spec = policy_spec("snapkv", 40, 8);
  s.recent = 8;
  s.prompt = 90;
  s.steps = 40;
  s.chunk = 32;
  s.decode_fires = [](int64_t, int64_t, int) { return false; };
  s.prefill_fires = [](int p) { return p >= 40; };
  run_case(s);
}

TC_TEST(policy_invariants_every_step_policies) {
  InvariantCase c;
  c.label = "h2o";
  c.spec = policy_spec("h2o", 48, 16);
  c.recent = 16;
  c.prompt = 70;  // > B: compressed at prefill
  c.steps = 250;
  c.decode_fires = [](int64_t, int64_t, int n) { return n > 48; };
  c.prefill_fires = [](int p) { return p > 48; };
  run_case(c);
  c.label = "h2o heads=query";
  c.spec = policy_spec("h2o", 48, 16, {{"heads", "query"}});
  run_case(c);
  c.label = "tova";
  c.spec = policy_spec("tova", 48);
  c.recent = 1;
  run_case(c);
  c.label = "streaming";
  c.spec = policy_spec("streaming", 48);
  c.sinks = 4;
  c.recent = 44;
  run_case(c);
  c.label = "random";
  c.spec = policy_spec("random", 64, 16, {{"sinks", "3"}}, 9);
  c.sinks = 3;
  c.recent = 16;
  c.prompt = 40;
  c.decode_fires = [](int64_t t, int64_t, int n) { return t % 16 == 0 && n > 64; };
  c.prefill_fires = never_at_prefill;
  run_case(c);
}

TC_TEST(policy_with_budget_covering_the_sequence_equals_full) {
  // Budget >= prompt + generated tokens: no eviction, every output bit-identical to full.
  const int prompt = 37, steps = 150, length = prompt + steps;
  const KvCacheShape shape{2, 4, 2, 16};
  std::vector<PolicySpec> specs = {
      policy_spec("lazy", length, 16),         policy_spec("vase", 192),
      policy_spec("vase-dkv", 192),            policy_spec("curdkv", 192),
      policy_spec("snapkv", length + 1),       policy_spec("snapkv", 192, -1, {{"mode", "decode"}}),
      policy_spec("rkv", length + 1),          policy_spec("h2o", length),
      policy_spec("tova", length),             policy_spec("streaming", length),
      policy_spec("random", length, 16),       policy_spec("lazy", length, 16, {{"heads", "query"}}),
  };
  for (const PolicySpec& spec : specs) {
    DriverSpec ds;
    ds.shape = shape;
    ds.dtype = DType::F16;
    ds.prompt_tokens = prompt;
    ds.max_new_tokens = steps;
    ds.prefill_chunk = 10;
    PolicyDriver run(ds, make_policy(spec, shape));
    PolicyDriver full(ds, make_policy(policy_spec("full", 0), shape));
    run.prefill();
    full.prefill();
    bool same = outputs_equal(run, full, shape.n_layers);
    for (int t = 0; t < steps; ++t) {
      run.decode();
      full.decode();
      same &= outputs_equal(run, full, shape.n_layers);
    }
    TC_EXPECT(same);
    TC_EXPECT_EQ(run.policy().stats().evictions, int64_t(0));
    TC_EXPECT_EQ(run.cache().max_size(), length);
    if (!same) std::fprintf(stderr, "    differs from full: %s\n", spec.name.c_str());
  }
}

TC_TEST(policy_runs_are_reproducible_from_the_seed) {
  const KvCacheShape shape{2, 4, 2, 16};
  auto final_positions = [&](const PolicySpec& spec) {
    DriverSpec ds;
    ds.shape = shape;
    ds.prompt_tokens = 40;
    ds.max_new_tokens = 300;
    PolicyDriver d(ds, make_policy(spec, shape));
    d.prefill();
    for (int t = 0; t < 300; ++t) d.decode();
    std::vector<std::vector<int>> out;
    for (int l = 0; l < shape.n_layers; ++l)
      for (int h = 0; h < d.cache().n_store_heads(); ++h) out.push_back(slot_positions(d.cache(), l, h));
    return out;
  };
  for (const char* name : {"vase", "vase-dkv", "random"}) {
    auto a = final_positions(policy_spec(name, 128, -1, {}, 11));
    auto b = final_positions(policy_spec(name, 128, -1, {}, 11));
    auto c = final_positions(policy_spec(name, 128, -1, {}, 12));
    TC_EXPECT(a == b);
    TC_EXPECT(a != c);
  }
}

TC_TEST(policy_window_score_taps_equal_the_side_pass) {
  // VaSE's window score accumulated from the kernel's per-step probabilities must pick what
  // the side pass over the cached queries picks (same seed, same Gumbel draws), eviction
  // after eviction; likewise decode-time SnapKV's top-k. The first window of the long-prompt
  // run starts in the prompt, so that eviction exercises the fallback.
  const KvCacheShape shape{2, 4, 2, 16};
  for (int prompt : {40, 150}) {
    for (const char* name : {"vase", "snapkv"}) {
      std::vector<std::vector<int>> kept[2];
      for (int mode = 0; mode < 2; ++mode) {
        std::map<std::string, std::string> opts = {{"scoring", mode == 0 ? "taps" : "window"}};
        if (std::string(name) == "snapkv") opts["mode"] = "decode";
        DriverSpec ds;
        ds.shape = shape;
        ds.prompt_tokens = prompt;
        ds.max_new_tokens = 400;
        ds.prefill_chunk = 64;
        PolicyDriver d(ds, make_policy(policy_spec(name, 128, -1, opts, 21), shape));
        d.prefill();
        for (int t = 0; t < 400; ++t) d.decode();
        for (int l = 0; l < shape.n_layers; ++l)
          for (int h = 0; h < d.cache().n_store_heads(); ++h) kept[mode].push_back(slot_positions(d.cache(), l, h));
        TC_EXPECT(d.policy().stats().evictions >= 4);
      }
      TC_EXPECT(kept[0] == kept[1]);
    }
  }
}

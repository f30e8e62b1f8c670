// `snapkv`: SnapKV.
//   mode=prefill (default, official FasterDecoding/SnapKV, spec §3.2): once, at the end of
//     the prompt, if the prompt holds >= B tokens: the last w = 32 prompt queries attend
//     (causal softmax over all prompt keys) and their probabilities are SUMMED per key for
//     keys [0, P − w); AvgPool1d(5) (or max pool); keep the top B − w plus the w window
//     tokens. Decoding is not bounded afterwards (peak = P, then min(P, B) + new tokens).
//   mode=decode (the VaSE codebase's `attn` baseline, spec §2.8): VaSE's trigger and window
//     score (mean of 64 cached queries, softmax over candidates, avgpool 5), deterministic
//     top-k, the last 64 kept, no sinks.
// GQA: native layout takes the mean over the group of the pooled score (as kvpress);
// heads=query stores one K/V copy per query head and scores each on its own.
#include "kv/policies/snapkv.h"

#include <algorithm>
#include <cmath>

#include "kv/policies/registry_parts.h"
#include "kv/policies/window_scores.h"
#include "kv/policy_base.h"
#include "kv/policy_options.h"
#include "kv/policy_score_ops.h"
#include "kv/query_window.h"
#include "util/error.h"

namespace tc {

void snapkv_prefill_scores(const KvCache& c, const QueryWindow& window, int layer, int head, int n_cand,
                           int pool_kernel, bool max_pool, float* scores, ScoreScratch& scratch) {
  const int d = c.head_dim();
  const int n = c.size(layer, head);
  const int group = c.queries_per_store_head();
  const int n_q = window.count(layer);
  std::vector<float>& keys = scratch.a;     // [n][d]
  std::vector<float>& queries = scratch.b;  // [n_q][d]
  std::vector<float>& sum = scratch.c;      // [n_cand]
  keys.resize(size_t(n) * d);
  queries.resize(size_t(n_q) * d);
  load_keys_f32(c, layer, head, 0, n, keys.data());
  std::vector<int64_t> q_pos(static_cast<size_t>(n_q));
  for (int j = 0; j < n_q; ++j) q_pos[j] = window.position(layer, j);
  std::vector<float> pooled(static_cast<size_t>(n_cand));
  std::fill(scores, scores + n_cand, 0.0f);
  WindowSoftmaxArgs a;
  a.q = queries.data();
  a.q_stride = d;
  a.q_pos = q_pos.data();
  a.n_q = n_q;
  a.k = keys.data();
  a.k_pos = c.positions(layer, head);
  a.n_softmax = n;
  a.n_out = n_cand;
  a.d = d;
  a.scale = float(1.0 / std::sqrt(double(d)));
  a.weight = 1.0f;
  for (int g = 0; g < group; ++g) {
    sum.assign(size_t(n_cand), 0.0f);
    window.gather(layer, head * group + g, queries.data());
    accumulate_window_softmax(a, sum.data(), scratch.logits);
    if (pool_kernel <= 1)
      pooled = sum;
    else if (max_pool)
      max_pool_same(sum.data(), pooled.data(), n_cand, pool_kernel);
    else
      avg_pool_same(sum.data(), pooled.data(), n_cand, pool_kernel);
    for (int i = 0; i < n_cand; ++i) scores[i] += pooled[i] / float(group);
  }
}

namespace {

struct SnapParams {
  bool decode_mode = false;
  int budget = 0;
  int window = 32;
  int pool_kernel = 5;
  bool max_pool = false;
  bool taps = true;  // decode mode: window score from the kernel's per-step probabilities
  KvLayout layout = KvLayout::Gqa;
};

class SnapKvPolicy final : public WindowedPolicy {
 public:
  SnapKvPolicy(const SnapParams& p, uint64_t seed) : WindowedPolicy("snapkv", config_for(p), seed, p.layout), p_(p) {}

  AttentionNeeds needs() const override {
    AttentionNeeds n;
    n.query_window = p_.window;
    n.current_probs = p_.decode_mode && p_.taps;
    return n;
  }

 protected:
  void handle_attach() override {
    const KvCache& c = cache();
    queries_.reset(c.n_layers(), c.shape().n_heads, c.head_dim(), p_.window);
    if (p_.decode_mode && p_.taps) {
      window_acc_ = channel("snapkv.window", KvCache::ChannelType::F32);
      taps_.reset(c.n_layers(), p_.window, p_.budget);
    }
  }

  void handle_attention(const AttentionStats& st) override {
    if (p_.decode_mode && p_.taps && !forward().is_prefill) taps_.accumulate(cache(), window_acc_, st);
  }

  void handle_queries(int layer, const float* q, int n_tokens) override {
    queries_.push(layer, q, n_tokens, forward().first_pos);
  }

  void score(int layer, int head, int n_cand, float* scores, ScoreScratch& scratch) const override {
    if (p_.decode_mode && p_.taps && taps_.ready(layer, cache().size(layer, head))) {
      std::vector<float>& mean = scratch.c;
      mean.resize(size_t(n_cand));
      taps_.mean(cache(), window_acc_, layer, head, n_cand, mean.data());
      if (p_.pool_kernel > 1)
        avg_pool_same(mean.data(), scores, n_cand, p_.pool_kernel);
      else
        std::copy(mean.begin(), mean.end(), scores);
      return;
    }
    if (p_.decode_mode) {
      vase_window_scores(cache(), queries_, layer, head, n_cand, 1.0f, p_.pool_kernel, scores, scratch);
      return;
    }
    snapkv_prefill_scores(cache(), queries_, layer, head, n_cand, p_.pool_kernel, p_.max_pool, scores, scratch);
  }

 private:
  static Config config_for(const SnapParams& p) {
    Config c;
    c.budget = p.budget;
    c.recent = p.window;
    c.sinks = 0;
    if (p.decode_mode) {
      c.schedule.decode = EvictionSchedule::Decode::CacheLengthMultiple;
      c.schedule.prefill = EvictionSchedule::Prefill::Keep;
      c.schedule.period = p.window;
    } else {
      c.schedule.decode = EvictionSchedule::Decode::Never;
      c.schedule.prefill = EvictionSchedule::Prefill::CompressIfAtLeast;
    }
    c.selector = Selector::TopK;
    return c;
  }

  SnapParams p_;
  QueryWindow queries_;
  WindowScoreTaps taps_;
  int window_acc_ = -1;
};

int snapkv_default_window(int, const PolicySpec& spec) {
  auto mode = spec.options.find("mode");
  return mode != spec.options.end() && mode->second == "decode" ? 64 : 32;
}

std::unique_ptr<KvPolicy> make_snapkv(const PolicySpec& spec, const KvCacheShape&) {
  PolicyOptions o(spec);
  SnapParams p;
  p.decode_mode = o.get_choice("mode", "prefill", {"prefill", "decode"}) == "decode";
  p.window = o.window(snapkv_default_window(spec.budget, spec), 1, 1 << 16);
  p.budget = o.budget(p.window + 1, str_printf("the %d window tokens are always kept", p.window));
  if (p.decode_mode && p.budget % p.window != 0)
    TC_THROW("policy snapkv (mode=decode): --kv-budget %d must be a multiple of the window %d, as in the VaSE "
             "code it follows",
             p.budget, p.window);
  p.pool_kernel = o.get_int("kernel", 5, 1, 1001);
  if (p.pool_kernel % 2 == 0) TC_THROW("policy snapkv: kernel=%d must be odd (1 disables pooling)", p.pool_kernel);
  std::string pooling = o.get_choice("pooling", "avg", {"avg", "max"});
  if (p.decode_mode && pooling != "avg")
    TC_THROW("policy snapkv: pooling=max is only available with mode=prefill");
  p.max_pool = pooling == "max";
  p.layout = o.get_choice("heads", "kv", {"kv", "query"}) == "kv" ? KvLayout::Gqa : KvLayout::PerQueryHead;
  p.taps = o.get_choice("scoring", "taps", {"taps", "window"}) == "taps";
  return std::make_unique<SnapKvPolicy>(p, spec.seed);
}

const PolicyRegistrar kRegisterSnapKv(PolicyInfo{
    "snapkv",
    "SnapKV: mode=prefill compresses the prompt once (if >= B) to the top B-w by summed, pooled attention of "
    "the last w prompt queries plus the w window tokens, then decodes unbounded; mode=decode is the VaSE "
    "codebase's decode-time variant (every R steps, mean of R cached queries, avgpool 5, top-k, last R kept)",
    {
        {"mode", "prefill", "prefill (official SnapKV) or decode (VaSE codebase variant)"},
        {"kernel", "5", "pooling kernel over slot order (1 = off)"},
        {"pooling", "avg", "avg or max (prefill mode)"},
        {"heads", "kv",
         "kv: native GQA cache, group mean of the pooled scores (kvpress style); query: one K/V copy per query "
         "head, each scored on its own"},
        {"scoring", "taps",
         "decode mode: taps accumulates the window score from the kernel's per-step probabilities (no side pass), "
         "window recomputes it from the cached queries at eviction"},
    },
    make_snapkv,
    "prefill mode: the prompt budget B (decode is unbounded: capacity max(P, min(P, B) + new tokens)); decode "
    "mode: tokens kept per head, a multiple of the window",
    "w = observation window (kept after compression); default 32 (prefill mode) or 64 (decode mode)",
    snapkv_default_window,
});

}  // namespace
}  // namespace tc

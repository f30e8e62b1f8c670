// `vase`: VaSE-AttnV (spec §2.5-2.6, code mode range_sink_sample_attn). Per KV head:
//   - value range R(i) = max_d v_i − min_d v_i, computed once when the token is appended;
//   - when the cache length is a multiple of R = 64 and exceeds the budget B, candidates are
//     all slots but the last 64; P = the 4 sinks + the (n_large − 4) largest-range
//     candidates (n_large = B/4) are kept; the other B − 64 − n_large kept slots are drawn
//     without replacement with probability ∝ the smoothed 64-query window attention
//     (Gumbel-top-k, seeded); the new order is [P by descending range, sinks first] +
//     [draws in draw order] + [last 64]. Peak B + 64.
#include <algorithm>

#include "kv/policies/registry_parts.h"
#include "kv/policies/window_scores.h"
#include "kv/policy_base.h"
#include "kv/policy_options.h"
#include "kv/policy_score_ops.h"
#include "kv/query_window.h"
#include "util/error.h"

namespace tc {
namespace {

struct VaseParams {
  int budget = 0;
  int window = 64;
  int n_large = 0;
  int sinks = 4;
  int pool = 5;
  double temperature = 1.0;
  bool taps = true;  // window score from the kernel's per-step probabilities (see WindowScoreTaps)
};

class VasePolicy final : public WindowedPolicy {
 public:
  VasePolicy(const VaseParams& p, uint64_t seed) : WindowedPolicy("vase", config_for(p), seed), p_(p) {}

  AttentionNeeds needs() const override {
    AttentionNeeds n;
    n.query_window = p_.window;  // always kept: the side pass is the fallback of the taps
    n.current_probs = p_.taps;
    return n;
  }

 protected:
  void handle_attach() override {
    range_ = channel("vase.range", KvCache::ChannelType::F32);
    const KvCache& c = cache();
    queries_.reset(c.n_layers(), c.shape().n_heads, c.head_dim(), p_.window);
    if (p_.taps) {
      window_acc_ = channel("vase.window", KvCache::ChannelType::F32);
      taps_.reset(c.n_layers(), p_.window, p_.budget);
    }
  }

  void handle_attention(const AttentionStats& st) override {
    if (p_.taps && !forward().is_prefill) taps_.accumulate(cache(), window_acc_, st);
  }

  void handle_queries(int layer, const float* q, int n_tokens) override {
    queries_.push(layer, q, n_tokens, forward().first_pos);
  }

  // Value ranges are computed at insert, from the stored (rounded) value rows.
  void handle_append(int layer, int n_tokens) override {
    KvCache& c = cache();
    v_.resize(size_t(c.head_dim()));
    for (int h = 0; h < c.n_store_heads(); ++h) {
      float* range = c.channel_f32(range_, layer, h);
      const int n = c.size(layer, h);
      for (int s = n - n_tokens; s < n; ++s) {
        c.read_v(layer, h, s, v_.data());
        range[s] = value_range(v_.data(), c.head_dim());
      }
    }
  }

  // P: sinks in slot order (their range counts as +inf), then the largest ranges.
  void reserve(int layer, int head, int n_cand, std::vector<int32_t>& out) const override {
    const int32_t* pos = cache().positions(layer, head);
    const float* range = cache().channel_f32(range_, layer, head);
    out.clear();
    std::vector<int32_t> others;
    std::vector<float> others_range;
    for (int s = 0; s < n_cand; ++s) {
      if (pos[s] < p_.sinks) {
        out.push_back(s);
      } else {
        others.push_back(s);
        others_range.push_back(range[s]);
      }
    }
    int k = std::min<int>(int(others.size()), std::max(0, p_.n_large - int(out.size())));
    std::vector<int32_t> top;
    select_top_k(others_range.data(), int(others.size()), k, top);
    for (int32_t i : top) out.push_back(others[i]);
  }

  void score(int layer, int head, int n_cand, float* scores, ScoreScratch& scratch) const override {
    if (p_.taps && taps_.ready(layer, cache().size(layer, head))) {
      std::vector<float>& mean = scratch.c;
      mean.resize(size_t(n_cand));
      taps_.mean(cache(), window_acc_, layer, head, n_cand, mean.data());
      if (p_.pool > 1)
        avg_pool_same(mean.data(), scores, n_cand, p_.pool);
      else
        std::copy(mean.begin(), mean.end(), scores);
      return;
    }
    vase_window_scores(cache(), queries_, layer, head, n_cand, float(p_.temperature), p_.pool, scores, scratch);
  }

 private:
  static Config config_for(const VaseParams& p) {
    Config c;
    c.budget = p.budget;
    c.recent = p.window;
    c.sinks = p.sinks;
    c.schedule.decode = EvictionSchedule::Decode::CacheLengthMultiple;
    c.schedule.prefill = EvictionSchedule::Prefill::Keep;
    c.schedule.period = p.window;
    c.selector = Selector::GumbelTopK;
    return c;
  }

  VaseParams p_;
  int range_ = -1;
  int window_acc_ = -1;
  QueryWindow queries_;
  WindowScoreTaps taps_;
  std::vector<float> v_;
};

int vase_default_window(int, const PolicySpec&) { return 64; }

std::unique_ptr<KvPolicy> make_vase(const PolicySpec& spec, const KvCacheShape&) {
  PolicyOptions o(spec);
  VaseParams p;
  p.window = o.window(vase_default_window(spec.budget, spec), 1, 1 << 16);
  p.budget = o.budget(p.window + 1, str_printf("the last R = %d tokens are always kept", p.window));
  if (p.budget % p.window != 0)
    TC_THROW("policy vase: --kv-budget %d must be a multiple of the window R = %d (the released code requires "
             "budget %% R == 0: each eviction drops exactly R tokens)",
             p.budget, p.window);
  p.sinks = o.get_int("sinks", 4, 0, 1 << 20);
  p.n_large = o.get_int("n_large", p.budget / 4, 0, 1 << 30);
  if (p.n_large < p.sinks)
    TC_THROW("policy vase: n_large = %d must be at least the %d sinks it includes", p.n_large, p.sinks);
  if (p.n_large > p.budget - p.window)
    TC_THROW("policy vase: n_large = %d reserved tokens do not fit in budget - window = %d", p.n_large,
             p.budget - p.window);
  p.pool = o.get_int("smooth", 5, 1, 1001);
  if (p.pool % 2 == 0) TC_THROW("policy vase: smooth=%d must be an odd kernel size (1 disables smoothing)", p.pool);
  p.temperature = o.get_double("temperature", 1.0, 1e-6, 1e6);
  const std::string scoring = o.get_choice("scoring", "taps", {"taps", "window"});
  if (scoring == "taps" && p.temperature != 1.0)
    TC_THROW("policy vase: temperature=%g needs scoring=window (the kernel's probabilities are at temperature 1)",
             p.temperature);
  p.taps = scoring == "taps";
  return std::make_unique<VasePolicy>(p, spec.seed);
}

const PolicyRegistrar kRegisterVase(PolicyInfo{
    "vase",
    "VaSE-AttnV: keep 4 sinks + the top n_large tokens by value range (max-min over channels, computed at "
    "insert), draw the rest without replacement in proportion to the smoothed window attention of the last R "
    "queries (Gumbel-top-k, seeded), keep the last R; fires when size % R == 0 and size > B; per KV head "
    "(group mean of probabilities); peak B + R",
    {
        {"n_large", "B/4", "tokens reserved by value range, sinks included"},
        {"sinks", "4", "first positions always kept (their range counts as +inf)"},
        {"smooth", "5", "AvgPool1d kernel over slot order applied to the window attention (1 = off)"},
        {"temperature", "1.0", "softmax temperature of the window attention (needs scoring=window unless 1)"},
        {"scoring", "taps",
         "taps: accumulate the window score from the attention kernel's per-step probabilities, renormalised over "
         "the candidates (same number, no side pass; falls back to window when the window began at prefill); "
         "window: recompute it at eviction from the R cached queries, as the released code does"},
    },
    make_vase,
    "B = tokens kept per KV head after an eviction (prompt included); must be a multiple of R and > R. "
    "Capacity max(prompt, B) + R",
    "R = recent window = query window = eviction period; default 64",
    vase_default_window,
    true,
});

}  // namespace
}  // namespace tc

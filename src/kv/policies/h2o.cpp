// `h2o`: H2O heavy hitters (official real-drop H2OKVCache_LayerWise, spec §3.3). Each slot
// accumulates the attention it receives from every query since it entered the cache
// (prefill column sums, then every decode step). Whenever the cache exceeds B = heavy +
// recent (at the end of the prompt and after every decode step), the lowest-accumulated
// tokens outside the `recent` newest are dropped, i.e. the top `heavy` of the older tokens
// are kept with the recent ones: one token per step in steady state, removed by hole
// filling (slot order carries no meaning for H2O). Per head; in the native GQA layout a
// store head accumulates the sum over its query heads (heads=query: per query head, the
// original's MHA setting).
#include "kv/policies/registry_parts.h"
#include "kv/policy_base.h"
#include "kv/policy_options.h"
#include "kv/policy_score_ops.h"
#include "util/error.h"

namespace tc {
namespace {

class H2oPolicy final : public RollingPolicy {
 public:
  H2oPolicy(const Config& c, uint64_t seed, KvLayout layout) : RollingPolicy("h2o", c, seed, layout) {}
  int window() const override { return config().recent; }

  AttentionNeeds needs() const override {
    AttentionNeeds n;
    n.prob_colsum = true;
    return n;
  }

 protected:
  void handle_attach() override { acc_ = channel("h2o.acc", KvCache::ChannelType::F32); }

  void handle_attention(const AttentionStats& st) override {
    TC_CHECK_ARG(st.colsum != nullptr,
                 "policy h2o: the engine did not pass the attention column sums it asked for (layer %d)", st.layer);
    KvCache& c = cache();
    for (int h = 0; h < st.n_heads; ++h) {
      const int sh = c.store_head_of_query(h);
      const int n = c.size(st.layer, sh);
      policy_axpy(c.channel_f32(acc_, st.layer, sh), st.colsum + size_t(h) * st.stride, 1.0f, n);
    }
  }

  const float* scores(int layer, int head, int n) override { return cache().channel_f32(acc_, layer, head); }

 private:
  int acc_ = -1;
};

int h2o_default_window(int budget, const PolicySpec&) { return budget / 2; }

std::unique_ptr<KvPolicy> make_h2o(const PolicySpec& spec, const KvCacheShape&) {
  PolicyOptions o(spec);
  TC_CHECK_ARG(spec.budget > 1, "policy h2o needs --kv-budget >= 2 (heavy hitters + recent tokens), got %d",
               spec.budget);
  RollingPolicy::Config c;
  c.recent = o.window(h2o_default_window(spec.budget, spec), 1, 1 << 30);
  c.budget = o.budget(c.recent + 1, str_printf("the %d recent tokens are always kept; heavy = B - recent must be >= 1",
                                               c.recent));
  c.sinks = 0;
  c.layer_wide = false;
  c.compress_prefill = true;
  KvLayout layout = o.get_choice("heads", "kv", {"kv", "query"}) == "kv" ? KvLayout::Gqa : KvLayout::PerQueryHead;
  return std::make_unique<H2oPolicy>(c, spec.seed, layout);
}

const PolicyRegistrar kRegisterH2o(PolicyInfo{
    "h2o",
    "H2O: accumulated attention per token (all queries since it entered); whenever size > B (prefill end, every "
    "decode step) drop the lowest-accumulated tokens outside the recent window: keeps the top B-recent heavy "
    "hitters + the recent tokens; peak B + 1",
    {
        {"heads", "kv",
         "kv: native GQA cache, a KV head accumulates the sum over its query heads (deviation); query: one K/V "
         "copy per query head (the original's per-head MHA setting)"},
    },
    make_h2o,
    "B = heavy hitters + recent tokens kept per head; must exceed the recent window",
    "recent window (the newest tokens, never evicted); default B/2 (the paper's half heavy / half recent split)",
    h2o_default_window,
});

}  // namespace
}  // namespace tc

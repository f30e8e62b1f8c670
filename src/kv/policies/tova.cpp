// `tova`: TOVA (kvpress tova_press + paper, spec §3.5). Whenever the cache exceeds B (after
// every decode step, and at the end of the prompt when the engine passes the last prompt
// token's probabilities), drop the tokens with the lowest attention from the current query,
// averaged over ALL heads of the layer: one decision per layer, every KV head drops the
// same tokens. The current token is never dropped. No recent window, no sinks. Peak B + 1.
#include "kv/policies/registry_parts.h"
#include "kv/policy_base.h"
#include "kv/policy_options.h"
#include "kv/policy_score_ops.h"
#include "util/error.h"

namespace tc {
namespace {

class TovaPolicy final : public RollingPolicy {
 public:
  TovaPolicy(const Config& c, uint64_t seed) : RollingPolicy("tova", c, seed) {}

  AttentionNeeds needs() const override {
    AttentionNeeds n;
    n.current_probs = true;
    return n;
  }

 protected:
  void handle_attach() override {
    mean_.assign(size_t(cache().n_layers()), {});
    have_.assign(size_t(cache().n_layers()), 0);
  }

  // mean_[layer][s]: the current query's probability of slot s averaged over all query heads.
  void handle_attention(const AttentionStats& st) override {
    const KvCache& c = cache();
    if (!st.probs) {
      TC_CHECK_ARG(forward().is_prefill,
                   "policy tova: the engine did not pass the current query's attention probabilities (layer %d)",
                   st.layer);
      have_[st.layer] = 0;
      return;
    }
    const int n = c.size(st.layer, 0);
    std::vector<float>& m = mean_[st.layer];
    m.assign(size_t(n), 0.0f);
    const float inv = 1.0f / float(st.n_heads);
    for (int h = 0; h < st.n_heads; ++h) policy_axpy(m.data(), st.probs + size_t(h) * st.stride, inv, n);
    have_[st.layer] = 1;
  }

  // Without the last prompt token's probabilities the first decode step compresses instead.
  bool handle_end_prefill() override {
    for (char h : have_)
      if (!h) return false;
    return RollingPolicy::handle_end_prefill();
  }

  const float* scores(int layer, int, int n) override {
    TC_ASSERT(have_[layer] && int(mean_[layer].size()) == n);
    return mean_[layer].data();
  }

 private:
  std::vector<std::vector<float>> mean_;  // [n_layers][size]
  std::vector<char> have_;                // [n_layers] probabilities of this forward received
};

std::unique_ptr<KvPolicy> make_tova(const PolicySpec& spec, const KvCacheShape&) {
  PolicyOptions o(spec);
  o.reject_window();
  RollingPolicy::Config c;
  c.budget = o.budget(2, "the current token is always kept");
  c.sinks = 0;
  c.recent = 1;
  c.layer_wide = true;
  c.compress_prefill = true;
  return std::make_unique<TovaPolicy>(c, spec.seed);
}

const PolicyRegistrar kRegisterTova(PolicyInfo{
    "tova",
    "TOVA: whenever size > B drop the tokens with the lowest current-query attention averaged over all heads of "
    "the layer (one decision per layer); the current token is never dropped; peak B + 1",
    {},
    make_tova,
    "B = tokens kept per layer (every KV head keeps the same ones); >= 2",
    "",
});

}  // namespace
}  // namespace tc

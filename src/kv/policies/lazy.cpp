// `lazy`: LazyEviction (spec §1). Per cached token and store head two integers in KvCache
// channels: TS (last decode step at which its attention was >= alpha) and MRI (largest gap
// between consecutive activations). Every W decode steps, if the cache holds more than B
// tokens, the last W slots are kept and the top B − W older tokens by I = H1 + H2; the
// compacted order is [kept, descending I] + [last W in order]. Attention of the step that
// triggers still sees all B + W tokens (the engine evicts after attention).
#include "kv/policies/lazy.h"

#include <algorithm>
#include <cmath>

#include "kv/policies/registry_parts.h"
#include "kv/policy_base.h"
#include "kv/policy_options.h"
#include "kv/policy_score_ops.h"
#include "util/error.h"
#include "util/half.h"

namespace tc {

double lazy_importance(LazyScoreForm form, double delta, double mri) {
  auto two_sigmoid = [](double x) { return 2.0 / (1.0 + std::exp(-x)); };  // 2σ(x)
  constexpr double kEps = 1e-5;
  if (form == LazyScoreForm::Code) {
    double h1 = two_sigmoid(-(1.0 + delta / (mri + kEps)));
    double h2 = mri == 0 ? 0.0 : two_sigmoid(-(mri - 1.0));
    return h1 + h2;
  }
  double h1 = two_sigmoid(-delta / (mri + kEps));
  double h2 = mri == 0 ? 0.0 : two_sigmoid(-1.0 / (mri - 1.0));  // M = 1: −1/0 = −inf, H2 = 0
  return h1 + h2;
}

namespace {

// fp16 emulation of the released code's state tensors: integers rounded to the nearest
// fp16 value (exact up to 2048, then steps of 2, 4, 8, ...). Values above fp16's largest
// finite 65504 saturate there instead of becoming inf.
int32_t round_f16_int(int64_t x) {
  if (x >= 65504) return 65504;
  if (x <= -65504) return -65504;
  return int32_t(f16_to_f32(f32_to_f16(float(x))));
}

struct LazyParams {
  int budget = 0;
  int window = 0;
  double alpha = 1e-4;
  LazyScoreForm form = LazyScoreForm::Code;
  bool fp16_state = false;
  KvLayout layout = KvLayout::Gqa;
};

class LazyPolicy final : public WindowedPolicy {
 public:
  LazyPolicy(const LazyParams& p, uint64_t seed)
      : WindowedPolicy("lazy", config_for(p), seed, p.layout), p_(p) {
    alpha_f16_ = f16_to_f32(f32_to_f16(float(p.alpha)));
  }

  AttentionNeeds needs() const override {
    AttentionNeeds n;
    n.current_probs = true;
    return n;
  }

 protected:
  void handle_attach() override {
    ts_ = channel("lazy.ts", KvCache::ChannelType::I32);
    mri_ = channel("lazy.mri", KvCache::ChannelType::I32);
  }

  // New tokens get TS = t − 1 and MRI = 0 (channels start at zero); tokens present at the
  // first decode step, the prompt and the first generated token, start at TS = 0.
  void handle_append(int layer, int n_tokens) override {
    const ForwardInfo& f = forward();
    if (f.is_prefill || f.step < 2) return;
    const int32_t ts_new = p_.fp16_state ? round_f16_int(f.step - 1) : int32_t(f.step - 1);
    for (int h = 0; h < cache().n_store_heads(); ++h) {
      int32_t* ts = cache().channel_i32(ts_, layer, h);
      const int n = cache().size(layer, h);
      std::fill(ts + n - n_tokens, ts + n, ts_new);
    }
  }

  // Recurrence update: for every slot whose probability is >= alpha (for a GQA store head:
  // under any query head of its group), MRI = max(MRI, t − TS), then TS = t. Branch-free
  // and blocked so the group maximum stays in L1: this runs every step over every slot.
  void handle_attention(const AttentionStats& st) override {
    const ForwardInfo& f = forward();
    if (f.is_prefill) return;
    TC_CHECK_ARG(st.probs != nullptr,
                 "policy lazy: the engine did not pass the current query's attention probabilities (layer %d)",
                 st.layer);
    KvCache& c = cache();
    const int group = c.queries_per_store_head();
    const int32_t t = p_.fp16_state ? round_f16_int(f.step) : int32_t(f.step);
    constexpr int kBlock = 512;
    float pmax[kBlock];
    for (int sh = 0; sh < c.n_store_heads(); ++sh) {
      const int n = c.size(st.layer, sh);
      const float* head_probs = st.probs + size_t(sh) * group * st.stride;
      int32_t* ts = c.channel_i32(ts_, st.layer, sh);
      int32_t* mri = c.channel_i32(mri_, st.layer, sh);
      for (int s0 = 0; s0 < n; s0 += kBlock) {
        const int m = std::min(kBlock, n - s0);
        std::copy(head_probs + s0, head_probs + s0 + m, pmax);
        for (int g = 1; g < group; ++g) policy_max_into(pmax, head_probs + size_t(g) * st.stride + s0, m);
        if (p_.fp16_state)
          update_f16(pmax, ts + s0, mri + s0, m, t);
        else
          update(pmax, ts + s0, mri + s0, m, t, float(p_.alpha));
      }
    }
  }

  // int32 state: TS <= t always, so with mask = active ? ~0 : 0 the update is
  // gap = (t − TS) & mask; MRI = max(MRI, gap); TS += gap — branch-free and vectorisable.
  static void update(const float* __restrict p, int32_t* __restrict ts, int32_t* __restrict mri, int m, int32_t t,
                     float alpha) {
    int i = 0;
    for (; i + 8 <= m; i += 8)
      for (int l = 0; l < 8; ++l) {
        const int32_t mask = -int32_t(p[i + l] >= alpha);
        const int32_t gap = (t - ts[i + l]) & mask;
        mri[i + l] = std::max(mri[i + l], gap);
        ts[i + l] += gap;
      }
    for (; i < m; ++i) {
      const int32_t mask = -int32_t(p[i] >= alpha);
      const int32_t gap = (t - ts[i]) & mask;
      mri[i] = std::max(mri[i], gap);
      ts[i] += gap;
    }
  }

  // fp16 emulation: the probability, t and the gap are rounded to fp16 as in the released code.
  void update_f16(const float* p, int32_t* ts, int32_t* mri, int m, int32_t t) const {
    for (int i = 0; i < m; ++i) {
      if (!(f16_to_f32(f32_to_f16(p[i])) >= alpha_f16_)) continue;
      mri[i] = std::max(mri[i], round_f16_int(int64_t(t) - ts[i]));
      ts[i] = t;
    }
  }

  void score(int layer, int head, int n_cand, float* scores, ScoreScratch&) const override {
    const int64_t t = forward().step;
    const int32_t* ts = cache().channel_i32(ts_, layer, head);
    const int32_t* mri = cache().channel_i32(mri_, layer, head);
    for (int s = 0; s < n_cand; ++s) {
      int64_t delta = t - ts[s];
      if (p_.fp16_state) delta = round_f16_int(delta);
      scores[s] = float(lazy_importance(p_.form, double(delta), double(mri[s])));
    }
  }

 private:
  static Config config_for(const LazyParams& p) {
    Config c;
    c.budget = p.budget;
    c.recent = p.window;
    c.sinks = 0;
    c.schedule.decode = EvictionSchedule::Decode::EveryPeriodSteps;
    c.schedule.prefill = EvictionSchedule::Prefill::Keep;
    c.schedule.period = p.window;
    c.selector = Selector::TopK;
    return c;
  }

  LazyParams p_;
  float alpha_f16_ = 0;
  int ts_ = -1, mri_ = -1;
};

int lazy_default_window(int budget, const PolicySpec&) { return budget > 0 ? std::max(16, budget / 8) : 16; }

std::unique_ptr<KvPolicy> make_lazy(const PolicySpec& spec, const KvCacheShape& shape) {
  PolicyOptions o(spec);
  LazyParams p;
  p.window = o.window(lazy_default_window(spec.budget, spec), 1, 1 << 20);
  p.budget = o.budget(p.window + 1, str_printf("the last W = %d tokens are always kept; B must exceed W", p.window));
  p.alpha = o.get_double("alpha", 1e-4, 1e-12, 1.0);
  p.form = o.get_choice("score", "code", {"code", "paper"}) == "code" ? LazyScoreForm::Code : LazyScoreForm::Paper;
  p.layout = o.get_choice("heads", "kv", {"kv", "query"}) == "kv" ? KvLayout::Gqa : KvLayout::PerQueryHead;
  p.fp16_state = o.get_choice("state", "int32", {"int32", "fp16"}) == "fp16";
  return std::make_unique<LazyPolicy>(p, spec.seed);
}

const PolicyRegistrar kRegisterLazy(PolicyInfo{
    "lazy",
    "LazyEviction: per-token last-activation step TS and max recurrence interval MRI (attention >= alpha); "
    "every W decode steps, if size > B, keep the last W plus the top B-W by I = H1 + H2 (order: kept by "
    "descending I, then the last W); prompt kept whole at prefill; peak B + W",
    {
        {"alpha", "1e-4", "activation threshold on the current query's attention probability (5e-4 for DS-Llama-8B)"},
        {"score", "code",
         "code: the released code's I = 2σ(-(1+Δ/(M+1e-5))) + 2σ(1-M)·[M>0]; paper: the paper's form (A) "
         "2σ(-Δ/M) + 2σ(-1/(M-1))·[M>0]"},
        {"heads", "kv",
         "kv: native GQA cache, a token is active for a KV head when any query head of its group has p >= "
         "alpha (deviation from the code); query: one K/V copy per query head as the released code's repeat_kv "
         "(faithful, group-size times the memory)"},
        {"state", "int32", "TS/MRI storage: int32, or fp16 to reproduce the released code's fp16 rounding of steps"},
    },
    make_lazy,
    "B = tokens kept per head after an eviction (prompt included); must exceed W. Capacity max(prompt, B) + W",
    "W = observation window = eviction period = protected recent tokens; default max(16, B/8) (paper: the "
    "80th percentile of token MRI, see `thinkcache analyze`)",
    lazy_default_window,
});

}  // namespace
}  // namespace tc

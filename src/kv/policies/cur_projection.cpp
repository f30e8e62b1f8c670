#include "kv/policies/cur_projection.h"

#include <algorithm>
#include <cmath>

#include "kv/policy_base.h"
#include "kv/policy_options.h"
#include "kv/policy_score_ops.h"
#include "util/error.h"

namespace tc {

const char* const kCurProjectionBudgetRule =
    "B = tokens kept per KV head after an eviction (prompt included); must be a multiple of R and exceed R + sinks. "
    "Capacity max(prompt, B) + R";
const char* const kCurProjectionWindowRule = "R = recent window = eviction period; default 64";

std::vector<PolicyParam> cur_projection_params() {
  return {
      {"rank", "20", "columns r of the Gaussian projection G ~ N(0, 1/r)"},
      {"sinks", "4", "first positions always kept (score 1.0 in the code)"},
  };
}

namespace {

struct CurParams {
  std::string name;
  int budget = 0;
  int window = 64;
  int sinks = 4;
  int rank = 20;
  bool resample = true;
};

class CurProjectionPolicy final : public WindowedPolicy {
 public:
  CurProjectionPolicy(const CurParams& p, uint64_t seed) : WindowedPolicy(p.name, config_for(p), seed), p_(p) {}

  AttentionNeeds needs() const override { return {}; }

 protected:
  void handle_attach() override {
    projection_.assign(size_t(cache().n_layers()), {});
    if (!p_.resample) cached_ = channel("curdkv.k2v2", KvCache::ChannelType::F32);
  }

  // G for this layer: [head_dim][r_pad], r columns then zero padding to a multiple of 8.
  void begin_layer_eviction(int layer, int64_t event) override {
    std::vector<float>& g = projection_[layer];
    if (!p_.resample && !g.empty()) return;
    const int d = cache().head_dim();
    Rng rng = rng_for(layer, 0, p_.resample ? event : 0, /*salt=*/1);
    const double stddev = 1.0 / std::sqrt(double(p_.rank));
    g.assign(size_t(d) * padded_rank(), 0.0f);
    for (int dd = 0; dd < d; ++dd)
      for (int c = 0; c < p_.rank; ++c) g[size_t(dd) * padded_rank() + c] = float(rng.normal() * stddev);
  }

  int padded_rank() const { return (p_.rank + 7) / 8 * 8; }

  // out[i] = ‖x_i G‖² for rows x: [n][d]. Four rows and eight projection columns at a time,
  // accumulated in registers over d (four independent chains, no horizontal sums per dot).
  void projected_norms(const float* x, int n, const std::vector<float>& g, float* out) const {
    const int d = cache().head_dim(), rp = padded_rank();
    const float* gd = g.data();
    int i = 0;
    for (; i + 4 <= n; i += 4) {
      const float *x0 = x + size_t(i) * d, *x1 = x0 + d, *x2 = x1 + d, *x3 = x2 + d;
      float n0 = 0, n1 = 0, n2 = 0, n3 = 0;
      for (int c0 = 0; c0 < rp; c0 += 8) {
        float a0[8] = {}, a1[8] = {}, a2[8] = {}, a3[8] = {};
        for (int e = 0; e < d; ++e) {
          const float* gl = gd + size_t(e) * rp + c0;
          for (int l = 0; l < 8; ++l) {
            a0[l] += x0[e] * gl[l];
            a1[l] += x1[e] * gl[l];
            a2[l] += x2[e] * gl[l];
            a3[l] += x3[e] * gl[l];
          }
        }
        for (int l = 0; l < 8; ++l) {
          n0 += a0[l] * a0[l];
          n1 += a1[l] * a1[l];
          n2 += a2[l] * a2[l];
          n3 += a3[l] * a3[l];
        }
      }
      out[i] = n0, out[i + 1] = n1, out[i + 2] = n2, out[i + 3] = n3;
    }
    for (; i < n; ++i) {
      const float* xi = x + size_t(i) * d;
      double norm = 0;
      for (int c = 0; c < p_.rank; ++c) {
        double y = 0;
        for (int e = 0; e < d; ++e) y += double(xi[e]) * gd[size_t(e) * rp + c];
        norm += y * y;
      }
      out[i] = float(norm);
    }
  }

  void score(int layer, int head, int n_cand, float* scores, ScoreScratch& scratch) const override {
    const int d = cache().head_dim();
    const std::vector<float>& g = projection_[layer];
    std::vector<float>& rows = scratch.a;  // [m][d] rows to project
    std::vector<float>& k2 = scratch.c;    // [m]
    std::vector<float>& v2 = scratch.b;    // [m]
    if (p_.resample) {
      rows.resize(size_t(n_cand) * d);
      k2.resize(size_t(n_cand));
      load_keys_f32(cache(), layer, head, 0, n_cand, rows.data());
      projected_norms(rows.data(), n_cand, g, k2.data());
      load_values_f32(cache(), layer, head, 0, n_cand, rows.data());
      projected_norms(rows.data(), n_cand, g, scores);
      for (int i = 0; i < n_cand; ++i) scores[i] *= k2[i];
    } else {
      // A fixed G: each token's k2·v2 is computed once (at the first eviction that sees it)
      // and kept in a channel that moves with its slot; 0 = not computed yet.
      float* cached = cache().channel_f32(cached_, layer, head);
      std::vector<int32_t> missing;
      for (int i = 0; i < n_cand; ++i)
        if (cached[i] == 0.0f) missing.push_back(i);
      const int m = int(missing.size());
      rows.resize(size_t(m) * d);
      k2.resize(size_t(m));
      v2.resize(size_t(m));
      for (int j = 0; j < m; ++j) load_keys_f32(cache(), layer, head, missing[j], 1, rows.data() + size_t(j) * d);
      projected_norms(rows.data(), m, g, k2.data());
      for (int j = 0; j < m; ++j) load_values_f32(cache(), layer, head, missing[j], 1, rows.data() + size_t(j) * d);
      projected_norms(rows.data(), m, g, v2.data());
      for (int j = 0; j < m; ++j) cached[missing[j]] = k2[j] * v2[j];
      std::copy(cached, cached + n_cand, scores);
    }
    double total = 0;
    for (int i = 0; i < n_cand; ++i) total += scores[i];
    if (total > 0)
      for (int i = 0; i < n_cand; ++i) scores[i] = float(scores[i] / total);
  }

 private:
  static Config config_for(const CurParams& p) {
    Config c;
    c.budget = p.budget;
    c.recent = p.window;
    c.sinks = p.sinks;
    c.schedule.decode = EvictionSchedule::Decode::CacheLengthMultiple;
    c.schedule.prefill = EvictionSchedule::Prefill::Keep;
    c.schedule.period = p.window;
    c.selector = Selector::TopK;
    return c;
  }

  CurParams p_;
  std::vector<std::vector<float>> projection_;  // [n_layers] G: [head_dim][r_pad]
  int cached_ = -1;                              // curdkv: per-slot k2·v2 under the fixed G
};

}  // namespace

int cur_projection_default_window(int, const PolicySpec&) { return 64; }

std::unique_ptr<KvPolicy> make_cur_projection_policy(const PolicySpec& spec, const KvCacheShape&,
                                                     bool resample_each_eviction) {
  PolicyOptions o(spec);
  CurParams p;
  p.name = spec.name;
  p.resample = resample_each_eviction;
  p.window = o.window(cur_projection_default_window(spec.budget, spec), 1, 1 << 16);
  p.sinks = o.get_int("sinks", 4, 0, 1 << 20);
  p.rank = o.get_int("rank", 20, 1, 4096);
  p.budget = o.budget(p.window + p.sinks + 1,
                      str_printf("the last R = %d tokens and %d sinks are always kept", p.window, p.sinks));
  if (p.budget % p.window != 0)
    TC_THROW("policy %s: --kv-budget %d must be a multiple of the window R = %d (as in the VaSE code: each "
             "eviction drops exactly R tokens)",
             spec.name.c_str(), p.budget, p.window);
  return std::make_unique<CurProjectionPolicy>(p, spec.seed);
}

}  // namespace tc

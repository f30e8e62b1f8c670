// `rkv`: R-KV as released (Zefan-Cai/R-KV r1_kv.py, spec §3.1). Fires at the end of the
// prompt if it holds >= B tokens, and during decoding whenever the total token count is a
// multiple of 128 and the cache holds >= B. Per KV head, with the last α = 8 queries:
//   attention:  logits q·k/√d, MAX over the group's query heads (before the softmax),
//               softmax over keys [0, L − α), mean over the α queries, MaxPool1d(7);
//   redundancy: cosine similarities S of all L keys, diagonal 0; in each row i the most
//               recent j with S[i, j] > 0.5 is zeroed ("keep the most recent duplicate"; a
//               row with none zeroes S[i, 0] — the code's index-0 quirk, option);
//               Red = softmax_j(mean_i S[i, j]), first L − α entries;
//   score Z = λ·attention − (1 − λ)·Red, λ = 0.1; keep the top B − α (descending Z, as the
//   code's topk gather) plus the α window tokens. Peak B + 128. No sinks.
#include "kv/policies/rkv.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kv/policies/registry_parts.h"
#include "kv/policy_base.h"
#include "kv/policy_options.h"
#include "kv/policy_score_ops.h"
#include "kv/query_window.h"
#include "util/error.h"

namespace tc {

void rkv_scores(const KvCache& c, const QueryWindow& window, int layer, int head, int n_cand,
                const RkvScoreParams& p, float* scores, ScoreScratch& scratch) {
  const int d = c.head_dim();
  const int n = c.size(layer, head);
  const int group = c.queries_per_store_head();
  const int n_q = window.count(layer);
  std::vector<float>& keys = scratch.a;  // [n][d]
  keys.resize(size_t(n) * d);
  load_keys_f32(c, layer, head, 0, n, keys.data());
  // queries: [n_q][group][d] the window queries of this store head's query heads.
  std::vector<float> queries(size_t(n_q) * group * d);
  for (int j = 0; j < n_q; ++j)
    for (int g = 0; g < group; ++g)
      std::copy(window.query(layer, j, head * group + g), window.query(layer, j, head * group + g) + d,
                queries.data() + (size_t(j) * group + g) * d);

  // Attention importance over candidates [0, n_cand): per window query, the group's logits
  // aggregated (max by default) before a softmax over the candidates; mean over the queries.
  std::vector<float>& attn = scratch.b;         // [n_cand]
  std::vector<float>& logits = scratch.logits;  // [n_q * group][n_cand]
  attn.assign(size_t(n_cand), 0.0f);
  logits.resize(size_t(n_q) * group * n_cand);
  const float scale = float(1.0 / std::sqrt(double(d)));
  policy_dot_block(queries.data(), n_q * group, d, keys.data(), n_cand, d, d, scale, logits.data(), n_cand);
  for (int j = 0; j < n_q; ++j) {
    float* agg = logits.data() + size_t(j) * group * n_cand;  // row (j, g = 0) receives the aggregate
    for (int g = 1; g < group; ++g) {
      const float* row = agg + size_t(g) * n_cand;
      if (p.group_max)
        policy_max_into(agg, row, n_cand);
      else
        policy_axpy(agg, row, 1.0f, n_cand);
    }
    if (!p.group_max)
      for (int i = 0; i < n_cand; ++i) agg[i] /= float(group);
    policy_softmax(agg, n_cand);
    policy_axpy(attn.data(), agg, 1.0f / float(n_q), n_cand);
  }
  std::vector<float> pooled(static_cast<size_t>(n_cand));
  if (p.pool_kernel > 1)
    max_pool_same(attn.data(), pooled.data(), n_cand, p.pool_kernel);
  else
    pooled = attn;

  // Redundancy over all n keys, four similarity rows at a time (no n×n matrix).
  std::vector<float>& unit = scratch.c;  // [n][d] keys / (‖k‖ + 1e−8)
  unit.resize(size_t(n) * d);
  for (int i = 0; i < n; ++i) {
    const float* k = keys.data() + size_t(i) * d;
    float norm = std::sqrt(policy_dot(k, k, d));
    float inv = 1.0f / (norm + 1e-8f);
    for (int e = 0; e < d; ++e) unit[size_t(i) * d + e] = k[e] * inv;
  }
  // S is symmetric before the per-row zeroing, so only j > i is computed: each entry feeds
  // both rows' sums (= column sums) and both rows' "most recent duplicate" search; the one
  // zeroed entry per row is subtracted afterwards.
  std::vector<float> column(static_cast<size_t>(n), 0.0f);  // Σ_i S[i, j] = Σ_j S[j, i]
  std::vector<int> last_dup(static_cast<size_t>(n), -1);    // per row: largest j with S > threshold
  const float threshold = float(p.threshold);
  constexpr int kRows = 4;
  std::vector<float> rows(size_t(kRows) * n);  // [kRows][n - i0] the upper part of a row block
  for (int i0 = 0; i0 < n; i0 += kRows) {
    const int m = std::min(kRows, n - i0), width = n - i0;
    policy_dot_block(unit.data() + size_t(i0) * d, m, d, unit.data() + size_t(i0) * d, width, d, d, 1.0f,
                     rows.data(), width);
    for (int r = 0; r < m; ++r) {
      const int i = i0 + r;
      const float* row = rows.data() + size_t(r) * width - i0;  // row[j] = S[i, j] for j >= i0
      float sum = 0;
      for (int j = i + 1; j < n; ++j) {
        const float v = row[j];
        sum += v;
        column[j] += v;
        if (v > threshold) {
          last_dup[i] = j;  // ascending j: the last one wins
          last_dup[j] = std::max(last_dup[j], i);
        }
      }
      column[i] += sum;
    }
  }
  if (threshold < 0)  // the zeroed diagonal itself counts as a duplicate when the threshold is negative
    for (int i = 0; i < n; ++i) last_dup[i] = std::max(last_dup[i], i);
  for (int i = 0; i < n; ++i) {
    const int z = last_dup[i] >= 0 ? last_dup[i] : (p.index0_quirk ? 0 : -1);
    if (z < 0 || z == i) continue;  // the diagonal is already zero
    column[z] -= policy_dot(unit.data() + size_t(i) * d, unit.data() + size_t(z) * d, d);
  }
  std::vector<float> red(static_cast<size_t>(n));
  for (int j = 0; j < n; ++j) red[j] = column[j] / float(n);
  policy_softmax(red.data(), n);

  const float lambda = float(p.lambda);
  for (int i = 0; i < n_cand; ++i) scores[i] = lambda * pooled[i] - (1.0f - lambda) * red[i];
}

namespace {

struct RkvParams {
  int budget = 0;
  int window = 8;     // α
  int period = 128;   // divide_length
  RkvScoreParams score;
};

class RkvPolicy final : public WindowedPolicy {
 public:
  RkvPolicy(const RkvParams& p, uint64_t seed) : WindowedPolicy("rkv", config_for(p), seed), p_(p) {}

  AttentionNeeds needs() const override {
    AttentionNeeds n;
    n.query_window = p_.window;
    return n;
  }

 protected:
  void handle_attach() override {
    const KvCache& c = cache();
    queries_.reset(c.n_layers(), c.shape().n_heads, c.head_dim(), p_.window);
  }

  void handle_queries(int layer, const float* q, int n_tokens) override {
    queries_.push(layer, q, n_tokens, forward().first_pos);
  }

  void score(int layer, int head, int n_cand, float* scores, ScoreScratch& scratch) const override {
    rkv_scores(cache(), queries_, layer, head, n_cand, p_.score, scores, scratch);
  }

 private:
  static Config config_for(const RkvParams& p) {
    Config c;
    c.budget = p.budget;
    c.recent = p.window;
    c.sinks = 0;
    c.schedule.decode = EvictionSchedule::Decode::TotalTokensMultiple;
    c.schedule.prefill = EvictionSchedule::Prefill::CompressIfAtLeast;
    c.schedule.period = p.period;
    c.selector = Selector::TopK;
    return c;
  }

  RkvParams p_;
  QueryWindow queries_;
};

int rkv_default_window(int, const PolicySpec&) { return 8; }

std::unique_ptr<KvPolicy> make_rkv(const PolicySpec& spec, const KvCacheShape&) {
  PolicyOptions o(spec);
  RkvParams p;
  p.window = o.window(rkv_default_window(spec.budget, spec), 1, 1 << 16);
  p.budget = o.budget(p.window + 1, str_printf("the last alpha = %d window tokens are always kept", p.window));
  p.period = o.get_int("every", 128, 1, 1 << 20);
  p.score.lambda = o.get_double("lambda", 0.1, 0.0, 1.0);
  p.score.threshold = o.get_double("threshold", 0.5, -1.0, 1.0);
  p.score.pool_kernel = o.get_int("kernel", 7, 1, 1001);
  if (p.score.pool_kernel % 2 == 0)
    TC_THROW("policy rkv: kernel=%d must be odd (1 disables pooling)", p.score.pool_kernel);
  p.score.group_max = o.get_choice("gqa", "max", {"max", "mean"}) == "max";
  p.score.index0_quirk = o.get_bool("index0_quirk", true);
  return std::make_unique<RkvPolicy>(p, spec.seed);
}

const PolicyRegistrar kRegisterRkv(PolicyInfo{
    "rkv",
    "R-KV (official): at prefill end if P >= B and whenever total tokens % 128 == 0 with size >= B, keep the "
    "top B-alpha by lambda*maxpool7(attention of the last alpha queries, max over the group's logits) - "
    "(1-lambda)*key redundancy (cosine > 0.5, most recent duplicate spared), plus the alpha window; peak B + 128",
    {
        {"lambda", "0.1", "mix_lambda (paper/README 0.1; the code's default is 0.07)"},
        {"every", "128", "divide_length: compress when total tokens % every == 0"},
        {"threshold", "0.5", "cosine similarity above which two keys are duplicates"},
        {"kernel", "7", "MaxPool1d kernel over slot order applied to the attention importance (1 = off)"},
        {"gqa", "max", "aggregation of the group's query-head logits before the softmax: max (code default) or mean"},
        {"index0_quirk", "1",
         "1: a key row with no duplicate zeroes its similarity to slot 0, as the code does; 0: leaves it"},
    },
    make_rkv,
    "B = tokens kept per KV head after a compression (prompt included); must exceed alpha. Capacity max(P, B) + every",
    "alpha = query window and protected recent tokens; default 8",
    rkv_default_window,
    false,
    "every",
    128,
});

}  // namespace
}  // namespace tc

// The windowed-attention score of the VaSE codebase (spec §2.6 (1)), shared by `vase` and
// the decode-time `snapkv`: for one store head g and candidate slots i in [0, n_cand),
//   S_g(i) = mean over the query heads h of g and the kept window queries q_{h,j} of
//            softmax_i( q_{h,j} · k_i / (√D · temperature) )      (softmax over candidates only)
// then AvgPool1d(kernel, stride 1, padding kernel/2, count_include_pad) over SLOT order
// (kernel 1 = no smoothing). The code pools each query head before the group mean; both are
// linear, so pooling the mean is the same up to rounding.
#pragma once

#include "kv/kv_cache.h"
#include "kv/policy_base.h"
#include "kv/query_window.h"

namespace tc {

// out: [n_cand]
void vase_window_scores(const KvCache& cache, const QueryWindow& window, int layer, int head, int n_cand,
                        float temperature, int pool_kernel, float* out, ScoreScratch& scratch);

// The same score without the side pass, from the attention kernel's per-step probabilities
// (temperature 1 only). The window queries are the last R decode queries before an eviction
// at length L (a multiple of R); each of them attended over every candidate (the candidates
// are older than the whole window), so its softmax over the candidates alone is its full
// softmax renormalised over them:
//   p_cand(i) = p(i) / Σ_{i' < L − R} p(i')
// Summing that per slot over the window's queries, divided by R and the group size, gives
// S_g before pooling — the side pass's number up to float rounding. When a window began
// before decoding (its queries came from a prefill chunk, whose per-query probabilities the
// kernel does not expose) ready() is false and the caller runs the side pass instead.
class WindowScoreTaps {
 public:
  // period = R (eviction period = window), budget = B; evictions happen at lengths L with
  // L % R == 0 and L > B.
  void reset(int n_layers, int period, int budget);
  // At a decode step, after attention: accumulates into the f32 per-slot `channel`.
  void accumulate(KvCache& cache, int channel, const AttentionStats& stats);
  // True when an eviction of `layer` at length n can use the accumulated score.
  bool ready(int layer, int n) const;
  // S_g before pooling for candidates [0, n_cand). out: [n_cand]
  void mean(const KvCache& cache, int channel, int layer, int head, int n_cand, float* out) const;

 private:
  int next_eviction_length(int n) const;

  int period_ = 0, budget_ = 0;
  std::vector<int> target_;  // [n_layers] eviction length the running window accumulates for (-1: none)
  std::vector<int> count_;   // [n_layers] decode queries accumulated
};

}  // namespace tc

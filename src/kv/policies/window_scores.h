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

}  // namespace tc

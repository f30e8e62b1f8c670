// SnapKV's prefill score (spec §3.2), exposed for tests: for candidate slots [0, n_cand) of
// (layer, head), the SUM over the kept window queries of their causal softmax over all live
// keys, pooled over slot order (avg or max, kernel 1 = off), then averaged over the store
// head's query heads. out: [n_cand]
#pragma once

#include "kv/kv_cache.h"
#include "kv/policy_base.h"
#include "kv/query_window.h"

namespace tc {

void snapkv_prefill_scores(const KvCache& cache, const QueryWindow& window, int layer, int head, int n_cand,
                           int pool_kernel, bool max_pool, float* out, ScoreScratch& scratch);

}  // namespace tc

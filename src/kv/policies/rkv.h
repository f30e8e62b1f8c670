// R-KV's score (spec §3.1), exposed for tests: see rkv.cpp for the rule.
#pragma once

#include "kv/kv_cache.h"
#include "kv/policy_base.h"
#include "kv/query_window.h"

namespace tc {

struct RkvScoreParams {
  double lambda = 0.1;      // mix_lambda
  double threshold = 0.5;   // cosine similarity of duplicates
  int pool_kernel = 7;      // MaxPool1d over slot order (1 = off)
  bool group_max = true;    // max (else mean) over the group's query-head logits, before the softmax
  bool index0_quirk = true; // a row with no duplicate zeroes its entry for slot 0
};

// Z for candidate slots [0, n_cand) of (layer, head), n_cand = size − window; the window
// queries are the policy's last α. out: [n_cand]
void rkv_scores(const KvCache& cache, const QueryWindow& window, int layer, int head, int n_cand,
                const RkvScoreParams& p, float* out, ScoreScratch& scratch);

}  // namespace tc

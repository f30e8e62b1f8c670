#include "kv/policies/window_scores.h"

#include <algorithm>
#include <cmath>

#include "kv/policy_score_ops.h"
#include "util/error.h"

namespace tc {

void vase_window_scores(const KvCache& cache, const QueryWindow& window, int layer, int head, int n_cand,
                        float temperature, int pool_kernel, float* out, ScoreScratch& scratch) {
  const int d = cache.head_dim();
  const int group = cache.queries_per_store_head();
  const int n_q = window.count(layer);
  std::fill(out, out + n_cand, 0.0f);
  if (n_cand == 0 || n_q == 0) return;
  // keys: [n_cand][d] the candidates as f32; queries: [n_q][d] one query head's window.
  std::vector<float>& keys = scratch.a;
  std::vector<float>& queries = scratch.b;
  std::vector<float>& mean = scratch.c;
  keys.resize(size_t(n_cand) * d);
  queries.resize(size_t(n_q) * d);
  mean.assign(size_t(n_cand), 0.0f);
  load_keys_f32(cache, layer, head, 0, n_cand, keys.data());
  WindowSoftmaxArgs a;
  a.q = queries.data();
  a.q_stride = d;
  a.n_q = n_q;
  a.k = keys.data();
  a.n_softmax = n_cand;
  a.n_out = n_cand;
  a.d = d;
  a.scale = float(1.0 / (std::sqrt(double(d)) * temperature));
  a.weight = 1.0f / float(n_q * group);
  for (int g = 0; g < group; ++g) {
    window.gather(layer, head * group + g, queries.data());
    accumulate_window_softmax(a, mean.data(), scratch.logits);
  }
  if (pool_kernel > 1)
    avg_pool_same(mean.data(), out, n_cand, pool_kernel);
  else
    std::copy(mean.begin(), mean.end(), out);
}

}  // namespace tc

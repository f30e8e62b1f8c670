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

void WindowScoreTaps::reset(int n_layers, int period, int budget) {
  period_ = period;
  budget_ = budget;
  target_.assign(size_t(n_layers), -1);
  count_.assign(size_t(n_layers), 0);
}

int WindowScoreTaps::next_eviction_length(int n) const {
  int len = ((n + period_ - 1) / period_) * period_;
  while (len <= budget_) len += period_;
  return len;
}

void WindowScoreTaps::accumulate(KvCache& cache, int channel, const AttentionStats& st) {
  const int layer = st.layer;
  const int n = cache.size(layer, 0);
  const int len = next_eviction_length(n);
  const int window_start = len - period_ + 1;  // size after the window's first query appended
  if (n < window_start) return;
  const int n_heads_store = cache.n_store_heads();
  if (n == window_start) {
    for (int h = 0; h < n_heads_store; ++h) {
      float* acc = cache.channel_f32(channel, layer, h);
      std::fill(acc, acc + cache.size(layer, h), 0.0f);
    }
    target_[layer] = len;
    count_[layer] = 0;
  }
  if (target_[layer] != len) return;  // the window started before decoding: side pass at eviction
  TC_CHECK_ARG(st.probs != nullptr,
               "policy vase: the engine did not pass the current query's attention probabilities (layer %d)", layer);
  const int n_cand = len - period_;
  const int group = cache.queries_per_store_head();
  for (int h = 0; h < st.n_heads; ++h) {
    const int sh = cache.store_head_of_query(h);
    TC_ASSERT(cache.size(layer, sh) == n);
    const float* p = st.probs + size_t(h) * st.stride;
    const float z = policy_sum(p, n_cand);
    if (!(z > 0)) continue;
    policy_axpy(cache.channel_f32(channel, layer, sh), p, 1.0f / (z * float(group)), n_cand);
  }
  ++count_[layer];
}

bool WindowScoreTaps::ready(int layer, int n) const { return target_[layer] == n && count_[layer] == period_; }

void WindowScoreTaps::mean(const KvCache& cache, int channel, int layer, int head, int n_cand, float* out) const {
  const float* acc = cache.channel_f32(channel, layer, head);
  const float inv = 1.0f / float(count_[layer]);
  for (int s = 0; s < n_cand; ++s) out[s] = acc[s] * inv;
}

}  // namespace tc

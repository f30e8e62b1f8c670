// TEST ONLY: helpers for hand-made policy scenarios (one forward call with hand-written
// tokens and attention statistics), following the hook order of kv/policy.h.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "kv/kv_cache.h"
#include "kv/policy.h"

namespace tc::testing {

inline PolicySpec policy_spec(const std::string& name, int budget, int window = -1,
                              std::map<std::string, std::string> options = {}, uint64_t seed = 0) {
  PolicySpec s;
  s.name = name;
  s.budget = budget;
  s.window = window;
  s.options = std::move(options);
  s.seed = seed;
  return s;
}

// One forward call of n tokens on every layer with the same data.
//   q: [n][n_heads][head_dim]; k, v: [n][n_kv_heads][head_dim]
//   probs / colsum: [n_heads][stride] or null (passed as the attention statistics)
inline void hand_forward(KvPolicy& policy, KvCache& cache, bool is_prefill, int64_t step, int64_t first_pos, int n,
                         const float* q, const float* k, const float* v, const float* probs = nullptr,
                         const float* colsum = nullptr, int stride = 0) {
  ForwardInfo info;
  info.is_prefill = is_prefill;
  info.n_tokens = n;
  info.step = step;
  info.first_pos = first_pos;
  info.total_tokens = first_pos + n;
  policy.begin_forward(info);
  std::vector<int32_t> pos(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) pos[i] = int32_t(first_pos + i);
  for (int layer = 0; layer < cache.n_layers(); ++layer) {
    policy.on_queries(layer, q, n);
    cache.append(layer, n, k, v, pos.data());
    policy.on_append(layer, n);
    AttentionStats st;
    st.layer = layer;
    st.n_heads = cache.shape().n_heads;
    st.stride = stride;
    st.probs = probs;
    st.colsum = colsum;
    policy.on_attention(st);
  }
  policy.end_forward(info);
}

inline void hand_end_prefill(KvPolicy& policy, int64_t prompt_tokens) {
  ForwardInfo info;
  info.is_prefill = true;
  info.n_tokens = int(prompt_tokens);
  info.total_tokens = prompt_tokens;
  policy.end_prefill(info);
}

// Positions of (layer, head) in slot order.
inline std::vector<int> slot_positions(const KvCache& c, int layer, int head) {
  return std::vector<int>(c.positions(layer, head), c.positions(layer, head) + c.size(layer, head));
}

}  // namespace tc::testing

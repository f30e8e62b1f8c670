#include "model/transformer.h"

#include <algorithm>
#include <cmath>

#include "backend/cpu/ops.h"
#include "util/error.h"

namespace tc {

namespace {

// y[n][out] = x[n][in] W^T + b.
void linear_forward(const Linear& l, const float* x, float* y, int n, ThreadPool& pool) {
  cpu::matmul(l.w, x, y, n, pool);
  if (l.bias.empty()) return;
  const size_t out = l.bias.size();
  for (int t = 0; t < n; ++t) {
    float* yt = y + size_t(t) * out;
    for (size_t o = 0; o < out; ++o) yt[o] += l.bias[o];
  }
}

void add_in_place(float* x, const float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] += y[i];
}

}  // namespace

TransformerRunner::TransformerRunner(const Model& model, const KvCache& cache, int max_tokens, const AttentionNeeds& needs)
    : model_(model), max_tokens_(max_tokens), needs_(needs), probs_stride_(cache.capacity()) {
  const ModelConfig& c = model.config();
  TC_ASSERT(max_tokens > 0);
  TC_ASSERT(cache.n_layers() == c.n_layers && cache.head_dim() == c.head_dim && cache.shape().n_heads == c.n_heads &&
            cache.shape().n_kv_heads == c.n_kv_heads);
  const size_t n = size_t(max_tokens);
  x_.resize(n * c.hidden);
  xn_.resize(n * c.hidden);
  q_.resize(n * c.q_dim());
  k_.resize(n * c.kv_dim());
  v_.resize(n * c.kv_dim());
  attn_.resize(n * c.q_dim());
  proj_.resize(n * c.hidden);
  gate_.resize(n * c.ffn_hidden);
  up_.resize(n * c.ffn_hidden);
  if (needs.current_probs) probs_.resize(size_t(c.n_heads) * probs_stride_);
  if (needs.prob_colsum) colsum_.resize(size_t(c.n_heads) * probs_stride_);
}

void TransformerRunner::forward(KvCache& cache, KvPolicy* policy, const int32_t* ids, const int32_t* positions,
                                int n_tokens, LogitsMode mode, float* logits, ThreadPool& pool) {
  const ModelConfig& c = model_.config();
  const ModelWeights& w = model_.weights();
  TC_ASSERT(n_tokens > 0 && n_tokens <= max_tokens_);
  const int n = n_tokens, hidden = c.hidden, hd = c.head_dim;
  const float attn_scale = 1.0f / std::sqrt(float(hd));
  const float* inv_freq = model_.rope_inv_freq().data();
  float* probs = probs_.empty() ? nullptr : probs_.data();
  float* colsum = colsum_.empty() ? nullptr : colsum_.data();
  last_kv_bytes_read_ = 0;

  // x: [n][hidden]
  for (int t = 0; t < n; ++t) {
    TC_CHECK_ARG(ids[t] >= 0 && ids[t] < c.vocab, "token id %d is outside the vocabulary [0, %d)", ids[t], c.vocab);
    cpu::embedding_row(w.token_embd, ids[t], x_.data() + size_t(t) * hidden);
  }

  for (int l = 0; l < c.n_layers; ++l) {
    const LayerWeights& L = w.layers[size_t(l)];

    // --- attention block
    cpu::rms_norm(x_.data(), L.attn_norm.data(), xn_.data(), n, hidden, c.rms_eps);
    linear_forward(L.q, xn_.data(), q_.data(), n, pool);
    linear_forward(L.k, xn_.data(), k_.data(), n, pool);
    linear_forward(L.v, xn_.data(), v_.data(), n, pool);
    if (c.qk_norm) {
      // Qwen3: RMSNorm over each head's head_dim before RoPE.
      cpu::rms_norm(q_.data(), L.q_norm.data(), q_.data(), n * c.n_heads, hd, c.rms_eps);
      cpu::rms_norm(k_.data(), L.k_norm.data(), k_.data(), n * c.n_kv_heads, hd, c.rms_eps);
    }
    pool.parallel_for(n, [&](int64_t t0, int64_t t1, int) {
      for (int64_t t = t0; t < t1; ++t) {
        cpu::rope(q_.data() + size_t(t) * c.q_dim(), c.n_heads, hd, positions[t], inv_freq, c.rope_style);
        cpu::rope(k_.data() + size_t(t) * c.kv_dim(), c.n_kv_heads, hd, positions[t], inv_freq, c.rope_style);
      }
    }, 8);

    if (policy) policy->on_queries(l, q_.data(), n);
    cache.append(l, n, k_.data(), v_.data(), positions);
    if (policy) policy->on_append(l, n);
    for (int sh = 0; sh < cache.n_store_heads(); ++sh) last_kv_bytes_read_ += size_t(2) * cache.size(l, sh) * cache.row_bytes();

    if (colsum) std::fill(colsum_.begin(), colsum_.end(), 0.0f);
    cpu::attention(q_.data(), n, positions, cache, l, attn_scale, attn_.data(), probs, colsum, probs_stride_, pool);
    if (policy && (probs || colsum)) {
      AttentionStats stats;
      stats.layer = l;
      stats.n_heads = c.n_heads;
      stats.stride = probs_stride_;
      stats.probs = probs;
      stats.colsum = colsum;
      policy->on_attention(stats);
    }
    linear_forward(L.o, attn_.data(), proj_.data(), n, pool);
    add_in_place(x_.data(), proj_.data(), size_t(n) * hidden);

    // --- SwiGLU MLP
    cpu::rms_norm(x_.data(), L.ffn_norm.data(), xn_.data(), n, hidden, c.rms_eps);
    linear_forward(L.gate, xn_.data(), gate_.data(), n, pool);
    linear_forward(L.up, xn_.data(), up_.data(), n, pool);
    cpu::silu_mul(gate_.data(), up_.data(), gate_.data(), int64_t(n) * c.ffn_hidden);
    linear_forward(L.down, gate_.data(), proj_.data(), n, pool);
    add_in_place(x_.data(), proj_.data(), size_t(n) * hidden);
  }

  if (mode == LogitsMode::None) return;
  const int first = mode == LogitsMode::Last ? n - 1 : 0;
  const int rows = n - first;
  cpu::rms_norm(x_.data() + size_t(first) * hidden, w.output_norm.data(), xn_.data(), rows, hidden, c.rms_eps);
  cpu::matmul(w.output, xn_.data(), logits, rows, pool);
}

}  // namespace tc

// The transformer graph shared by Llama / SmolLM2, Qwen2 and Qwen3 (flags in ModelConfig):
//
//   x = embed(ids)
//   per layer:  h = rms_norm(x) ; q,k,v = h W^T (+b) ; [q,k per-head rms_norm] ; RoPE(q,k, true pos)
//               policy.on_queries ; cache.append(k,v) ; policy.on_append
//               a = attention(q, cache) ; policy.on_attention ; x += a Wo^T (+b)
//               h = rms_norm(x) ; x += (silu(h Wg^T) * h Wu^T) Wd^T
//   logits = rms_norm(x) Wout^T          (last row only, or every row when asked)
//
// A TransformerRunner owns the activation buffers for chunks of up to max_tokens tokens, so a
// decode step allocates nothing. One runner serves one sequence at a time (not thread-safe).
#pragma once

#include <cstdint>
#include <vector>

#include "kv/kv_cache.h"
#include "kv/policy.h"
#include "model/model.h"
#include "util/thread_pool.h"

namespace tc {

enum class LogitsMode : uint8_t {
  None,  // no lm_head (prefill chunks before the last)
  Last,  // logits of the last token of the call: [1][vocab]
  All,   // logits of every token of the call: [n_tokens][vocab] (the parity tool)
};

class TransformerRunner {
 public:
  // max_tokens: the largest n_tokens a forward call will get (the prefill chunk).
  // needs: which attention taps the policy wants (sized by the cache capacity).
  TransformerRunner(const Model& model, const KvCache& cache, int max_tokens, const AttentionNeeds& needs);

  // Runs the layers over n_tokens tokens at the given true positions, appending their K/V to
  // `cache` and calling the per-layer policy hooks (policy may be null). The caller calls
  // begin_forward / end_forward around this. logits: [1 or n_tokens][vocab] per `mode`.
  //   ids, positions: [n_tokens]
  void forward(KvCache& cache, KvPolicy* policy, const int32_t* ids, const int32_t* positions, int n_tokens,
               LogitsMode mode, float* logits, ThreadPool& pool);

  // K+V bytes the attention read in the last forward call (live slots after the append).
  size_t last_kv_bytes_read() const { return last_kv_bytes_read_; }
  int max_tokens() const { return max_tokens_; }

 private:
  const Model& model_;
  int max_tokens_;
  AttentionNeeds needs_;
  int probs_stride_;  // slots per head in the tap buffers (the cache capacity)
  size_t last_kv_bytes_read_ = 0;

  // Activations for up to max_tokens_ tokens.
  std::vector<float> x_;       // x:    [n][hidden] residual stream
  std::vector<float> xn_;      // xn:   [n][hidden] normed input of a sub-block
  std::vector<float> q_;       // q:    [n][n_heads][head_dim]
  std::vector<float> k_;       // k:    [n][n_kv_heads][head_dim]
  std::vector<float> v_;       // v:    [n][n_kv_heads][head_dim]
  std::vector<float> attn_;    // attn: [n][n_heads][head_dim] attention output
  std::vector<float> proj_;    // proj: [n][hidden] output of Wo / Wdown
  std::vector<float> gate_;    // gate: [n][ffn]
  std::vector<float> up_;      // up:   [n][ffn]
  std::vector<float> probs_;   // probs:  [n_heads][capacity] last query's softmax (policy tap)
  std::vector<float> colsum_;  // colsum: [n_heads][capacity] summed softmax (policy tap)
};

}  // namespace tc

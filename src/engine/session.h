// A Session runs one token sequence through a shared Model, keeping its K/V in a KvCache
// it does not own and calling the KV policy hooks (policy == nullptr: full cache).
//
// Positions: every token's true position is the number of tokens processed before it in
// this session; RoPE and causal masking use it, never the slot index (slots get evicted).
// Per forward call the session does begin_forward, the layers (which call on_queries,
// cache.append, on_append, attention, on_attention), then end_forward; after a prefill()
// it calls end_prefill once. Decode steps are numbered t = 1, 2, ...
#pragma once

#include <cstdint>
#include <vector>

#include "kv/kv_cache.h"
#include "kv/policy.h"
#include "model/model.h"
#include "model/transformer.h"
#include "util/thread_pool.h"

namespace tc {

struct SessionOptions {
  int prefill_chunk = 256;  // prompt tokens per forward call
  // True position of the session's first token. Non-zero only when the cache already holds
  // tokens put there by other means (a benchmark's synthetic K/V, a restored state).
  int64_t start_position = 0;
};

// Cumulative counters of a session (bytes as in GenerateTimings).
struct SessionStats {
  int64_t prefill_tokens = 0;
  int64_t decode_steps = 0;
  double prefill_seconds = 0;
  double decode_seconds = 0;    // forward passes of decode() only
  uint64_t prefill_bytes = 0;
  uint64_t decode_bytes = 0;
  int peak_tokens = 0;          // most live slots of any (layer, head), before eviction
  int64_t peak_live_slots = 0;  // most live slots summed over (layer, head)
  int64_t decode_live_slot_steps = 0;  // sum over decode steps of the live slots their attention read
};

class Session {
 public:
  Session(const Model& model, KvCache& cache, KvPolicy* policy, const SessionOptions& options = {},
          ThreadPool& pool = ThreadPool::global());

  // Runs the prompt through the model in chunks. Afterwards logits() holds the last token's
  // logits. all_logits (optional): [n][vocab] logits of every prompt token.
  void prefill(const int32_t* ids, int n, float* all_logits = nullptr);
  // One decode step for `id`; returns its logits [vocab] (valid until the next call).
  const float* decode(int32_t id);

  const float* logits() const { return logits_.data(); }  // [vocab] of the last token
  int64_t n_past() const { return n_past_; }              // position of the next token
  int64_t decode_step() const { return step_; }
  const SessionStats& stats() const { return stats_; }
  const Model& model() const { return model_; }
  KvCache& cache() { return cache_; }
  KvPolicy* policy() { return policy_; }

 private:
  // One forward call over n tokens at positions n_past_ ...
  void forward(const int32_t* ids, int n, bool is_prefill, LogitsMode mode, float* logits);

  const Model& model_;
  KvCache& cache_;
  KvPolicy* policy_;
  SessionOptions options_;
  ThreadPool& pool_;
  TransformerRunner runner_;
  int64_t n_past_ = 0;
  int64_t step_ = 0;
  SessionStats stats_;
  std::vector<float> logits_;     // logits:    [vocab]
  std::vector<int32_t> positions_;  // positions: [prefill_chunk]
};

}  // namespace tc

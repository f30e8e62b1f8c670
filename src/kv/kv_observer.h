// Measures, during a real generation, the two phenomena the seed methods rest on, through
// the same hooks a policy sees (it wraps one and forwards everything):
//   - Token Importance Recurrence (LazyEviction): per (layer, tracked head, token) the last
//     activation step TS and the maximum recurrence interval MRI, with LazyEviction's exact
//     conventions (activation = current-query probability >= alpha; decode steps t = 1, 2, ...;
//     tokens present at t = 1 start at TS = 0, later ones at TS = t − 1). A tracked head is a
//     query head (the released code's repeat_kv state, the default) or a KV head (a token is
//     active when any query head of the group has p >= alpha: `lazy`'s default heads=kv).
//     From those: the MRI distribution, the share of tokens that regain attention after going
//     quiet, and the paper's window recipe W = 80th percentile of token MRI.
//   - Value-range outliers (VaSE): per layer, the distribution of each token's value range
//     (max − min over a KV head's channels, from the stored rows) and its outliers.
// Tracking is keyed by token position, so it stays right when the wrapped policy evicts
// (an evicted token's record freezes at its eviction).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kv/policy.h"
#include "util/json.h"

namespace tc {

struct ObserverOptions {
  double alpha = 1e-4;  // activation threshold (LazyEviction's default)
  bool per_kv_head = false;  // track per KV head (any query head of the group) instead of per query head
  // A token "recurs" when two consecutive activations are at least this many steps apart
  // (it went quiet for min_quiet − 1 steps and came back). Reported for several gaps.
  std::vector<int> recurrence_gaps = {2, 8, 32, 128};
  double outlier_factor = 5.0;  // a value range above factor × the layer median is an outlier
  int top_tokens = 8;           // largest-range tokens listed per layer
};

struct RecurrenceSummary {
  int64_t tokens = 0;        // tracked (layer, tracked head, token) triples
  int64_t never_active = 0;  // MRI = 0: no activation since insertion
  // MRI percentiles over the triples activated at least once (MRI >= 1).
  double p50 = 0, p80 = 0, p90 = 0, p95 = 0, p99 = 0, max = 0;
  int recommended_window = 0;  // ceil(p80): the paper's choice of W
  std::vector<int> gaps;                  // = ObserverOptions::recurrence_gaps
  std::vector<double> share_recurring;    // per gap: share of tracked triples with MRI >= gap
  std::vector<int64_t> histogram;         // MRI counts in bins [0], [1], [2, 3], [4, 7], ... (log2)
};

struct ValueRangeLayer {
  int64_t tokens = 0;  // (token, KV head) pairs
  double median = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
  double outlier_share = 0;     // share above outlier_factor × median
  double sink_ratio = 0;        // mean range of positions 0-3 / median ("value-state drain" if < 1)
  std::vector<std::pair<int, float>> top;  // (position, range) of the largest ranges
};

class KvObserver final : public KvPolicy {
 public:
  KvObserver(std::unique_ptr<KvPolicy> inner, const ObserverOptions& options);

  // --- KvPolicy: everything forwarded to the wrapped policy, plus the recording.
  std::string name() const override { return inner_->name(); }
  AttentionNeeds needs() const override;
  KvLayout layout() const override { return inner_->layout(); }
  int capacity_for(int prompt_tokens, int max_new_tokens) const override {
    return inner_->capacity_for(prompt_tokens, max_new_tokens);
  }
  int budget() const override { return inner_->budget(); }
  void attach(KvCache& cache) override;
  void begin_forward(const ForwardInfo& info) override;
  void on_queries(int layer, const float* q, int n_tokens) override { inner_->on_queries(layer, q, n_tokens); }
  void on_append(int layer, int n_tokens) override;
  void on_attention(const AttentionStats& stats) override;
  void end_forward(const ForwardInfo& info) override { inner_->end_forward(info); }
  void end_prefill(const ForwardInfo& info) override { inner_->end_prefill(info); }
  const PolicyStats& stats() const override { return inner_->stats(); }

  // --- results
  RecurrenceSummary recurrence() const;
  std::vector<ValueRangeLayer> value_ranges() const;
  // Heads tracked per layer: query heads, or KV heads with per_kv_head.
  int tracked_heads() const { return n_heads_; }
  // MRI of (layer, tracked head, position); -1 when the token was never tracked.
  int mri(int layer, int head, int64_t position) const;
  int last_active(int layer, int head, int64_t position) const;
  // Every tracked MRI / TS as [n_layers][tracked_heads()][positions] int32 with positions =
  // the tokens seen so far; -1 where a token was never tracked (TS) and then MRI -1 too.
  std::vector<int32_t> mri_table() const;
  std::vector<int32_t> ts_table() const;
  int64_t table_positions() const;
  Json to_json() const;
  // A two-panel SVG: the MRI histogram with its 80th percentile, and per-layer value ranges.
  std::string to_svg() const;

  KvPolicy& inner() { return *inner_; }

 private:
  struct Track {
    std::vector<int32_t> ts, mri;  // [position] (-1 in ts: not seen yet)
  };
  Track& track(int layer, int head) { return tracks_[size_t(layer) * n_heads_ + head]; }
  const Track& track(int layer, int head) const { return tracks_[size_t(layer) * n_heads_ + head]; }

  std::unique_ptr<KvPolicy> inner_;
  ObserverOptions options_;
  KvCache* cache_ = nullptr;
  ForwardInfo fwd_;
  int n_heads_ = 0;                               // tracked heads per layer
  int queries_per_track_ = 1;                     // query heads folded into one tracked head
  std::vector<Track> tracks_;                     // [n_layers][n_heads_]
  std::vector<std::vector<float>> value_ranges_;  // [n_layers] one per (token, KV head)
  std::vector<std::vector<int32_t>> range_pos_;   // [n_layers] the token of each range
  int64_t decode_steps_ = 0;                      // decode steps observed
};

}  // namespace tc

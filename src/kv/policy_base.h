// The parts every eviction policy is built from, so a policy file only states its own
// choices:
//
//   EvictionSchedule  when an eviction runs (decode trigger + what happens at prefill end)
//   protection        what is never evicted: sinks (first positions), the recent window,
//                     and reserved sets a policy adds (VaSE's top value ranges)
//   scorer            a per-candidate score or sampling weight, usually from per-slot state
//                     kept in KvCache channels and fed by the hooks
//   Selector          top-k, Gumbel-top-k (weighted sampling without replacement), uniform
//   keep order        the slot order after compaction (it matters where later scoring pools
//                     over slot order): [reserved] + [selected, in selector order] + [recent]
//
// Two eviction engines cover the policies of the spec:
//   WindowedPolicy  gather-compaction (KvCache::retain) of a whole layer at once, every so
//                   many steps: LazyEviction, VaSE, VaSE-DKV, CurDKV, SnapKV, R-KV, random.
//   RollingPolicy   hole-filling removal (KvCache::remove) of the few lowest-scoring tokens
//                   every step: H2O, TOVA, StreamingLLM.
// PolicyBase times every hook into PolicyStats::scoring_seconds and counts evictions.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "kv/policy.h"
#include "kv/policy_select.h"
#include "util/rng.h"

namespace tc {

struct EvictionSchedule {
  enum class Decode : uint8_t {
    Never,                // prefill-only compression (SnapKV)
    EveryStep,            // each decode step while size > budget (H2O, TOVA, StreamingLLM)
    EveryPeriodSteps,     // decode step t % period == 0 and size > budget (LazyEviction, random)
    CacheLengthMultiple,  // size % period == 0 and size > budget (VaSE, VaSE-DKV, CurDKV, decode SnapKV)
    TotalTokensMultiple,  // total tokens % period == 0 and size >= budget (R-KV)
  };
  enum class Prefill : uint8_t {
    Keep,               // the prompt stays whole; decode-time evictions shrink it later
    CompressIfOver,     // at end_prefill when size > budget
    CompressIfAtLeast,  // at end_prefill when size >= budget (SnapKV, R-KV)
  };
  Decode decode = Decode::Never;
  Prefill prefill = Prefill::Keep;
  int period = 1;

  bool fires_at_decode(int64_t step, int64_t total_tokens, int size, int budget) const;
  bool fires_at_prefill(int size, int budget) const;
  // Slots per (layer, store head) that a prompt of `prompt` tokens and up to `max_new`
  // generated tokens can ever occupy under this schedule: the static allocation.
  int capacity(int prompt, int max_new, int budget) const;
  std::string describe() const;
};

// Per-thread scratch for scorers running in parallel over store heads.
struct ScoreScratch {
  std::vector<float> a, b, c, logits;
};

class PolicyBase : public KvPolicy {
 public:
  PolicyBase(std::string name, int budget, uint64_t seed, KvLayout layout = KvLayout::Gqa);

  std::string name() const override { return name_; }
  int budget() const override { return budget_; }
  KvLayout layout() const override { return layout_; }
  const PolicyStats& stats() const override { return stats_; }

  // The hooks, timed; they dispatch to the handle_* methods below. attach() also starts a
  // new sequence (it resets every per-sequence state), so a policy can serve several.
  void attach(KvCache& cache) final;
  void begin_forward(const ForwardInfo& info) final;
  void on_queries(int layer, const float* q, int n_tokens) final;
  void on_append(int layer, int n_tokens) final;
  void on_attention(const AttentionStats& stats) final;
  void end_forward(const ForwardInfo& info) final;
  void end_prefill(const ForwardInfo& info) final;

 protected:
  virtual void handle_attach() {}
  virtual void handle_queries(int layer, const float* q, int n_tokens) {}
  virtual void handle_append(int layer, int n_tokens) {}
  virtual void handle_attention(const AttentionStats& stats) {}
  // Return true when an eviction (compaction) ran.
  virtual bool handle_end_forward() { return false; }
  virtual bool handle_end_prefill() { return false; }

  KvCache& cache() const { return *cache_; }
  const ForwardInfo& forward() const { return fwd_; }
  // Position of the newest token in the cache (the last token of the current forward).
  int64_t newest_position() const { return newest_pos_; }
  // Largest live count over the store heads of `layer`.
  int layer_size(int layer) const;
  // Finds or registers a per-slot channel.
  int channel(const std::string& name, KvCache::ChannelType type);
  // An independent random stream for (layer, head, event), reproducible from the seed.
  Rng rng_for(int layer, int head, int64_t event, uint64_t salt = 0) const;
  uint64_t seed() const { return seed_; }

 private:
  using Clock = std::chrono::steady_clock;
  void add_time(Clock::time_point start);

  std::string name_;
  int budget_ = 0;
  uint64_t seed_ = 0;
  KvLayout layout_ = KvLayout::Gqa;
  KvCache* cache_ = nullptr;
  ForwardInfo fwd_;
  int64_t newest_pos_ = -1;
  PolicyStats stats_;
};

class WindowedPolicy : public PolicyBase {
 public:
  struct Config {
    int budget = 0;
    int recent = 0;  // the last `recent` slots (storage order = the newest tokens) are always kept, last
    int sinks = 0;   // tokens at positions < sinks are reserved by the default reserve()
    EvictionSchedule schedule;
    Selector selector = Selector::TopK;
  };
  WindowedPolicy(std::string name, const Config& config, uint64_t seed, KvLayout layout = KvLayout::Gqa);

  int capacity_for(int prompt_tokens, int max_new_tokens) const override;
  int window() const override { return config_.recent; }
  bool keeps_prompt() const override { return config_.schedule.prefill == EvictionSchedule::Prefill::Keep; }
  const Config& config() const { return config_; }

 protected:
  // Called on the calling thread before the heads of `layer` are planned for eviction
  // number `event` of that layer (e.g. to draw a random projection).
  virtual void begin_layer_eviction(int layer, int64_t event) {}
  // Candidates kept unconditionally, in keep order (distinct, < n_candidates).
  // Default: the sinks (positions < sinks) in slot order.
  virtual void reserve(int layer, int head, int n_candidates, std::vector<int32_t>& out) const;
  // Score (TopK) or sampling weight (GumbelTopK) of candidate slots [0, n_candidates).
  // Runs concurrently for different heads; use only `scratch` for temporaries.
  // scores: [n_candidates]
  virtual void score(int layer, int head, int n_candidates, float* scores, ScoreScratch& scratch) const = 0;

  bool handle_end_forward() override;
  bool handle_end_prefill() override;
  // Compacts every store head of `layer` to the budget (see the file comment for the order).
  void evict_layer(int layer);

 private:
  void plan_head(int layer, int head, int64_t event, ScoreScratch& scratch, std::vector<int32_t>& keep) const;

  Config config_;
  std::vector<int64_t> events_;                 // [n_layers] evictions so far
  std::vector<std::vector<int32_t>> plans_;     // [n_store_heads] keep lists
  std::vector<ScoreScratch> scratch_;           // [threads]
};

class RollingPolicy : public PolicyBase {
 public:
  struct Config {
    int budget = 0;
    int sinks = 0;            // positions < sinks are never evicted
    int recent = 1;           // the `recent` newest positions are never evicted (>= 1: the current token)
    bool layer_wide = false;  // one decision per layer (all store heads drop the same tokens)
    bool compress_prefill = true;  // evict down to the budget at end_prefill too
  };
  RollingPolicy(std::string name, const Config& config, uint64_t seed, KvLayout layout = KvLayout::Gqa);

  int capacity_for(int prompt_tokens, int max_new_tokens) const override;
  const Config& config() const { return config_; }

 protected:
  // Keep-worthiness of every live slot s < n of (layer, head), higher is kept, or null to
  // evict the oldest first. For layer-wide policies head is -1 and slots index any head
  // (they are all aligned). The pointer stays valid until the eviction is done. [n]
  virtual const float* scores(int layer, int head, int n) = 0;

  bool handle_end_forward() override;
  bool handle_end_prefill() override;
  bool evict_layer(int layer);

 private:
  void drop_lowest(int layer, int head_for_slots, const float* scores, int n_drop, std::vector<int32_t>& drop);

  Config config_;
  std::vector<float> cand_scores_;
  std::vector<int32_t> cand_slots_, cand_pos_, picked_, drop_;
};

}  // namespace tc

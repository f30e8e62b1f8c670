// The contract between the engine and a KV eviction policy.
//
// The engine owns the forward pass; a policy watches it through hooks and edits the
// KvCache (retain/remove + its own per-slot channels). Per forward call the engine does:
//
//   policy.begin_forward(info)
//   for each layer l:
//     q, k, v = projections (+ q/k norm, RoPE)              q: [n_tokens][n_heads][head_dim]
//     policy.on_queries(l, q, n_tokens)                      post-RoPE queries
//     cache.append(l, n_tokens, k, v, pos)
//     policy.on_append(l, n_tokens)                          the new tokens are each head's last n_tokens slots
//     attention over the cache (the pre-eviction cache: eviction never changes this step)
//     policy.on_attention(l, stats)                          only what needs() asked for
//   policy.end_forward(info)                                 the policy decides and evicts here
//
// A prompt may arrive in several prefill chunks (each a forward with is_prefill = true);
// the engine then calls end_prefill() once. Decode steps are numbered t = 1, 2, ... (the
// first decode step has t = 1, as in the released LazyEviction code).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kv/kv_cache.h"

namespace tc {

// What a policy needs the attention kernels to produce.
struct AttentionNeeds {
  // Probabilities of the current (last) query over the live slots, every decode step. The
  // engine also passes the last query's probabilities of each prefill chunk when it has
  // them (cpu::attention does); policies treat them as optional at prefill (TOVA uses the
  // last prompt token's to compress a prompt longer than the budget, else its first decode
  // step does it).
  bool current_probs = false;
  // Per-slot sum of probabilities over every query of the forward call (prefill and decode).
  bool prob_colsum = false;
  // The last `query_window` post-RoPE queries are kept by the policy itself from on_queries;
  // listed here for reporting only.
  int query_window = 0;
};

// Attention statistics of one layer, indexed by query head h and slot s of store head
// cache.store_head_of_query(h). Pointers are null unless requested through needs().
struct AttentionStats {
  int layer = 0;
  int n_heads = 0;
  int stride = 0;                // floats between heads: probs[h * stride + s]
  const float* probs = nullptr;  // current query's softmax, s < cache.size(layer, store_head(h))
  const float* colsum = nullptr; // sum over this call's queries of their softmax
};

struct ForwardInfo {
  bool is_prefill = false;
  int n_tokens = 0;         // tokens in this call
  int64_t step = 0;         // decode step t >= 1; 0 for prefill chunks
  int64_t first_pos = 0;    // position of the first token of this call
  int64_t total_tokens = 0; // tokens processed including this call (prompt + generated)
};

// Everything a user sets on the command line or in a request.
struct PolicySpec {
  std::string name = "full";
  int budget = 0;   // tokens kept per (layer, store head) after an eviction; 0 = unbounded (full)
  int window = -1;  // recent window / observation window; -1 = the policy's default
  uint64_t seed = 0;
  std::map<std::string, std::string> options;  // --kv-option key=value
};

// Timing and counters reported by `generate --json` and the benchmarks.
struct PolicyStats {
  int64_t evictions = 0;        // eviction events: forward calls (or prefill ends) that compacted the cache
  int64_t slots_evicted = 0;    // (layer, head, slot) triples freed
  double scoring_seconds = 0;   // hooks + scoring + selection + compaction
  int64_t peak_tokens = 0;      // largest live count of any (layer, store head), before eviction
};

class KvPolicy {
 public:
  virtual ~KvPolicy() = default;

  virtual std::string name() const = 0;
  virtual AttentionNeeds needs() const = 0;
  // Layout the cache must use (PerQueryHead for the faithful repeat_kv modes).
  virtual KvLayout layout() const { return KvLayout::Gqa; }
  // Slots to allocate per (layer, store head) for a prompt of prompt_tokens and a
  // generation of up to max_new_tokens: max(prompt, budget) + the policy's overshoot.
  virtual int capacity_for(int prompt_tokens, int max_new_tokens) const = 0;
  // The budget in tokens (0 for full).
  virtual int budget() const = 0;
  // The recent / observation window in effect (what --kv-window sets); -1 for policies without one.
  virtual int window() const { return -1; }
  // True when the prompt stays whole at prefill (the budget applies from the first decode-time
  // eviction, so the cache must hold the prompt plus the window until then).
  virtual bool keeps_prompt() const { return false; }

  // Called once the cache is allocated, before the first token: register channels.
  virtual void attach(KvCache& cache) = 0;
  virtual void begin_forward(const ForwardInfo& info) {}
  virtual void on_queries(int layer, const float* q, int n_tokens) {}
  virtual void on_append(int layer, int n_tokens) {}
  virtual void on_attention(const AttentionStats& stats) {}
  virtual void end_forward(const ForwardInfo& info) {}
  virtual void end_prefill(const ForwardInfo& info) {}

  virtual const PolicyStats& stats() const = 0;
};

// Policy registry: name -> description, parameters and factory.
struct PolicyParam {
  std::string key;
  std::string default_value;
  std::string description;
};

struct PolicyInfo {
  std::string name;
  std::string summary;
  std::vector<PolicyParam> params;  // accepted --kv-option keys (budget/window are separate flags)
  std::unique_ptr<KvPolicy> (*make)(const PolicySpec& spec, const KvCacheShape& shape);
  std::string budget_rule;  // what --kv-budget means for this policy and what it must satisfy
  std::string window_rule;  // what --kv-window means and its default; empty if not accepted
  // The default window for a budget (what the policy uses without --kv-window), from the same
  // function its factory calls; null for policies without a window.
  int (*default_window)(int budget, const PolicySpec& spec) = nullptr;
  // Decisions draw from PolicySpec::seed (Gumbel-top-k or uniform sampling, random projections).
  bool seeded = false;
  // An option that sets the compaction period where it is not the window (R-KV's "every"),
  // with its default; empty when the window is the period or the policy evicts every step.
  std::string period_option;
  int default_period = 0;
};
// The registry entry of `name`, or null.
const PolicyInfo* policy_info(const std::string& name);

const std::vector<PolicyInfo>& policy_registry();
// Parses one `--kv-option key=value` into spec.options; throws on a missing '=', an empty
// key or value, or a key given twice.
void policy_spec_add_option(PolicySpec& spec, const std::string& key_equals_value);
// Validates the spec (unknown policy, unknown option, budget below the protected set, ...)
// and builds the policy. Throws tc::Error with a message naming the problem.
std::unique_ptr<KvPolicy> make_policy(const PolicySpec& spec, const KvCacheShape& shape);

}  // namespace tc

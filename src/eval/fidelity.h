// Teacher-forced fidelity of KV policies against the full cache on real weights.
//
// A token sequence S[0..T) is run through the model the way generation runs it: the first k
// tokens are prefilled as the prompt, then S[k], S[k+1], ... are fed one decode step at a
// time (forced instead of sampled), so a policy evicts exactly as it would while generating.
// The full cache runs first and its next-token distribution at every position t in
// [k-1, T-2] is kept (log-softmax); then each policy x budget x seed runs the same sequence
// and its distribution at each position is compared with the full cache's:
//   - top-1 agreement: argmax equal (ties -> lowest id, as the greedy sampler);
//   - KL(full || policy), mean over positions (nats);
//   - perplexity of S[k..T) under the full cache and under the policy.
// A policy whose cache never evicts computes bit-identical logits, so it scores agreement 1
// and KL 0 exactly. Metrics are also reported over the first m positions for m in
// `checkpoints` (a run on a truncated sequence with token budgets reproduces them).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "eval/eval_budget.h"
#include "model/model.h"

namespace tc::eval {

struct FidelityText {
  std::string name;             // "GPL-3", "generation"
  std::string source;           // where it came from (file path, or the generation prompt)
  std::vector<int32_t> tokens;  // tokens: [T]
  int prompt_tokens = 0;        // k: prefilled before the forced decode steps
};

struct FidelityOptions {
  std::vector<PolicyChoice> policies;  // full runs anyway as the reference
  std::vector<BudgetSpec> budgets;     // percentages are of the whole sequence length T
  std::vector<uint64_t> seeds = {0};
  std::string kv_dtype = "f16";
  int threads = 1;                     // configurations run concurrently
  int prefill_chunk = 256;
  std::vector<int> checkpoints = {128, 256, 512, 1024};
};

// Metrics over a set of positions.
struct FidelityMetrics {
  int positions = 0;
  double top1_agreement = 0;  // share of positions where the argmaxes agree
  double kl_mean = 0;         // mean KL(full || policy), nats
  double kl_max = 0;
  double nll_full = 0;        // mean negative log-likelihood of the next token, full cache
  double nll_policy = 0;      // the same under the policy
  double ppl_full() const;    // exp(nll_full)
  double ppl_policy() const;
};

struct FidelityRow {
  std::string text;
  std::string policy;        // choice label
  std::string policy_name;
  bool requested = true;
  std::string budget_label;  // "full" for the reference
  int budget_target = 0, budget = 0, window = -1;
  std::map<std::string, std::string> options;
  uint64_t seed = 0;
  int sequence_tokens = 0;   // T
  int prompt_tokens = 0;     // k
  FidelityMetrics all;
  std::vector<std::pair<int, FidelityMetrics>> prefixes;  // (m, metrics over the first m positions)
  int peak_tokens = 0;
  uint64_t peak_kv_bytes = 0;
  uint64_t full_peak_kv_bytes = 0;
  int64_t evictions = 0;
  double seconds = 0;        // timing (not reproducible)
  double tokens_per_s = 0;
};

using FidelityRowSink = std::function<void(const FidelityRow& row)>;  // called in a fixed order
using FidelityProgressFn = std::function<void(int runs_done, int runs_total)>;

// Runs per text: the reference + each policy's budgets x seeds.
int fidelity_runs_per_text(const FidelityOptions& options);

// Evaluates every text; rows arrive per text in order (reference first, then the policies
// in order of --policies, budgets, seeds).
void fidelity_run(const Model& model, const FidelityOptions& options, const std::vector<FidelityText>& texts,
                  const FidelityRowSink& sink, const FidelityProgressFn& progress = {});

Json fidelity_row_json(const FidelityRow& row);
// The inverse (for re-aggregating a rows.jsonl); throws naming the missing or mistyped field.
FidelityRow fidelity_row_from_json(const Json& object);

// The Markdown report (one table per text) and the plots of top-1 agreement / mean KL
// against the budget share of the sequence (one line per policy, one plot per text).
std::string fidelity_markdown(const std::vector<FidelityRow>& rows, const std::string& title, const std::string& command,
                              const std::vector<std::string>& notes);
std::string fidelity_plot_svg(const std::vector<FidelityRow>& rows, const std::string& text, const std::string& metric);

}  // namespace tc::eval

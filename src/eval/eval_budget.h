// KV budgets and policy choices of an evaluation.
//
// `--budgets 128,256,25%,50%`: a budget is a token count (per layer and KV head, as
// --kv-budget) or a percentage of each problem's full-cache sequence length (prompt +
// tokens generated with the full cache). `--policies full,lazy,vase:window=32,snapkv:mode=decode`:
// a policy name from the registry, optionally followed by ":key=value" items; "window" sets
// --kv-window, any other key is a --kv-option.
//
// Resolving a budget for one policy and one problem (documented in eval/README.md):
//   1. target = the token count given, or round(fraction x full length) (at least 1).
//   2. window: the one the user fixed (":window=W") if any; otherwise the policy's default,
//      except for the policies whose window is a fixed default (vase, vase-dkv, curdkv,
//      random: 64; snapkv: 32 prefill / 64 decode): when that default exceeds target / 8 it is
//      scaled down to round(target / 8) (at least 1), so the window never takes more than an
//      eighth of the budget and the budget can be rounded to within a sixteenth of the target.
//      lazy (W = max(16, B/8)) and h2o (recent = B/2) keep their own budget-relative defaults;
//      rkv keeps alpha = 8 but its compression period ("every", default 128, the overshoot
//      of its cache) is scaled by the same rule unless given.
//   3. budget: for a percentage, the valid budget nearest to the target (the larger one on a
//      tie), where "valid" means that make_policy accepts it with that window (each policy's
//      own rules: multiples of the window, above the protected set, ...). For a token budget
//      the budget is never changed: if the window of step 2 makes it invalid, the largest
//      smaller window that makes it valid is used (for the policies with a scaled window),
//      else it is an error naming the policy's rule.
// The resolved budget, window and options are recorded in every result row.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "kv/kv_cache.h"

namespace tc::eval {

struct BudgetSpec {
  enum class Kind { Tokens, Fraction };
  Kind kind = Kind::Tokens;
  int tokens = 0;        // Kind::Tokens: > 0
  double fraction = 0;   // Kind::Fraction: in (0, 1]
  std::string label;     // canonical text: "128" or "25%"
};

// "128" -> tokens, "25%" / "12.5%" -> fraction. Throws tc::Error naming the item when it is
// malformed ("25x"), zero, negative or above 100%.
BudgetSpec budget_parse(const std::string& item);
// Comma-separated list; duplicates are an error.
std::vector<BudgetSpec> budget_parse_list(const std::string& text);

struct PolicyChoice {
  std::string label;  // canonical text: "snapkv:mode=decode" (options sorted by key)
  std::string name;   // registry name
  int window = -1;    // from ":window=W"; -1 = resolved by the rules above
  std::map<std::string, std::string> options;
  bool seeded = false;  // results depend on the policy seed (see policy_is_seeded)
};

// "vase:window=32:n_large=8" -> choice. Throws naming an unknown policy (listing the known
// ones), a malformed item, or an option the policy does not have.
PolicyChoice policy_choice_parse(const std::string& item);
// Comma-separated list; duplicates are an error.
std::vector<PolicyChoice> policy_choice_parse_list(const std::string& text);
// The `full` item of a list, if the user asked for it (its label is reported as requested).
const PolicyChoice* policy_choice_find_full(const std::vector<PolicyChoice>& choices);

// Policies whose decisions draw from the policy seed (Gumbel-top-k or uniform sampling, random
// projections): vase, vase-dkv, curdkv, random. The others are deterministic: an evaluation
// runs them once, whatever --seeds says.
bool policy_is_seeded(const std::string& name);

// The eviction ratio of step 2: windows and periods are scaled to at most target / 8.
constexpr int kWindowBudgetRatio = 8;

struct ResolvedBudget {
  int target = 0;   // tokens asked for, before rounding
  int budget = 0;   // tokens per (layer, KV head); 0 for full
  int window = -1;  // the window passed to the policy (its actual value); -1 for policies without one
  std::map<std::string, std::string> options;  // the choice's options plus those the rules set
};

// Resolves `spec` for `choice` on a problem whose full-cache sequence has `full_length`
// tokens. `full` resolves to budget 0 whatever the spec. Throws tc::Error when no valid
// budget exists (naming the policy, the budget and its rule).
ResolvedBudget budget_resolve(const PolicyChoice& choice, const BudgetSpec& spec, int full_length,
                              const KvCacheShape& shape);

// One configuration that eval and fidelity run: a policy choice, the budget label the user
// gave ("25%", "128"; "full" for the reference), its resolution and the policy seed.
struct RunSpec {
  PolicyChoice choice;
  bool requested = true;  // false for the full-cache reference run nobody asked for
  std::string budget_label = "full";
  ResolvedBudget resolved;
  uint64_t seed = 0;
};

// Copies what identifies a run into a result row. EvalRow and FidelityRow name these fields
// alike (policy, policy_name, requested, budget_label, budget_target, budget, window,
// options, seed), so one template serves both.
template <typename Row>
void row_set_run(Row& row, const RunSpec& run) {
  row.policy = run.choice.label;
  row.policy_name = run.choice.name;
  row.requested = run.requested;
  row.budget_label = run.budget_label;
  row.budget_target = run.resolved.target;
  row.budget = run.resolved.budget;
  row.window = run.resolved.window;
  row.options = run.resolved.options;
  row.seed = run.seed;
}

// The window a policy uses by default for a budget (mirrors each policy's own default; -1 for
// policies without a window; for policies unknown to the evaluation also -1).
int policy_default_window(const std::string& name, int budget, const std::map<std::string, std::string>& options);

}  // namespace tc::eval

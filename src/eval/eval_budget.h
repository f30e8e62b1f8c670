// KV budgets and policy choices of an evaluation.
//
// `--budgets 256,512,25%`: a budget is a token count (per layer and KV head, as --kv-budget)
// or a percentage of a full-cache sequence length (prompt + tokens generated with the full
// cache). `--policies full,lazy,vase:window=32,snapkv:mode=decode`: a policy name from the
// registry, optionally followed by ":key=value" items; "window" sets --kv-window, any other
// key is a --kv-option.
//
// Two budget modes (documented in eval/README.md):
//
// BudgetMode::Suite (the default; the seeds' papers' protocol): one budget for every problem
// of a run. A percentage is a share of the suite's mean full-cache length, resolved once.
// Every policy runs at its own defaults (R = 64 for VaSE, VaSE-DKV and CurDKV, SnapKV's
// window, lazy's W = max(16, B/8), ...):
//   1. target = the token count given, or round(fraction x mean full length).
//   2. window: the user's (":window=W") or the policy's default for the budget.
//   3. budget: for a percentage, the valid budget nearest to the target (the larger one on a
//      tie), "valid" meaning that make_policy accepts it with that window (multiples of the
//      window, above the protected set, ...); a token budget is used as given, and a budget
//      the policy refuses is an error naming its rule.
// A policy that keeps the prompt whole at prefill (KvPolicy::keeps_prompt: lazy, the VaSE
// family, random, decode SnapKV) needs budget >= prompt + window; on a problem where that
// does not hold the run is reported as infeasible (budget_fits_prompt), not run with a
// smaller window. (BudgetMode::Problem runs such budgets as the first testbed did: the cache
// holds the prompt plus the window until the first eviction.)
//
// BudgetMode::Problem (--budget-mode problem, the first testbed's protocol): a percentage is a
// share of each problem's own full-cache length, and fixed default windows are scaled:
//   2'. a window that is a fixed default (the same at every budget: VaSE's R, SnapKV's w,
//      random's W, CurDKV's R) larger than target / 8 is scaled down to round(target / 8)
//      (at least 1); lazy and h2o keep their budget-relative defaults; a compaction period
//      that is not the window (rkv's "every", PolicyInfo::period_option) is scaled alike
//      unless given.
//   3'. as 3, except that a token budget that the scaled window makes invalid uses the
//      largest smaller window that makes it valid.
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
  bool seeded = false;  // results depend on the policy seed (PolicyInfo::seeded)
};

// "vase:window=32:n_large=8" -> choice. Throws naming an unknown policy (listing the known
// ones), a malformed item, or an option the policy does not have.
PolicyChoice policy_choice_parse(const std::string& item);
// Comma-separated list; duplicates are an error.
std::vector<PolicyChoice> policy_choice_parse_list(const std::string& text);
// The `full` item of a list, if the user asked for it (its label is reported as requested).
const PolicyChoice* policy_choice_find_full(const std::vector<PolicyChoice>& choices);

enum class BudgetMode { Suite, Problem };
// "suite" / "problem"; throws naming the value otherwise.
BudgetMode budget_mode_parse(const std::string& text);
const char* budget_mode_name(BudgetMode mode);

// The eviction ratio of step 2' (BudgetMode::Problem): windows and periods are scaled to at most
// target / 8.
constexpr int kWindowBudgetRatio = 8;

struct ResolvedBudget {
  int target = 0;   // tokens asked for, before rounding
  int budget = 0;   // tokens per (layer, KV head); 0 for full
  int window = -1;  // the window passed to the policy (its actual value); -1 for policies without one
  std::map<std::string, std::string> options;  // the choice's options plus those the rules set
  bool keeps_prompt = false;  // the policy keeps the prompt whole at prefill (KvPolicy::keeps_prompt)
};

// Resolves `spec` for `choice` against a full-cache length of `full_length` tokens (the
// problem's in BudgetMode::Problem, the suite's mean in BudgetMode::Suite). `full` resolves to
// budget 0 whatever the spec. Throws tc::Error when no valid budget exists (naming the policy,
// the budget and its rule).
ResolvedBudget budget_resolve(const PolicyChoice& choice, const BudgetSpec& spec, int full_length,
                              const KvCacheShape& shape, BudgetMode mode = BudgetMode::Problem);

// Whether a resolved budget can run a prompt of `prompt_tokens`: a policy that keeps the prompt
// whole at prefill needs budget >= prompt + window. When not, *why says so.
bool budget_fits_prompt(const ResolvedBudget& resolved, int prompt_tokens, std::string* why = nullptr);

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

// The window a policy uses by default for a budget (PolicyInfo::default_window; -1 for policies
// without a window).
int policy_default_window(const PolicyChoice& choice, int budget, const std::map<std::string, std::string>& options);

}  // namespace tc::eval

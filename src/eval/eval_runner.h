// The evaluation runner: every problem of a task suite solved with every policy x budget x
// seed through the engine's own generation loop (make_kv_setup + Session + run_generation,
// the code path of `thinkcache generate`), checked with the suite's exact checker.
//
// Two phases. First the full cache runs on every problem (always, requested or not): its
// sequence lengths (prompt + generated tokens) are what percentage budgets refer to, the
// suite's mean in BudgetMode::Suite (resolved once, one budget for every problem), each
// problem's own in BudgetMode::Problem (see eval_budget.h). Then every other policy runs each
// budget, once if the policy is deterministic and once per seed if it is seeded
// (PolicyInfo::seeded; with sampling, temperature > 0, every policy runs every seed and the
// sampler seed is derived from (seed, problem index)); in BudgetMode::Suite a budget that
// cannot hold a problem's prompt plus the policy's window (budget_fits_prompt) gives a row
// marked infeasible, with no run. Each run gets a fresh KvCache and policy. Problems run concurrently on worker
// threads, each with its own single-threaded kernel pool; results do not depend on the
// thread count, and rows are delivered in problem order (run order within a problem).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "eval/eval_budget.h"
#include "eval/tasks.h"
#include "model/model.h"
#include "thinkcache/generate.h"

namespace tc::eval {

struct EvalOptions {
  std::string suite = "chain";
  std::vector<std::string> params;        // suite parameter overrides, key=value
  uint64_t task_seed = 1;                 // which problems (the testbed holds out seeds < 1000)
  uint64_t start = 0;                     // first problem index
  int n = 0;                              // problems
  std::vector<PolicyChoice> policies;     // as requested; full runs anyway
  std::vector<BudgetSpec> budgets;
  BudgetMode budget_mode = BudgetMode::Suite;
  std::vector<uint64_t> seeds = {0};      // policy seeds (and sampler seeds when sampling)
  int max_tokens = 0;                     // > 0: fixed cap on generated tokens
  double max_tokens_factor = 1.5;         // else cap = ceil(factor x (reference trace tokens + EOS))
  SamplingOptions sampling;               // greedy by default
  std::string kv_dtype = "f16";
  int threads = 1;                        // concurrent problems
  int prefill_chunk = 256;
  bool keep_text = false;                 // store each generated text in its row
};

// One problem solved under one (policy, budget, seed).
struct EvalRow {
  uint64_t index = 0;           // problem index in the suite's (task seed) sequence
  std::string problem;          // problem id
  std::string policy;           // the choice's label ("full", "snapkv:mode=decode")
  std::string policy_name;      // registry name
  bool requested = true;        // false: full run only as the reference for percentages
  std::string budget_label;     // "25%", "128", or "full"
  int budget_target = 0;        // tokens asked for before rounding (0 for full)
  int budget = 0;               // tokens per (layer, KV head) after rounding (0 for full)
  int window = -1;              // window used (-1: the policy has none)
  std::map<std::string, std::string> options;  // policy options used (the choice's + the rules')
  uint64_t seed = 0;
  bool correct = false;
  std::string answer;           // what the completion answered ("" when no answer line)
  bool answered = false;        // an answer line was found
  std::string expected;         // the reference answer
  int prompt_tokens = 0;
  int trace_tokens = 0;         // generated tokens, EOS included when produced
  int reference_trace_tokens = 0;  // the suite's reference completion + EOS
  int max_tokens = 0;
  int full_length = 0;          // prompt + generated tokens of this problem's full-cache run
  std::string budget_mode = "suite";  // how percentages were resolved: "suite" or "problem"
  double budget_reference_length = 0;  // the full-cache length percentages referred to (suite mean
                                       // or this problem's full_length)
  bool feasible = true;         // false: the budget cannot hold the prompt plus the window; not run
  std::string infeasible_reason;
  std::string stop_reason;
  int capacity_slots = 0;       // slots allocated per (layer, KV head)
  int peak_tokens = 0;          // most live slots of any (layer, KV head)
  uint64_t peak_kv_bytes = 0;   // K+V bytes of the most live slots (summed over layers and heads)
  uint64_t mean_kv_bytes = 0;   // K+V bytes of the live slots averaged over decode steps (resident KV)
  uint64_t full_peak_kv_bytes = 0;  // the same for this problem's full-cache run
  uint64_t full_mean_kv_bytes = 0;  // mean_kv_bytes of this problem's full-cache run
  uint64_t kv_bytes_allocated = 0;
  int64_t evictions = 0;
  std::string text;             // the completion, when EvalOptions::keep_text
  // Timing: not reproducible, excluded from comparisons.
  double seconds = 0;           // prefill + decode wall time of this run
  double decode_tokens_per_s = 0;
  double eviction_seconds = 0;
};

// The problems an evaluation runs (suite, params, task seed, start, n).
std::vector<TaskProblem> eval_problems(const EvalOptions& options);

// Runs per problem: full (once, or once per seed when sampling) + each policy's budgets x seeds.
int eval_runs_per_problem(const EvalOptions& options);

struct EvalProgress {
  int problems_done = 0;
  int problems_total = 0;
  int64_t runs_done = 0;
  int64_t runs_total = 0;
};

// Called with the rows of each problem, in problem order, as soon as that problem and all the
// earlier ones are done (so a long run can be inspected while it goes on).
using EvalRowSink = std::function<void(const std::vector<EvalRow>& rows)>;
// Called after every run (from worker threads, serialised).
using EvalProgressFn = std::function<void(const EvalProgress& progress)>;

// Validates the options (policies, budgets, seeds, n, the suite's params) before any work;
// throws tc::Error naming the problem.
void eval_check_options(const EvalOptions& options);

// Runs the evaluation of `problems` on `model` (which must have a tokenizer). Throws the
// first error any run raised (e.g. a prompt longer than the model's context).
void eval_run(const Model& model, const EvalOptions& options, const std::vector<TaskProblem>& problems,
              const EvalRowSink& sink, const EvalProgressFn& progress = {});

// Throws unless `n_workers` concurrent runs are safe: policies evict through
// ThreadPool::global() (kv/policy_base.cpp), whose parallel_for takes one caller at a time, so
// with several workers it must have no worker threads of its own (TC_THREADS=1 before it is
// first used; the eval/fidelity/demo commands set that when --threads > 1).
void eval_check_worker_pool(int n_workers);

// The prompt's ids as evaluation feeds them: BOS when the tokenizer's metadata asks for it,
// then the raw prompt text (no chat template: the testbed model is trained on raw text).
std::vector<int32_t> eval_prompt_ids(const Tokenizer& tokenizer, const std::string& prompt);

}  // namespace tc::eval

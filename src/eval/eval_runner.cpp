#include "eval/eval_runner.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "engine/generate.h"
#include "engine/session.h"
#include "text/tokenizer.h"
#include "util/error.h"
#include "util/rng.h"
#include "util/thread_pool.h"

namespace tc::eval {

namespace {

bool sampling_on(const EvalOptions& o) { return o.sampling.temperature > 0; }

// The seeds a policy runs: all of them when its results depend on the seed, else the first.
std::vector<uint64_t> seeds_for(const EvalOptions& o, const PolicyChoice& choice) {
  if (choice.seeded || sampling_on(o)) return o.seeds;
  return {o.seeds.front()};
}

struct ProblemInput {
  const TaskProblem* problem = nullptr;
  uint64_t index = 0;
  std::vector<int32_t> prompt;  // prompt: [prompt_tokens]
  int reference_trace_tokens = 0;
  int max_tokens = 0;
};

// One generation: a fresh cache and policy, the engine's loop, the suite's checker.
EvalRow run_one(const Model& model, const EvalOptions& o, const TaskSuite& suite, const ProblemInput& in,
                const RunSpec& run, ThreadPool& pool) {
  KvOptions kv;
  kv.policy = run.choice.name;
  kv.budget = run.resolved.budget;
  kv.window = run.resolved.window;
  kv.seed = run.seed;
  kv.options = run.resolved.options;
  kv.dtype = o.kv_dtype;

  GenerateOptions go;
  go.max_tokens = in.max_tokens;
  go.sampling = o.sampling;
  // Each (seed, problem) draws its own sampler stream; unused when greedy.
  go.sampling.seed = Rng::derive(run.seed, in.index).next_u64();
  go.prefill_chunk = o.prefill_chunk;
  go.kv = kv;

  const int prompt_tokens = int(in.prompt.size());
  const int max_new = int(std::min<int64_t>(in.max_tokens, int64_t(model.config().context_length) - prompt_tokens));
  KvSetup setup = make_kv_setup(model, kv, prompt_tokens, std::max(0, max_new));
  SessionOptions so;
  so.prefill_chunk = o.prefill_chunk;
  Session session(model, *setup.cache, setup.policy.get(), so, pool);
  GenerateResult result = run_generation(session, in.prompt, go, {}, nullptr);

  EvalRow row;
  row.problem = in.problem->id;
  row_set_run(row, run);
  row.correct = suite.check(*in.problem, result.text);
  std::optional<std::string> answer = task_extract_answer(result.text);
  row.answered = answer.has_value();
  row.answer = answer.value_or("");
  row.expected = in.problem->answer;
  row.prompt_tokens = prompt_tokens;
  row.trace_tokens = result.generated_tokens;
  row.reference_trace_tokens = in.reference_trace_tokens;
  row.max_tokens = in.max_tokens;
  row.stop_reason = stop_reason_name(result.stop_reason);
  row.capacity_slots = result.kv.capacity_slots;
  row.peak_tokens = result.kv.peak_tokens;
  // K and V rows of every live slot at the peak.
  row.peak_kv_bytes = uint64_t(result.kv.peak_live_slots) * 2 * setup.cache->row_bytes();
  row.mean_kv_bytes = uint64_t(std::llround(result.kv.mean_live_slots * 2.0 * double(setup.cache->row_bytes())));
  row.kv_bytes_allocated = result.kv.bytes_allocated;
  row.evictions = result.kv.evictions;
  if (o.keep_text) row.text = result.text;
  row.seconds = result.timings.prefill_seconds + result.timings.decode_seconds;
  row.decode_tokens_per_s = result.timings.decode_tokens_per_s;
  row.eviction_seconds = result.kv.eviction_seconds;
  return row;
}

ProblemInput problem_input(const Model& model, const EvalOptions& o, const TaskProblem& problem, uint64_t index) {
  const Tokenizer& tok = model.require_tokenizer();
  ProblemInput in;
  in.problem = &problem;
  in.index = index;
  in.prompt = eval_prompt_ids(tok, problem.prompt);
  in.reference_trace_tokens = int(tok.encode(problem.trace).size()) + 1;  // + EOS
  in.max_tokens = o.max_tokens > 0 ? o.max_tokens
                                   : int(std::ceil(o.max_tokens_factor * double(in.reference_trace_tokens)));
  const int context = model.config().context_length;
  if (int64_t(in.prompt.size()) >= context)
    TC_THROW("problem %s: the prompt (%zu tokens) does not fit the model's context of %d tokens", problem.id.c_str(),
             in.prompt.size(), context);
  return in;
}

std::vector<uint64_t> full_seeds_of(const EvalOptions& o) {
  return sampling_on(o) ? o.seeds : std::vector<uint64_t>{o.seeds.front()};
}

// Phase 1 of a problem: the full-cache runs (one, or one per seed when sampling).
std::vector<EvalRow> run_full(const Model& model, const EvalOptions& o, const TaskSuite& suite, const ProblemInput& in,
                              ThreadPool& pool, const std::function<void()>& on_run) {
  const PolicyChoice* full_choice = policy_choice_find_full(o.policies);
  const PolicyChoice full = full_choice ? *full_choice : policy_choice_parse("full");
  std::vector<EvalRow> rows;
  for (uint64_t seed : full_seeds_of(o)) {
    RunSpec run;
    run.choice = full;
    run.requested = full_choice != nullptr;
    run.seed = seed;
    EvalRow row = run_one(model, o, suite, in, run, pool);
    row.full_length = row.prompt_tokens + row.trace_tokens;
    row.full_peak_kv_bytes = row.peak_kv_bytes;
    row.full_mean_kv_bytes = row.mean_kv_bytes;
    row.budget_reference_length = row.full_length;
    rows.push_back(std::move(row));
    on_run();
  }
  return rows;
}

// A row for a run that does not fit the prompt: nothing generated, not correct.
EvalRow infeasible_row(const ProblemInput& in, const RunSpec& run, const std::string& why) {
  EvalRow row;
  row.problem = in.problem->id;
  row_set_run(row, run);
  row.feasible = false;
  row.infeasible_reason = why;
  row.expected = in.problem->answer;
  row.prompt_tokens = int(in.prompt.size());
  row.reference_trace_tokens = in.reference_trace_tokens;
  row.max_tokens = in.max_tokens;
  row.stop_reason = "infeasible";
  return row;
}

// Phase 2 of a problem: every policy x budget x seed after its full-cache rows. `suite_budgets`
// [policy][budget] holds the suite-wide resolutions in BudgetMode::Suite (empty otherwise).
std::vector<EvalRow> run_policies(const Model& model, const EvalOptions& o, const TaskSuite& suite,
                                  const ProblemInput& in, const std::vector<EvalRow>& full_rows, double mean_full_length,
                                  const std::vector<std::vector<ResolvedBudget>>& suite_budgets, ThreadPool& pool,
                                  const std::function<void()>& on_run) {
  const KvCacheShape shape = kv_cache_shape(model.config());
  const std::vector<uint64_t> full_seeds = full_seeds_of(o);
  std::vector<EvalRow> rows;
  for (size_t c = 0; c < o.policies.size(); ++c) {
    const PolicyChoice& choice = o.policies[c];
    if (choice.name == "full") continue;
    for (size_t b = 0; b < o.budgets.size(); ++b) {
      const BudgetSpec& spec = o.budgets[b];
      for (uint64_t seed : seeds_for(o, choice)) {
        const size_t ref = sampling_on(o) ? size_t(std::find(full_seeds.begin(), full_seeds.end(), seed) - full_seeds.begin())
                                          : 0;
        const EvalRow& full = full_rows.at(ref);
        RunSpec run;
        run.choice = choice;
        run.budget_label = spec.label;
        run.resolved = o.budget_mode == BudgetMode::Suite ? suite_budgets[c][b]
                                                          : budget_resolve(choice, spec, full.full_length, shape,
                                                                           BudgetMode::Problem);
        run.seed = seed;
        std::string why;
        // The per-problem mode runs every budget as the first testbed did (the cache then
        // holds the prompt plus the window until the first eviction).
        const bool fits = o.budget_mode == BudgetMode::Problem || budget_fits_prompt(run.resolved, int(in.prompt.size()), &why);
        EvalRow row = fits ? run_one(model, o, suite, in, run, pool) : infeasible_row(in, run, why);
        row.full_length = full.full_length;
        row.full_peak_kv_bytes = full.peak_kv_bytes;
        row.full_mean_kv_bytes = full.mean_kv_bytes;
        row.budget_reference_length = o.budget_mode == BudgetMode::Suite ? mean_full_length : full.full_length;
        rows.push_back(std::move(row));
        on_run();
      }
    }
  }
  return rows;
}

// Runs fn(i, pool) for i in [0, n) on `threads` workers, each with its own single-threaded
// kernel pool; the first exception stops the others and is rethrown.
void for_each_problem(int n, int threads, const std::function<void(int, ThreadPool&)>& fn) {
  std::atomic<int> next{0};
  std::atomic<bool> failed{false};
  std::mutex mutex;
  std::exception_ptr error;
  auto worker = [&]() {
    ThreadPool pool(1);  // kernels single-threaded: the parallelism is across problems
    while (!failed.load()) {
      const int i = next.fetch_add(1);
      if (i >= n) break;
      try {
        fn(i, pool);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!error) error = std::current_exception();
        failed = true;
      }
    }
  };
  const int n_workers = std::max(1, std::min(threads, n));
  eval_check_worker_pool(n_workers);
  std::vector<std::thread> workers;
  for (int t = 1; t < n_workers; ++t) workers.emplace_back(worker);
  worker();
  for (std::thread& t : workers) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace

// Policies evict through ThreadPool::global() (kv/policy_base.cpp), whose parallel_for takes one
// caller at a time: concurrent runs need it to have no workers (TC_THREADS=1; the CLI sets it).
void eval_check_worker_pool(int n_workers) {
  if (n_workers > 1 && ThreadPool::global().size() > 1)
    TC_THROW("%d concurrent runs need the process-wide kernel pool to be single-threaded (TC_THREADS=1, set "
             "before the pool is first used), it has %d threads", n_workers, ThreadPool::global().size());
}

std::vector<int32_t> eval_prompt_ids(const Tokenizer& tokenizer, const std::string& prompt) {
  std::vector<int32_t> ids;
  if (tokenizer.add_bos() && tokenizer.bos_id() >= 0) ids.push_back(tokenizer.bos_id());
  std::vector<int32_t> text = tokenizer.encode(prompt);
  ids.insert(ids.end(), text.begin(), text.end());
  return ids;
}

std::vector<TaskProblem> eval_problems(const EvalOptions& o) {
  const TaskSuite& suite = task_suite(o.suite);
  TaskParams params = task_params_resolve(suite, o.params);
  return task_generate(suite, o.task_seed, o.start, uint64_t(o.n), params);
}

int eval_runs_per_problem(const EvalOptions& o) {
  int runs = sampling_on(o) ? int(o.seeds.size()) : 1;
  for (const PolicyChoice& c : o.policies)
    if (c.name != "full") runs += int(o.budgets.size() * seeds_for(o, c).size());
  return runs;
}

void eval_check_options(const EvalOptions& o) {
  TC_CHECK_ARG(o.n > 0, "--n must be positive, got %d", o.n);
  TC_CHECK_ARG(!o.policies.empty(), "--policies: no policy given");
  bool any_evicting = std::any_of(o.policies.begin(), o.policies.end(), [](const PolicyChoice& c) { return c.name != "full"; });
  TC_CHECK_ARG(!any_evicting || !o.budgets.empty(), "--budgets: no budget given for the evicting policies");
  TC_CHECK_ARG(!o.seeds.empty(), "--seeds: no seed given");
  std::set<uint64_t> distinct(o.seeds.begin(), o.seeds.end());
  TC_CHECK_ARG(distinct.size() == o.seeds.size(), "--seeds: a seed is given twice");
  TC_CHECK_ARG(o.max_tokens >= 0, "--max-tokens must be >= 0, got %d", o.max_tokens);
  TC_CHECK_ARG(o.max_tokens > 0 || (o.max_tokens_factor > 0 && std::isfinite(o.max_tokens_factor)),
               "--max-tokens-factor must be positive, got %g", o.max_tokens_factor);
  TC_CHECK_ARG(o.threads >= 1, "--threads must be >= 1, got %d", o.threads);
  TC_CHECK_ARG(o.prefill_chunk > 0, "--prefill-chunk must be positive, got %d", o.prefill_chunk);
  kv_dtype_from_name(o.kv_dtype);
  task_params_resolve(task_suite(o.suite), o.params);
}

void eval_run(const Model& model, const EvalOptions& o, const std::vector<TaskProblem>& problems,
              const EvalRowSink& sink, const EvalProgressFn& progress) {
  eval_check_options(o);
  model.require_tokenizer();
  const TaskSuite& suite = task_suite(o.suite);
  // Budgets that do not depend on a length (token counts) are checked before any work, and so
  // are the options of every policy (at a nominal length).
  const KvCacheShape shape = kv_cache_shape(model.config());
  for (const PolicyChoice& c : o.policies)
    for (const BudgetSpec& b : o.budgets) budget_resolve(c, b, 1024, shape, o.budget_mode);

  const int n = int(problems.size());
  std::vector<ProblemInput> inputs;
  for (int i = 0; i < n; ++i) inputs.push_back(problem_input(model, o, problems[size_t(i)], o.start + uint64_t(i)));

  std::mutex mutex;  // guards the rows, the emission order, the progress state and the callbacks
  EvalProgress state;
  state.problems_total = n;
  state.runs_total = int64_t(n) * eval_runs_per_problem(o);
  auto on_run = [&]() {
    std::lock_guard<std::mutex> lock(mutex);
    ++state.runs_done;
    if (progress) progress(state);
  };

  // Phase 1: the full cache on every problem.
  std::vector<std::vector<EvalRow>> full_rows(static_cast<size_t>(n));
  for_each_problem(n, o.threads, [&](int i, ThreadPool& pool) {
    full_rows[size_t(i)] = run_full(model, o, suite, inputs[size_t(i)], pool, on_run);
  });
  double mean_full_length = 0;
  int64_t full_runs = 0;
  for (const auto& rows : full_rows)
    for (const EvalRow& r : rows) {
      mean_full_length += r.full_length;
      ++full_runs;
    }
  mean_full_length /= double(std::max<int64_t>(1, full_runs));
  std::vector<std::vector<ResolvedBudget>> suite_budgets(o.policies.size());
  if (o.budget_mode == BudgetMode::Suite) {
    for (size_t c = 0; c < o.policies.size(); ++c)
      for (const BudgetSpec& b : o.budgets)
        suite_budgets[c].push_back(
            budget_resolve(o.policies[c], b, std::max(1, int(std::lround(mean_full_length))), shape, BudgetMode::Suite));
  }
  for (auto& rows : full_rows)
    for (EvalRow& r : rows)
      if (o.budget_mode == BudgetMode::Suite) r.budget_reference_length = mean_full_length;

  // Phase 2: every policy x budget x seed; rows emitted in problem order as problems finish.
  std::vector<std::optional<std::vector<EvalRow>>> done(static_cast<size_t>(n));
  int next_to_emit = 0;
  for_each_problem(n, o.threads, [&](int i, ThreadPool& pool) {
    std::vector<EvalRow> rows = std::move(full_rows[size_t(i)]);
    std::vector<EvalRow> rest = run_policies(model, o, suite, inputs[size_t(i)], rows, mean_full_length, suite_budgets,
                                             pool, on_run);
    rows.insert(rows.end(), std::make_move_iterator(rest.begin()), std::make_move_iterator(rest.end()));
    for (EvalRow& r : rows) {
      r.index = inputs[size_t(i)].index;
      r.budget_mode = budget_mode_name(o.budget_mode);
    }
    std::lock_guard<std::mutex> lock(mutex);
    done[size_t(i)] = std::move(rows);
    ++state.problems_done;
    while (next_to_emit < n && done[size_t(next_to_emit)]) {
      if (sink) sink(*done[size_t(next_to_emit)]);
      done[size_t(next_to_emit)].reset();
      ++next_to_emit;
    }
    if (progress) progress(state);
  });
}

}  // namespace tc::eval

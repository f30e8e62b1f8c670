// Options shared by `thinkcache eval`, `demo` and `fidelity`: problems (suite, params, task
// seed, range), policies, budgets, seeds, generation caps, worker threads, and the output
// folder. Each reader consumes its options from Args and validates them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cli/args.h"
#include "eval/eval_runner.h"

namespace tc::cli {

// "0,1,2" -> seeds (non-negative integers, distinct); throws naming the bad item.
std::vector<uint64_t> parse_seed_list(const std::string& text, const char* option = "--seeds");

// --threads N, else TC_THREADS, else the hardware's thread count. With more than one worker
// it also pins the process-wide kernel pool to one thread (TC_THREADS=1, before anything
// creates it): policies evict through ThreadPool::global(), whose parallel_for takes one
// caller at a time, and concurrent runs would otherwise call it from several threads.
int read_worker_threads(Args& args);

// The problem and generation options of eval/demo (not policies/budgets, whose defaults
// differ). Defaults as EvalOptions.
void read_eval_problem_options(Args& args, eval::EvalOptions& options);

// Creates `dir` (and parents) if needed; throws naming it when that fails.
void make_output_dir(const std::string& dir);
// Writes `text` to `path` (replacing it); throws naming the file on failure.
void write_text_file(const std::string& path, const std::string& text);

// The canonical command line of an evaluation (every option that changes the rows).
std::string eval_command_line(const std::string& model, const eval::EvalOptions& options, const std::string& out);

#define TC_EVAL_PROBLEM_USAGE                                                                          \
  "[--suite NAME] [--param key=value ...] [--task-seed S] [--start I] [--n N] [--max-tokens N | "     \
  "--max-tokens-factor F] [--temp T [--top-p P] [--top-k K]] [--kv-dtype f16|bf16|f32] [--budget-mode suite|problem] " \
  "[--threads N]"

}  // namespace tc::cli

// `thinkcache demo`: the point of thinkcache in one go. A handful of held-out reasoning
// problems solved by the bundled testbed model with the full KV cache, and with LazyEviction
// and VaSE at 25% of it; prints each answer, then accuracy and the KV memory each used.
// It is `thinkcache eval` with small defaults and a console report.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "cli/args.h"
#include "cli/eval_args.h"
#include "eval/eval_report.h"
#include "eval/eval_runner.h"
#include "model/model.h"
#include "util/error.h"

namespace {

using namespace tc;
using namespace tc::eval;

bool is_dir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// models/testbed relative to the working directory, else to the repository the binary was
// built in (build/thinkcache -> ../models/testbed).
std::string find_testbed_model() {
  const std::string relative = "models/testbed";
  std::vector<std::string> tried;
  if (is_dir(relative)) return relative;
  char cwd[PATH_MAX];
  tried.push_back(std::string(getcwd(cwd, sizeof cwd) ? cwd : ".") + "/" + relative);
  char exe[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    std::string dir(exe);
    for (int up = 0; up < 2 && dir.find('/') != std::string::npos; ++up) {
      dir = dir.substr(0, dir.find_last_of('/'));
      std::string candidate = dir + "/" + relative;
      if (is_dir(candidate)) return candidate;
      if (std::find(tried.begin(), tried.end(), candidate) == tried.end()) tried.push_back(candidate);
    }
  }
  std::string where;
  for (const std::string& t : tried) where += (where.empty() ? "" : ", ") + t;
  TC_THROW("the testbed model is missing (looked for %s): it ships with the repository in models/testbed/ — run "
           "`scripts/setup.sh && ./build/thinkcache demo` from the repository root, or pass --model PATH",
           where.c_str());
}

std::string run_label(const EvalRow& r) {
  if (r.policy_name == "full") return r.policy;
  std::string label = r.policy + " " + r.budget_label + str_printf(" B=%d", r.budget);
  if (r.window > 0) label += str_printf(" W=%d", r.window);
  if (r.seed != 0) label += str_printf(" seed %llu", (unsigned long long)r.seed);
  return label;
}

}  // namespace

TC_COMMAND(demo,
           "[--model PATH] [--suite NAME] [--n N] [--policies LIST] [--budget B | --budgets LIST] [--seeds 0] "
           "[--task-seed S] [--start I] [--param key=value ...] [--threads N] [--out DIR]\n\n"
           "Solves --n (default 8) held-out problems of the chain suite (task seed 1) with the testbed model\n"
           "(default models/testbed) using the full KV cache and each policy of --policies (default full,lazy,vase)\n"
           "at --budget (default 25% of each problem's full-cache length), greedily; prints every answer, then\n"
           "accuracy and KV memory per policy. --out also writes the files of `thinkcache eval`.",
           "solve a few testbed problems with the full cache, lazy and vase at 25% KV") {
  const auto model_arg = args.value("model");
  EvalOptions o;
  o.n = 8;
  o.policies = policy_choice_parse_list(args.get("policies", "full,lazy,vase"));
  auto budget = args.value("budget");
  auto budgets = args.value("budgets");
  TC_CHECK_ARG(!(budget && budgets), "demo: give --budget or --budgets, not both");
  o.budgets = budget_parse_list(budget ? *budget : budgets ? *budgets : "25%");
  o.seeds = cli::parse_seed_list(args.get("seeds", "0"));
  cli::read_eval_problem_options(args, o);
  const auto out = args.value("out");
  args.finish();
  eval_check_options(o);
  const std::string model_path = model_arg ? *model_arg : find_testbed_model();
  std::vector<TaskProblem> problems = eval_problems(o);
  auto model = Model::load(model_path);

  const ModelConfig& c = model->config();
  std::string budget_list;
  for (const BudgetSpec& b : o.budgets) budget_list += (budget_list.empty() ? "" : ", ") + b.label;
  std::string policy_list;
  for (const PolicyChoice& p : o.policies) policy_list += (policy_list.empty() ? "" : ", ") + p.label;
  std::printf("thinkcache demo: %s (%s, %d layers, %.2fM parameters)\n", model_path.c_str(), architecture_name(c.arch),
              c.n_layers, double(model->parameter_count()) / 1e6);
  std::printf("%d held-out problems of suite %s (task seed %llu), greedy decoding; policies %s; KV budget %s %s\n\n",
              o.n, o.suite.c_str(), (unsigned long long)o.task_seed, policy_list.c_str(), budget_list.c_str(),
              "(a percentage is of each problem's full-cache sequence: prompt + generated tokens)");
  std::fflush(stdout);

  std::vector<EvalRow> all_rows;
  eval_run(*model, o, problems, [&](const std::vector<EvalRow>& rows) {
    const EvalRow& first = rows.front();
    std::printf("%s  expected: %s   (prompt %d tokens)\n", first.problem.c_str(), first.expected.c_str(),
                first.prompt_tokens);
    for (const EvalRow& r : rows) {
      std::string answer = r.answered ? r.answer : "(no answer)";
      std::string kv = format_bytes(double(r.peak_kv_bytes));
      if (r.policy_name != "full")
        kv += str_printf(" (%.0f%% of full)", 100.0 * double(r.peak_kv_bytes) / double(std::max<uint64_t>(1, r.full_peak_kv_bytes)));
      std::printf("  %-26s %-7s %-24s %4d tokens  KV peak %s\n", run_label(r).c_str(), r.correct ? "correct" : "wrong",
                  answer.c_str(), r.trace_tokens, kv.c_str());
    }
    std::fflush(stdout);
    all_rows.insert(all_rows.end(), rows.begin(), rows.end());
  });

  std::vector<EvalGroup> groups = eval_aggregate(all_rows);
  std::printf("\n%-26s %-7s %-10s %-19s %-16s %s\n", "policy", "budget", "accuracy", "KV budget (tokens)",
              "KV peak (mean)", "KV peak / full");
  for (const EvalGroup& g : groups) {
    const bool full = g.budget_label == "full";
    std::string tokens = full ? str_printf("%.0f (all)", g.mean_budget)
                              : str_printf("%.0f (%.0f%%)", g.mean_budget, 100 * g.budget_fraction);
    std::printf("%-26s %-7s %3d/%-6d %-19s %-16s %.0f%%\n", (g.policy + (g.requested ? "" : " (ref)")).c_str(),
                full ? "-" : g.budget_label.c_str(), int(std::lround(g.accuracy * g.problems)), g.problems,
                tokens.c_str(), format_bytes(g.mean_peak_kv_bytes).c_str(), 100 * g.peak_kv_fraction);
  }
  std::printf("\nKV budget: tokens kept per layer and KV head (rounded to each policy's rules); KV peak: K+V bytes of\n"
              "the most live cache slots during the run. Full evaluation: thinkcache eval --help, eval/README.md.\n");
  if (out) {
    cli::make_output_dir(*out);
    std::string rows;
    for (const EvalRow& r : all_rows) rows += eval_row_json(r).dump() + "\n";
    cli::write_text_file(*out + "/rows.jsonl", rows);
    EvalReportInfo info;
    info.title = "thinkcache demo";
    info.command = cli::eval_command_line(model_path, o, *out);
    cli::write_text_file(*out + "/results.md", eval_markdown(groups, info));
    cli::write_text_file(*out + "/plot.svg", eval_plot_svg(groups, "budget", "thinkcache demo: accuracy vs KV budget"));
    cli::write_text_file(*out + "/plot_kv.svg", eval_plot_svg(groups, "kv", "thinkcache demo: accuracy vs peak KV"));
    std::printf("wrote %s/rows.jsonl, results.md, plot.svg, plot_kv.svg\n", out->c_str());
  }
  return 0;
}

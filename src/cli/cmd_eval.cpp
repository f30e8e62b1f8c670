// `thinkcache eval`: accuracy of every policy x KV budget on a reasoning task suite, written
// as JSONL rows (incrementally), a Markdown table and SVG plots of accuracy against the budget.
#include <cstdio>
#include <fstream>
#include <memory>

#include "cli/args.h"
#include "cli/eval_args.h"
#include "eval/eval_report.h"
#include "eval/eval_runner.h"
#include "eval/progress.h"
#include "model/model.h"
#include "util/error.h"
#include "util/json.h"

namespace {

using namespace tc;
using namespace tc::eval;

// Writes results.md, plot.svg and plot_kv.svg for `rows` into `out`.
void write_reports(const std::string& out, const std::vector<EvalRow>& rows, const EvalReportInfo& info) {
  std::vector<EvalGroup> groups = eval_aggregate(rows);
  cli::write_text_file(out + "/results.md", eval_markdown(groups, info));
  cli::write_text_file(out + "/plot.svg", eval_plot_svg(groups, "budget", info.title + ": accuracy vs KV budget"));
  cli::write_text_file(out + "/plot_kv.svg", eval_plot_svg(groups, "kv", info.title + ": accuracy vs peak KV"));
}

// --rows FILE: re-aggregates an existing JSONL (e.g. several runs concatenated).
int report_from_rows(const std::string& path, const std::string& out, const std::string& title) {
  std::vector<EvalRow> rows;
  json_lines_for_each(path, [&](const Json& row, const std::string&) { rows.push_back(eval_row_from_json(row)); });
  TC_CHECK_ARG(!rows.empty(), "%s holds no result rows", path.c_str());
  cli::make_output_dir(out);
  EvalReportInfo info;
  info.title = title;
  info.notes.push_back("Aggregated from " + path + str_printf(" (%zu rows).", rows.size()));
  write_reports(out, rows, info);
  std::fprintf(stderr, "wrote %s/results.md, plot.svg, plot_kv.svg\n", out.c_str());
  return 0;
}

}  // namespace

TC_COMMAND(eval,
           "--model PATH --policies LIST --budgets LIST --out DIR [--seeds 0,1] " TC_EVAL_PROBLEM_USAGE
           " [--keep-text] [--title TEXT] [--quiet]\n"
           "       thinkcache eval --rows FILE.jsonl --out DIR [--title TEXT]\n\n"
           "Solves --n problems of --suite (default chain; task seed 1, the testbed's held-out problems) with every\n"
           "policy x budget x seed, greedily, and writes into --out: rows.jsonl (one row per problem x policy x budget\n"
           "x seed, written as problems finish), results.md (accuracy with 95% CI, mean trace tokens, peak KV bytes,\n"
           "tokens/s), plot.svg / plot_kv.svg (accuracy against the budget / the peak KV bytes) and command.txt\n"
           "(the canonical command, every option that changes the rows).\n"
           "  --policies full,lazy,vase,snapkv:mode=decode,vase:window=32   names from `thinkcache policies`, with\n"
           "             :key=value options (window, or any --kv-option of the policy)\n"
           "  --budgets 256,512,1024,25%   tokens per layer and KV head, or a share of the suite's mean full-cache\n"
           "             sequence (prompt + generated), resolved once: one budget for every problem. Policies run at\n"
           "             their own default windows; shares are rounded to each policy's valid budgets, token budgets\n"
           "             are used as given; a budget that cannot hold a problem's prompt plus the window of a policy\n"
           "             that keeps the prompt is reported as infeasible (see eval/README.md)\n"
           "  --budget-mode problem   the first testbed's protocol instead: a share of each problem's own length,\n"
           "             fixed default windows scaled to at most budget/8\n"
           "  --seeds 0,1   policy seeds; deterministic policies run once\n"
           "  --max-tokens N | --max-tokens-factor F   cap on generated tokens (default 1.5 x the reference trace)\n"
           "  --threads N   problems run concurrently (default TC_THREADS or all cores); results do not depend on it\n"
           "The full cache always runs first on every problem (percentages refer to it); when not requested it is\n"
           "reported as a reference. --rows re-aggregates an existing rows.jsonl into results.md and the plots.",
           "accuracy of KV policies x budgets on a task suite (JSONL, Markdown, SVG)") {
  const std::string out = args.require("out");
  const std::string title_default = "thinkcache eval";
  if (auto rows_file = args.value("rows")) {
    std::string title = args.get("title", title_default);
    args.finish();
    return report_from_rows(*rows_file, out, title);
  }
  const std::string model_path = args.require("model");
  EvalOptions o;
  o.policies = policy_choice_parse_list(args.require("policies"));
  if (auto budgets = args.value("budgets")) o.budgets = budget_parse_list(*budgets);
  o.seeds = cli::parse_seed_list(args.get("seeds", "0"));
  o.n = 0;
  cli::read_eval_problem_options(args, o);
  o.keep_text = args.flag("keep-text");
  const bool quiet = args.flag("quiet");
  const std::string title = args.get("title", title_default);
  args.finish();
  eval_check_options(o);
  std::vector<TaskProblem> problems = eval_problems(o);

  auto model = Model::load(model_path);
  cli::make_output_dir(out);
  const std::string rows_path = out + "/rows.jsonl";
  std::ofstream rows_file(rows_path, std::ios::binary | std::ios::trunc);
  if (!rows_file) TC_THROW("cannot write %s", rows_path.c_str());

  const int runs_per_problem = eval_runs_per_problem(o);
  std::fprintf(stderr, "eval: %s, %d problems of %s (task seed %llu from %llu), %d runs each, %d worker threads\n",
               model_path.c_str(), o.n, o.suite.c_str(), (unsigned long long)o.task_seed,
               (unsigned long long)o.start, runs_per_problem, std::min(o.threads, o.n));
  ProgressBar bar("problems", o.n, !quiet);
  std::vector<EvalRow> all_rows;
  eval_run(
      *model, o, problems,
      [&](const std::vector<EvalRow>& rows) {
        for (const EvalRow& r : rows) rows_file << eval_row_json(r).dump() << '\n';
        rows_file.flush();
        if (!rows_file) TC_THROW("cannot write %s", rows_path.c_str());
        all_rows.insert(all_rows.end(), rows.begin(), rows.end());
      },
      [&](const EvalProgress& p) {
        bar.update(p.problems_done, str_printf("%lld/%lld runs", (long long)p.runs_done, (long long)p.runs_total));
      });
  bar.finish();
  rows_file.close();
  if (!rows_file) TC_THROW("cannot write %s", rows_path.c_str());

  EvalReportInfo info;
  info.title = title;
  info.command = cli::eval_command_line(model_path, o, out);
  info.notes.push_back(str_printf("Model %s (%s, %d layers, %d heads / %d KV heads, %.2fM parameters); KV cache %s.",
                                  model_path.c_str(), architecture_name(model->config().arch), model->config().n_layers,
                                  model->config().n_heads, model->config().n_kv_heads,
                                  double(model->parameter_count()) / 1e6, o.kv_dtype.c_str()));
  info.notes.push_back(str_printf("%d problems of suite %s (task seed %llu, indices %llu-%llu), %s decoding, "
                                  "rows in rows.jsonl.",
                                  o.n, o.suite.c_str(), (unsigned long long)o.task_seed, (unsigned long long)o.start,
                                  (unsigned long long)(o.start + uint64_t(o.n) - 1),
                                  o.sampling.temperature > 0 ? "sampled" : "greedy"));
  write_reports(out, all_rows, info);
  cli::write_text_file(out + "/command.txt", info.command + "\n");
  std::vector<EvalGroup> groups = eval_aggregate(all_rows);
  for (const EvalGroup& g : groups)
    std::fprintf(stderr, "  %-28s %-6s accuracy %5.1f%%  peak KV %5.1f%% of full\n", g.policy.c_str(),
                 g.budget_label.c_str(), 100 * g.accuracy, 100 * g.peak_kv_fraction);
  std::fprintf(stderr, "wrote %s/rows.jsonl, results.md, plot.svg, plot_kv.svg, command.txt\n", out.c_str());
  return 0;
}

// Evaluation outputs: one JSONL row per run, the accuracy table (Markdown) and the plots of
// accuracy against the KV budget (SVG).
//
// Aggregation of a (policy, budget) cell: each problem's score is its mean correctness over
// the seeds it ran; accuracy is the mean score over problems, with a 95% Wilson score interval
// for n = the number of problems (with one seed this is the exact binomial setting; with
// several seeds the per-problem means vary less than single draws, so the interval is
// conservative).
#pragma once

#include <string>
#include <vector>

#include "eval/eval_runner.h"
#include "eval/svg_plot.h"
#include "util/json.h"

namespace tc::eval {

// The row as a JSON object (keys in a fixed order; the timing fields are grouped under
// "timing" so that comparisons can drop them).
Json eval_row_json(const EvalRow& row);
// The inverse (for re-aggregating a JSONL file); throws naming the missing or mistyped field.
EvalRow eval_row_from_json(const Json& object);

// 95% Wilson score interval of a proportion p over n trials: {low, high}. n = 0 -> {0, 1}.
std::pair<double, double> wilson_interval(double p, int n, double z = 1.959963984540054);

struct EvalGroup {
  std::string policy;         // label
  std::string budget_label;   // "full" for the full cache
  bool requested = true;
  int problems = 0;
  int runs = 0;
  double accuracy = 0;        // mean over problems of the per-problem mean over seeds
  double ci_low = 0, ci_high = 0;
  double mean_budget = 0;     // tokens (after rounding)
  int min_budget = 0, max_budget = 0;
  double budget_fraction = 1; // mean of budget / full length (1 for full)
  int min_window = -1, max_window = -1;  // -1: no window
  double mean_trace_tokens = 0;
  double mean_peak_kv_bytes = 0;
  double peak_kv_fraction = 1;   // mean of peak KV bytes / the full cache's peak KV bytes
  double tokens_per_s = 0;       // generated tokens / generation seconds, summed over the runs
  int unanswered = 0;            // runs without an "answer:" line
  int infeasible = 0;            // runs not made: the budget cannot hold the prompt plus the window
  int feasible_runs = 0;         // runs made (the means of trace tokens and KV bytes are over these)
  double mean_resident_kv_bytes = 0;  // live K+V bytes averaged over decode steps (0: not recorded)
  double resident_kv_fraction = 0;    // mean of resident KV / the full cache's resident KV
  std::string budget_mode = "problem";  // of the rows: "suite" or "problem"
};

// Groups in order of first appearance in `rows`.
std::vector<EvalGroup> eval_aggregate(const std::vector<EvalRow>& rows);

// Header lines of the Markdown report.
struct EvalReportInfo {
  std::string title;
  std::string command;                // the command that produced the rows
  std::vector<std::string> notes;     // extra lines (model, suite, problems, ...)
};

// The Markdown report: title, command, notes and the table (the full cache first).
std::string eval_markdown(const std::vector<EvalGroup>& groups, const EvalReportInfo& info);

// Accuracy against the budget as a fraction of the full-cache length (x = "budget") or
// against the measured peak KV bytes as a fraction of the full cache's (x = "kv").
std::string eval_plot_svg(const std::vector<EvalGroup>& groups, const std::string& x_axis, const std::string& title);

// "12.3 KiB" style.
std::string format_bytes(double bytes);

}  // namespace tc::eval

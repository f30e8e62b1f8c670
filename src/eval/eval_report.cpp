#include "eval/eval_report.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "util/error.h"

namespace tc::eval {

namespace {

Json int_or_null(int64_t v, bool present) { return present ? Json(v) : Json(nullptr); }

const Json& field(const Json& o, const char* key) {
  const Json* f = o.find(key);
  if (!f) TC_THROW("result row: missing field \"%s\"", key);
  return *f;
}
int64_t int_field(const Json& o, const char* key, bool nullable = false, int64_t if_null = 0) {
  const Json& f = field(o, key);
  if (nullable && f.is_null()) return if_null;
  if (!f.is_number()) TC_THROW("result row: field \"%s\" is not a number", key);
  return f.as_int();
}
std::string string_field(const Json& o, const char* key) {
  const Json& f = field(o, key);
  if (!f.is_string()) TC_THROW("result row: field \"%s\" is not a string", key);
  return f.as_string();
}
bool bool_field(const Json& o, const char* key) {
  const Json& f = field(o, key);
  if (!f.is_bool()) TC_THROW("result row: field \"%s\" is not a boolean", key);
  return f.as_bool();
}

std::string percent(double fraction, int decimals = 1) { return str_printf("%.*f%%", decimals, 100.0 * fraction); }

}  // namespace

Json eval_row_json(const EvalRow& r) {
  const bool full = r.policy_name == "full";
  Json options = Json::object();
  for (const auto& [key, value] : r.options) options.set(key, value);
  Json o = Json::object();
  o.set("problem", r.problem);
  o.set("index", Json(r.index));
  o.set("policy", r.policy);
  o.set("policy_name", r.policy_name);
  o.set("requested", r.requested);
  o.set("budget_spec", r.budget_label);
  o.set("budget_target", int_or_null(r.budget_target, !full));
  o.set("budget", int_or_null(r.budget, !full));
  o.set("window", int_or_null(r.window, r.window > 0));
  o.set("options", std::move(options));
  o.set("budget_mode", r.budget_mode);
  o.set("budget_reference_length", r.budget_reference_length);
  o.set("seed", Json(r.seed));
  o.set("feasible", r.feasible);
  if (!r.feasible) o.set("infeasible_reason", r.infeasible_reason);
  o.set("correct", r.correct);
  o.set("answered", r.answered);
  o.set("answer", r.answer);
  o.set("expected", r.expected);
  o.set("prompt_tokens", r.prompt_tokens);
  o.set("trace_tokens", r.trace_tokens);
  o.set("reference_trace_tokens", r.reference_trace_tokens);
  o.set("max_tokens", r.max_tokens);
  o.set("full_length", r.full_length);
  o.set("stop_reason", r.stop_reason);
  o.set("capacity_slots", r.capacity_slots);
  o.set("peak_tokens", r.peak_tokens);
  o.set("peak_kv_bytes", Json(r.peak_kv_bytes));
  o.set("full_peak_kv_bytes", Json(r.full_peak_kv_bytes));
  o.set("mean_kv_bytes", Json(r.mean_kv_bytes));
  o.set("full_mean_kv_bytes", Json(r.full_mean_kv_bytes));
  o.set("kv_bytes_allocated", Json(r.kv_bytes_allocated));
  o.set("evictions", Json(r.evictions));
  if (!r.text.empty()) o.set("text", r.text);
  Json timing = Json::object();
  timing.set("seconds", r.seconds);
  timing.set("decode_tokens_per_s", r.decode_tokens_per_s);
  timing.set("eviction_seconds", r.eviction_seconds);
  o.set("timing", std::move(timing));
  return o;
}

EvalRow eval_row_from_json(const Json& o) {
  TC_CHECK_ARG(o.is_object(), "result row: not a JSON object");
  EvalRow r;
  r.problem = string_field(o, "problem");
  r.index = uint64_t(int_field(o, "index"));
  r.policy = string_field(o, "policy");
  r.policy_name = string_field(o, "policy_name");
  r.requested = bool_field(o, "requested");
  r.budget_label = string_field(o, "budget_spec");
  r.budget_target = int(int_field(o, "budget_target", true));
  r.budget = int(int_field(o, "budget", true));
  r.window = int(int_field(o, "window", true, -1));
  const Json& options = field(o, "options");
  TC_CHECK_ARG(options.is_object(), "result row: field \"options\" is not an object");
  for (const auto& [key, value] : options.as_object()) {
    TC_CHECK_ARG(value.is_string(), "result row: option \"%s\" is not a string", key.c_str());
    r.options[key] = value.as_string();
  }
  r.seed = uint64_t(int_field(o, "seed"));
  // Fields added with the suite budget mode; rows written before it are per-problem runs.
  r.budget_mode = o.get_string("budget_mode", "problem");
  r.budget_reference_length = o.get_double("budget_reference_length", 0);
  if (const Json* f = o.find("feasible")) {
    TC_CHECK_ARG(f->is_bool(), "result row: field \"feasible\" is not a boolean");
    r.feasible = f->as_bool();
  }
  r.infeasible_reason = o.get_string("infeasible_reason", "");
  r.mean_kv_bytes = uint64_t(o.get_int("mean_kv_bytes", 0));
  r.full_mean_kv_bytes = uint64_t(o.get_int("full_mean_kv_bytes", 0));
  r.correct = bool_field(o, "correct");
  r.answered = bool_field(o, "answered");
  r.answer = string_field(o, "answer");
  r.expected = string_field(o, "expected");
  r.prompt_tokens = int(int_field(o, "prompt_tokens"));
  r.trace_tokens = int(int_field(o, "trace_tokens"));
  r.reference_trace_tokens = int(int_field(o, "reference_trace_tokens"));
  r.max_tokens = int(int_field(o, "max_tokens"));
  r.full_length = int(int_field(o, "full_length"));
  r.stop_reason = string_field(o, "stop_reason");
  r.capacity_slots = int(int_field(o, "capacity_slots"));
  r.peak_tokens = int(int_field(o, "peak_tokens"));
  r.peak_kv_bytes = uint64_t(int_field(o, "peak_kv_bytes"));
  r.full_peak_kv_bytes = uint64_t(int_field(o, "full_peak_kv_bytes"));
  r.kv_bytes_allocated = uint64_t(int_field(o, "kv_bytes_allocated"));
  r.evictions = int_field(o, "evictions");
  if (const Json* text = o.find("text"); text && text->is_string()) r.text = text->as_string();
  const Json& timing = field(o, "timing");
  TC_CHECK_ARG(timing.is_object(), "result row: field \"timing\" is not an object");
  r.seconds = timing.get_double("seconds", 0);
  r.decode_tokens_per_s = timing.get_double("decode_tokens_per_s", 0);
  r.eviction_seconds = timing.get_double("eviction_seconds", 0);
  return r;
}

std::pair<double, double> wilson_interval(double p, int n, double z) {
  if (n <= 0) return {0.0, 1.0};
  const double z2n = z * z / n;
  const double centre = (p + z2n / 2) / (1 + z2n);
  const double half = z / (1 + z2n) * std::sqrt(std::max(0.0, p * (1 - p) / n + z * z / (4.0 * n * n)));
  return {std::max(0.0, centre - half), std::min(1.0, centre + half)};
}

std::vector<EvalGroup> eval_aggregate(const std::vector<EvalRow>& rows) {
  struct Acc {
    EvalGroup g;
    std::map<uint64_t, std::pair<double, int>> per_problem;  // index -> (correct sum, runs)
    double budget_sum = 0, fraction_sum = 0, trace_sum = 0, peak_sum = 0, peak_fraction_sum = 0, seconds = 0;
    double resident_sum = 0, resident_fraction_sum = 0;
    int64_t tokens = 0;
    int resident_runs = 0;  // runs that report a resident KV (rows written before it have 0)
  };
  std::vector<Acc> groups;
  std::map<std::pair<std::string, std::string>, size_t> where;
  for (const EvalRow& r : rows) {
    auto key = std::make_pair(r.policy, r.budget_label);
    auto it = where.find(key);
    if (it == where.end()) {
      it = where.emplace(key, groups.size()).first;
      Acc a;
      a.g.policy = r.policy;
      a.g.budget_label = r.budget_label;
      a.g.requested = r.requested;
      a.g.min_budget = a.g.max_budget = r.budget;
      a.g.min_window = a.g.max_window = r.window;
      groups.push_back(std::move(a));
    }
    Acc& a = groups[it->second];
    auto& pp = a.per_problem[r.index];
    pp.first += r.correct ? 1 : 0;
    pp.second += 1;
    a.g.runs += 1;
    a.g.min_budget = std::min(a.g.min_budget, r.budget);
    a.g.max_budget = std::max(a.g.max_budget, r.budget);
    a.g.min_window = std::min(a.g.min_window, r.window);
    a.g.max_window = std::max(a.g.max_window, r.window);
    const bool full = r.policy_name == "full";
    a.budget_sum += full ? r.full_length : r.budget;
    // The share of the length the budget refers to: the suite's mean full length (suite mode),
    // or the problem's own (problem mode, and rows written before the suite mode).
    const double reference = r.budget_reference_length > 0 ? r.budget_reference_length : double(r.full_length);
    a.fraction_sum += full || reference <= 0 ? 1.0 : double(r.budget) / reference;
    a.g.budget_mode = r.budget_mode;
    if (!r.feasible) {
      // Not run: counted as unsolved; the size and speed means are over the runs that ran.
      a.g.infeasible += 1;
      continue;
    }
    a.g.feasible_runs += 1;
    if (r.mean_kv_bytes > 0) {
      a.resident_sum += double(r.mean_kv_bytes);
      a.resident_fraction_sum += r.full_mean_kv_bytes ? double(r.mean_kv_bytes) / double(r.full_mean_kv_bytes) : 1.0;
      a.resident_runs += 1;
    }
    a.trace_sum += r.trace_tokens;
    a.peak_sum += double(r.peak_kv_bytes);
    a.peak_fraction_sum += r.full_peak_kv_bytes ? double(r.peak_kv_bytes) / double(r.full_peak_kv_bytes) : 1.0;
    a.seconds += r.seconds;
    a.tokens += r.trace_tokens;
    if (!r.answered) a.g.unanswered += 1;
  }
  std::vector<EvalGroup> out;
  for (Acc& a : groups) {
    EvalGroup g = a.g;
    g.problems = int(a.per_problem.size());
    double score = 0;
    for (const auto& [index, pp] : a.per_problem) score += pp.first / pp.second;
    g.accuracy = score / g.problems;
    std::tie(g.ci_low, g.ci_high) = wilson_interval(g.accuracy, g.problems);
    g.mean_budget = a.budget_sum / g.runs;
    g.budget_fraction = a.fraction_sum / g.runs;
    const int ran = std::max(1, g.feasible_runs);
    g.mean_trace_tokens = a.trace_sum / ran;
    g.mean_peak_kv_bytes = a.peak_sum / ran;
    g.peak_kv_fraction = a.peak_fraction_sum / ran;
    g.mean_resident_kv_bytes = a.resident_runs ? a.resident_sum / a.resident_runs : 0;
    g.resident_kv_fraction = a.resident_runs ? a.resident_fraction_sum / a.resident_runs : 0;
    g.tokens_per_s = a.seconds > 0 ? double(a.tokens) / a.seconds : 0;
    out.push_back(g);
  }
  return out;
}

std::string format_bytes(double bytes) {
  if (bytes >= 1024.0 * 1024 * 1024) return str_printf("%.2f GiB", bytes / (1024.0 * 1024 * 1024));
  if (bytes >= 1024.0 * 1024) return str_printf("%.2f MiB", bytes / (1024.0 * 1024));
  if (bytes >= 1024.0) return str_printf("%.1f KiB", bytes / 1024.0);
  return str_printf("%.0f B", bytes);
}

std::string eval_markdown(const std::vector<EvalGroup>& groups, const EvalReportInfo& info) {
  std::string md;
  if (!info.title.empty()) md += "# " + info.title + "\n\n";
  if (!info.command.empty()) md += "```\n" + info.command + "\n```\n\n";
  for (const std::string& note : info.notes) md += note + "\n";
  if (!info.notes.empty()) md += "\n";

  const EvalGroup* full = nullptr;
  for (const EvalGroup& g : groups)
    if (g.budget_label == "full" && (!full || g.requested)) full = &g;
  const bool suite_mode = !groups.empty() && groups.front().budget_mode == "suite";
  md += "| policy | budget | budget tokens (mean) | window | accuracy (95% CI) | vs full | infeasible | mean trace tokens | "
        "peak KV (mean) | peak KV / full | resident KV (mean) | resident / full | tokens/s | problems x seeds |\n";
  md += "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  auto window_text = [](const EvalGroup& g) {
    if (g.max_window <= 0) return std::string("—");
    if (g.min_window == g.max_window) return std::to_string(g.min_window);
    return str_printf("%d–%d", g.min_window, g.max_window);
  };
  auto row = [&](const EvalGroup& g) {
    const bool is_full = g.budget_label == "full";
    std::string name = g.policy + (g.requested ? "" : " (reference)");
    std::string budget = is_full ? "—" : g.budget_label;
    std::string tokens = str_printf("%.1f (%s of full)", g.mean_budget, percent(g.budget_fraction).c_str());
    if (is_full) tokens = str_printf("%.1f (whole sequence)", g.mean_budget);
    std::string vs_full = full && full->accuracy > 0 ? percent(g.accuracy / full->accuracy) : "—";
    std::string infeasible = g.infeasible ? str_printf("%d of %d runs", g.infeasible, g.runs) : "0";
    std::string resident = g.mean_resident_kv_bytes > 0 ? format_bytes(g.mean_resident_kv_bytes) : "—";
    std::string resident_share = g.mean_resident_kv_bytes > 0 ? percent(g.resident_kv_fraction) : "—";
    if (g.feasible_runs == 0) resident = resident_share = "—";
    md += str_printf("| %s | %s | %s | %s | %s [%s, %s] | %s | %s | %.1f | %s | %s | %s | %s | %.0f | %d x %d |\n",
                     name.c_str(), budget.c_str(), tokens.c_str(), window_text(g).c_str(), percent(g.accuracy).c_str(),
                     percent(g.ci_low).c_str(), percent(g.ci_high).c_str(), vs_full.c_str(), infeasible.c_str(),
                     g.mean_trace_tokens, g.feasible_runs ? format_bytes(g.mean_peak_kv_bytes).c_str() : "—",
                     g.feasible_runs ? percent(g.peak_kv_fraction).c_str() : "—", resident.c_str(),
                     resident_share.c_str(), g.tokens_per_s, g.problems, g.problems ? g.runs / g.problems : 0);
  };
  if (full) row(*full);
  for (const EvalGroup& g : groups)
    if (&g != full) row(g);
  md += "\n";
  md += "accuracy: mean over problems of each problem's mean correctness over its seeds; 95% Wilson score interval "
        "over problems; an infeasible run counts as unsolved. vs full: accuracy / full-cache accuracy. budget tokens: "
        "per layer and KV head after rounding to the policy's rules (see eval/README.md), as a share of ";
  md += suite_mode ? "the suite's mean full-cache sequence (prompt + generated; one budget for every problem). "
                   : "each problem's full-cache sequence (prompt + generated). ";
  md += "infeasible: runs not made because the budget cannot hold the prompt plus the policy's window (a policy "
        "that keeps the prompt whole at prefill). peak KV: K+V bytes of the most live slots during the run, summed "
        "over layers and heads; resident KV: the live slots' K+V bytes averaged over the decode steps (each "
        "policy overshoots its budget differently: B+W, B+64, B+1); / full: mean of the per-problem ratio to the "
        "full-cache run; both over the runs made. tokens/s: generated tokens over generation time, per worker "
        "thread (not reproducible; the machine is shared).\n";
  return md;
}

std::string eval_plot_svg(const std::vector<EvalGroup>& groups, const std::string& x_axis, const std::string& title) {
  TC_CHECK_ARG(x_axis == "budget" || x_axis == "kv", "internal error: plot x axis \"%s\"", x_axis.c_str());
  PlotSpec spec;
  spec.title = title;
  spec.x_label = x_axis == "budget" ? "KV budget (share of the full-cache sequence length)"
                                    : "peak KV bytes (share of the full cache's)";
  spec.y_label = "accuracy";
  spec.x_percent = spec.y_percent = true;
  spec.y_min = 0;
  spec.y_max = 1;
  spec.x_min = 0;
  std::vector<std::string> order;
  std::map<std::string, PlotSeries> series;
  for (const EvalGroup& g : groups) {
    if (g.budget_label == "full") {
      spec.references.push_back({g.policy + (g.requested ? "" : " (reference)") + str_printf(" %.1f%%", 100 * g.accuracy),
                                 g.accuracy});
      continue;
    }
    if (!series.count(g.policy)) {
      order.push_back(g.policy);
      series[g.policy].name = g.policy;
    }
    PlotSeries& s = series[g.policy];
    s.x.push_back(x_axis == "budget" ? g.budget_fraction : g.peak_kv_fraction);
    s.y.push_back(g.accuracy);
    s.y_low.push_back(g.ci_low);
    s.y_high.push_back(g.ci_high);
  }
  for (const std::string& name : order) spec.series.push_back(series[name]);
  return svg_line_plot(spec);
}

}  // namespace tc::eval

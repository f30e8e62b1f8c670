// Accuracy aggregation, the Wilson interval, JSON rows, the Markdown table and the SVG writer.
#include "eval/eval_report.h"

#include <algorithm>

#include "eval/svg_plot.h"
#include "util/error.h"
#include "util/testing.h"

using namespace tc;
using namespace tc::eval;

namespace {

EvalRow make_row(uint64_t index, const std::string& policy, const std::string& budget, uint64_t seed, bool correct,
                 int budget_tokens, uint64_t peak, uint64_t full_peak, int full_length) {
  EvalRow r;
  r.index = index;
  r.problem = "p" + std::to_string(index);
  r.policy = policy;
  r.policy_name = policy;
  r.budget_label = budget;
  r.budget = budget_tokens;
  r.budget_target = budget_tokens;
  r.seed = seed;
  r.correct = correct;
  r.answered = correct;
  r.answer = correct ? "x=1" : "";
  r.expected = "x=1";
  r.trace_tokens = 10 + int(index);
  r.prompt_tokens = 30;
  r.full_length = full_length;
  r.peak_kv_bytes = peak;
  r.full_peak_kv_bytes = full_peak;
  r.seconds = 0.5;
  return r;
}

// Counts occurrences of `needle` in `hay`.
int count(const std::string& hay, const std::string& needle) {
  int n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + needle.size())) ++n;
  return n;
}

}  // namespace

// Reference values: the 95% Wilson score intervals tabulated for 50/100, 10/10 and 0/20.
TC_TEST(eval_report_wilson_interval) {
  auto [lo, hi] = wilson_interval(0.5, 100);
  TC_EXPECT_NEAR(lo, 0.40383, 1e-5);
  TC_EXPECT_NEAR(hi, 0.59617, 1e-5);
  std::tie(lo, hi) = wilson_interval(1.0, 10);
  TC_EXPECT_NEAR(lo, 0.72247, 1e-5);
  TC_EXPECT_NEAR(hi, 1.0, 1e-12);
  std::tie(lo, hi) = wilson_interval(0.0, 20);
  TC_EXPECT_NEAR(lo, 0.0, 1e-12);
  TC_EXPECT_NEAR(hi, 0.16113, 1e-5);
  std::tie(lo, hi) = wilson_interval(0.3, 0);
  TC_EXPECT_EQ(lo, 0.0);
  TC_EXPECT_EQ(hi, 1.0);
}

TC_TEST(eval_report_aggregate_by_problem_then_seed) {
  std::vector<EvalRow> rows;
  // Problem 0: full right; vase seed 0 right, seed 1 wrong -> 0.5. Problem 1: full wrong; vase right twice -> 1.
  rows.push_back(make_row(0, "full", "full", 0, true, 0, 1000, 1000, 100));
  rows.push_back(make_row(0, "vase", "25%", 0, true, 25, 300, 1000, 100));
  rows.push_back(make_row(0, "vase", "25%", 1, false, 25, 400, 1000, 100));
  rows.push_back(make_row(1, "full", "full", 0, false, 0, 2000, 2000, 200));
  rows.push_back(make_row(1, "vase", "25%", 0, true, 50, 500, 2000, 200));
  rows.push_back(make_row(1, "vase", "25%", 1, true, 50, 500, 2000, 200));
  std::vector<EvalGroup> groups = eval_aggregate(rows);
  TC_REQUIRE(groups.size() == 2);
  const EvalGroup& full = groups[0];
  const EvalGroup& vase = groups[1];
  TC_EXPECT_EQ(full.policy, std::string("full"));
  TC_EXPECT_EQ(full.problems, 2);
  TC_EXPECT_EQ(full.runs, 2);
  TC_EXPECT_NEAR(full.accuracy, 0.5, 1e-12);
  TC_EXPECT_NEAR(full.mean_budget, 150.0, 1e-12);  // the full cache's budget is the whole sequence
  TC_EXPECT_NEAR(full.peak_kv_fraction, 1.0, 1e-12);
  TC_EXPECT_EQ(vase.problems, 2);
  TC_EXPECT_EQ(vase.runs, 4);
  TC_EXPECT_NEAR(vase.accuracy, 0.75, 1e-12);  // (0.5 + 1) / 2
  auto [lo, hi] = wilson_interval(0.75, 2);
  TC_EXPECT_NEAR(vase.ci_low, lo, 1e-12);
  TC_EXPECT_NEAR(vase.ci_high, hi, 1e-12);
  TC_EXPECT_NEAR(vase.mean_budget, 37.5, 1e-12);
  TC_EXPECT_NEAR(vase.budget_fraction, 0.25, 1e-12);
  TC_EXPECT_NEAR(vase.mean_peak_kv_bytes, 425.0, 1e-9);
  TC_EXPECT_NEAR(vase.peak_kv_fraction, (0.3 + 0.4 + 0.25 + 0.25) / 4, 1e-12);
  TC_EXPECT_NEAR(vase.mean_trace_tokens, 10.5, 1e-12);
  TC_EXPECT_NEAR(vase.tokens_per_s, 42.0 / 2.0, 1e-12);  // 10+10+11+11 tokens over 4 x 0.5 s
  TC_EXPECT_EQ(vase.unanswered, 1);
}

TC_TEST(eval_report_row_json_round_trip) {
  EvalRow r = make_row(3, "vase", "25%", 7, true, 96, 12345, 99999, 400);
  r.window = 12;
  r.options["every"] = "13";
  r.stop_reason = "eos";
  r.text = "<think>\n</think>\nanswer: x=1";
  Json j = eval_row_json(r);
  TC_EXPECT(j.contains("timing"));
  TC_EXPECT(!j.at("timing").contains("correct"));
  EvalRow back = eval_row_from_json(Json::parse(j.dump()));
  TC_EXPECT_EQ(back.index, r.index);
  TC_EXPECT_EQ(back.policy, r.policy);
  TC_EXPECT_EQ(back.budget, 96);
  TC_EXPECT_EQ(back.window, 12);
  TC_EXPECT_EQ(back.options.at("every"), std::string("13"));
  TC_EXPECT_EQ(back.seed, uint64_t(7));
  TC_EXPECT_EQ(back.peak_kv_bytes, uint64_t(12345));
  TC_EXPECT_EQ(back.text, r.text);
  TC_EXPECT_EQ(eval_row_json(back).dump(), j.dump());
  // The full cache has no budget or window: null in JSON.
  Json full = eval_row_json(make_row(0, "full", "full", 0, true, 0, 1, 1, 10));
  TC_EXPECT(full.at("budget").is_null());
  TC_EXPECT(full.at("window").is_null());
  Json broken = Json::parse(j.dump());
  TC_EXPECT_THROWS(eval_row_from_json(Json::parse("{\"problem\":\"x\"}")), "missing field");
}

TC_TEST(eval_report_markdown_table) {
  std::vector<EvalRow> rows;
  rows.push_back(make_row(0, "full", "full", 0, true, 0, 1000, 1000, 100));
  rows.back().requested = false;
  rows.push_back(make_row(0, "lazy", "25%", 0, true, 25, 300, 1000, 100));
  rows.push_back(make_row(0, "lazy", "50%", 0, false, 50, 600, 1000, 100));
  EvalReportInfo info;
  info.title = "T";
  info.command = "thinkcache eval --n 1";
  info.notes = {"a note"};
  std::string md = eval_markdown(eval_aggregate(rows), info);
  TC_EXPECT(md.rfind("# T\n", 0) == 0);
  TC_EXPECT(md.find("thinkcache eval --n 1") != std::string::npos);
  TC_EXPECT(md.find("| full (reference) | — |") != std::string::npos);
  TC_EXPECT(md.find("| lazy | 25% | 25.0 (25.0% of full) |") != std::string::npos);
  TC_EXPECT(md.find("| 100.0% [") != std::string::npos);
  TC_EXPECT(md.find("| 0.0% [") != std::string::npos);
  // Header, separator and three rows, each with 14 cells.
  int table_lines = 0;
  size_t start = 0;
  while (start < md.size()) {
    size_t end = md.find('\n', start);
    std::string line = md.substr(start, end - start);
    if (!line.empty() && line[0] == '|') {
      ++table_lines;
      TC_EXPECT_EQ(count(line, "|"), 15);
    }
    start = end == std::string::npos ? md.size() : end + 1;
  }
  TC_EXPECT_EQ(table_lines, 5);
}

// Suite mode: budgets as a share of the suite's mean length; an infeasible run counts as
// unsolved and is left out of the size means; resident KV against the full cache's.
TC_TEST(eval_report_suite_mode_infeasible_and_resident_kv) {
  std::vector<EvalRow> rows;
  for (uint64_t i = 0; i < 2; ++i) {
    EvalRow full = make_row(i, "full", "full", 0, true, 0, 1000, 1000, 100);
    full.budget_mode = "suite";
    full.budget_reference_length = 800;
    full.mean_kv_bytes = full.full_mean_kv_bytes = 400;
    rows.push_back(full);
  }
  EvalRow ran = make_row(0, "vase", "256", 0, true, 256, 300, 1000, 100);
  ran.budget_mode = "suite";
  ran.budget_reference_length = 800;
  ran.mean_kv_bytes = 100;
  ran.full_mean_kv_bytes = 400;
  rows.push_back(ran);
  EvalRow skipped = make_row(1, "vase", "256", 0, false, 256, 0, 1000, 100);
  skipped.budget_mode = "suite";
  skipped.budget_reference_length = 800;
  skipped.feasible = false;
  skipped.infeasible_reason = "budget 256 cannot hold the 300-token prompt plus the 64-token window";
  rows.push_back(skipped);
  std::vector<EvalGroup> groups = eval_aggregate(rows);
  TC_REQUIRE(groups.size() == 2);
  const EvalGroup& g = groups[1];
  TC_EXPECT_EQ(g.infeasible, 1);
  TC_EXPECT_EQ(g.feasible_runs, 1);
  TC_EXPECT_NEAR(g.accuracy, 0.5, 1e-12);
  TC_EXPECT_NEAR(g.budget_fraction, 256.0 / 800.0, 1e-12);
  TC_EXPECT_NEAR(g.mean_peak_kv_bytes, 300, 1e-9);  // the infeasible row is not averaged in
  TC_EXPECT_NEAR(g.mean_resident_kv_bytes, 100, 1e-9);
  TC_EXPECT_NEAR(g.resident_kv_fraction, 0.25, 1e-12);
  std::string md = eval_markdown(groups, {});
  TC_EXPECT(md.find("| 1 of 2 runs |") != std::string::npos);
  TC_EXPECT(md.find("the suite's mean full-cache sequence") != std::string::npos);
  // The new fields survive the JSONL round trip; rows written before them read as defaults.
  EvalRow back = eval_row_from_json(Json::parse(eval_row_json(skipped).dump()));
  TC_EXPECT(!back.feasible);
  TC_EXPECT_EQ(back.infeasible_reason, skipped.infeasible_reason);
  TC_EXPECT_EQ(back.budget_mode, std::string("suite"));
  TC_EXPECT_NEAR(back.budget_reference_length, 800, 0);
  Json old = eval_row_json(ran);
  Json trimmed = Json::object();
  for (const auto& [key, value] : old.as_object())
    if (key != "budget_mode" && key != "budget_reference_length" && key != "feasible" && key != "mean_kv_bytes" &&
        key != "full_mean_kv_bytes")
      trimmed.set(key, value);
  EvalRow legacy = eval_row_from_json(trimmed);
  TC_EXPECT(legacy.feasible);
  TC_EXPECT_EQ(legacy.budget_mode, std::string("problem"));
  TC_EXPECT_EQ(legacy.mean_kv_bytes, uint64_t(0));
}

TC_TEST(eval_report_nice_ticks_and_escape) {
  std::vector<double> t = nice_ticks(0, 1);
  TC_REQUIRE(t.size() == 6);
  TC_EXPECT_NEAR(t[1], 0.2, 1e-12);
  TC_EXPECT_NEAR(t.back(), 1.0, 1e-12);
  t = nice_ticks(0, 0.73);
  TC_EXPECT_NEAR(t[1] - t[0], 0.2, 1e-12);  // 0.73 / 6 = 0.12 -> step 0.2
  TC_EXPECT_NEAR(t.back(), 0.8, 1e-12);
  t = nice_ticks(120, 980);
  TC_EXPECT_NEAR(t[0], 0, 1e-9);  // 860 / 6 = 143 -> step 200 from 0
  TC_EXPECT_NEAR(t.back(), 1000, 1e-9);
  TC_EXPECT_NEAR(t[1] - t[0], 200, 1e-9);
  TC_EXPECT_EQ(xml_escape("a<b & \"c\" 'd'>"), std::string("a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;"));
}

TC_TEST(eval_report_svg_plot) {
  PlotSpec spec;
  spec.title = "accuracy <vs> budget & more";
  spec.x_percent = spec.y_percent = true;
  spec.series.push_back({"lazy", {0.25, 0.5}, {0.8, 0.9}, {0.7, 0.85}, {0.9, 0.95}});
  spec.series.push_back({"vase:window=8", {0.5, 0.25}, {0.95, 0.6}, {}, {}});
  spec.references.push_back({"full", 0.97});
  std::string svg = svg_line_plot(spec);
  TC_EXPECT(svg.rfind("<?xml", 0) == 0);
  TC_EXPECT_EQ(count(svg, "<svg "), 1);
  TC_EXPECT(svg.find("</svg>\n") == svg.size() - 7);
  TC_EXPECT_EQ(count(svg, "<polyline"), 2);
  TC_EXPECT_EQ(count(svg, "stroke-dasharray"), 2);  // the reference line and its legend entry
  TC_EXPECT(svg.find("accuracy &lt;vs&gt; budget &amp; more") != std::string::npos);
  TC_EXPECT(svg.find("<text") != std::string::npos && svg.find(">50%<") != std::string::npos);
  TC_EXPECT_EQ(count(svg, "<g"), count(svg, "</g>"));
  // Every element opened with '<' closes: self-closing or with its end tag.
  TC_EXPECT_EQ(count(svg, "<text"), count(svg, "</text>"));
  PlotSpec bad;
  bad.series.push_back({"x", {1, 2}, {1}, {}, {}});
  TC_EXPECT_THROWS(svg_line_plot(bad), "2 x values but 1 y values");
  bad.series[0] = {"x", {1, 2}, {1, 2}, {0}, {3}};
  TC_EXPECT_THROWS(svg_line_plot(bad), "error bars");
  // No data at all still gives a valid document.
  TC_EXPECT(svg_line_plot(PlotSpec{}).find("</svg>") != std::string::npos);
}

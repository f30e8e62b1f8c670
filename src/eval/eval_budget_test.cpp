// Budget parsing, policy choices, and the budget/window resolution rules of eval_budget.h,
// checked against values worked out by hand from the documented rules and against the
// policies themselves (make_policy, a synthetic decode through PolicyDriver).
#include "eval/eval_budget.h"

#include <map>

#include "kv/policy.h"
#include "kv/policy_driver_test_util.h"
#include "util/error.h"
#include "util/testing.h"

using namespace tc;
using namespace tc::eval;

namespace {
const KvCacheShape kShape{2, 4, 2, 16};

ResolvedBudget resolve(const std::string& policy, const std::string& budget, int full_length) {
  return budget_resolve(policy_choice_parse(policy), budget_parse(budget), full_length, kShape);
}
}  // namespace

TC_TEST(eval_budget_parse_tokens_and_percentages) {
  BudgetSpec b = budget_parse("128");
  TC_EXPECT(b.kind == BudgetSpec::Kind::Tokens);
  TC_EXPECT_EQ(b.tokens, 128);
  TC_EXPECT_EQ(b.label, std::string("128"));
  b = budget_parse("25%");
  TC_EXPECT(b.kind == BudgetSpec::Kind::Fraction);
  TC_EXPECT_NEAR(b.fraction, 0.25, 1e-15);
  TC_EXPECT_EQ(b.label, std::string("25%"));
  b = budget_parse("12.5%");
  TC_EXPECT_NEAR(b.fraction, 0.125, 1e-15);
  TC_EXPECT_EQ(b.label, std::string("12.5%"));
  TC_EXPECT_NEAR(budget_parse("100%").fraction, 1.0, 0);
  std::vector<BudgetSpec> list = budget_parse_list("128, 25%,50%");
  TC_REQUIRE(list.size() == 3);
  TC_EXPECT_EQ(list[1].label, std::string("25%"));
}

TC_TEST(eval_budget_parse_rejects_bad_items) {
  TC_EXPECT_THROWS(budget_parse("25x"), "25x");
  TC_EXPECT_THROWS(budget_parse("0"), "positive");
  TC_EXPECT_THROWS(budget_parse("0%"), "outside");
  TC_EXPECT_THROWS(budget_parse("-5"), "-5");
  TC_EXPECT_THROWS(budget_parse("150%"), "outside");
  TC_EXPECT_THROWS(budget_parse("abc%"), "not a percentage");
  TC_EXPECT_THROWS(budget_parse("1e3"), "1e3");
  TC_EXPECT_THROWS(budget_parse("0.25"), "0.25");
  TC_EXPECT_THROWS(budget_parse(""), "empty");
  TC_EXPECT_THROWS(budget_parse_list("128,,256"), "empty");
  TC_EXPECT_THROWS(budget_parse_list("25%,25.0%"), "twice");
  TC_EXPECT_THROWS(budget_parse("99999999999"), "too large");
}

TC_TEST(eval_policy_choice_parse) {
  PolicyChoice c = policy_choice_parse("vase:n_large=8:window=32");
  TC_EXPECT_EQ(c.name, std::string("vase"));
  TC_EXPECT_EQ(c.window, 32);
  TC_EXPECT_EQ(c.options.at("n_large"), std::string("8"));
  TC_EXPECT_EQ(c.label, std::string("vase:window=32:n_large=8"));
  TC_EXPECT(c.seeded);
  TC_EXPECT(!policy_choice_parse("lazy").seeded);
  TC_EXPECT_EQ(policy_choice_parse("snapkv:mode=decode").label, std::string("snapkv:mode=decode"));
  TC_EXPECT_THROWS(policy_choice_parse("nosuch"), "known: ");
  TC_EXPECT_THROWS(policy_choice_parse("vase:foo=1"), "no option \"foo\"");
  TC_EXPECT_THROWS(policy_choice_parse("vase:window"), "key=value");
  TC_EXPECT_THROWS(policy_choice_parse("vase:window=0"), "positive integer");
  TC_EXPECT_THROWS(policy_choice_parse("streaming:window=4"), "has no window");
  TC_EXPECT_THROWS(policy_choice_parse("full:window=4"), "full");
  TC_EXPECT_THROWS(policy_choice_parse_list("lazy,lazy"), "twice");
  TC_EXPECT_THROWS(policy_choice_parse_list("lazy,"), "empty");
}

// Each case worked out by hand from the rules in eval_budget.h.
TC_TEST(eval_budget_resolve_percentages) {
  // vase, 25% of 400: target 100; default R = 64 > 100/8, so R = round(12.5) = 13; multiples
  // of 13 around 100: 104 (4 away) beats 91.
  ResolvedBudget r = resolve("vase", "25%", 400);
  TC_EXPECT_EQ(r.target, 100);
  TC_EXPECT_EQ(r.window, 13);
  TC_EXPECT_EQ(r.budget, 104);
  // vase, 25% of 4000: target 1000 >= 8 x 64 keeps R = 64; 1024 (24 away) beats 960.
  r = resolve("vase", "25%", 4000);
  TC_EXPECT_EQ(r.window, 64);
  TC_EXPECT_EQ(r.budget, 1024);
  // Tie: 25% of 240 = 60, R = round(7.5) = 8; 56 and 64 are both 4 away -> the larger.
  r = resolve("vase", "25%", 240);
  TC_EXPECT_EQ(r.window, 8);
  TC_EXPECT_EQ(r.budget, 64);
  // A fixed window is kept: multiples of 32 around 100 -> 96.
  r = resolve("vase:window=32", "25%", 400);
  TC_EXPECT_EQ(r.window, 32);
  TC_EXPECT_EQ(r.budget, 96);
  // lazy keeps its own W = max(16, B/8).
  r = resolve("lazy", "25%", 400);
  TC_EXPECT_EQ(r.budget, 100);
  TC_EXPECT_EQ(r.window, 16);
  r = resolve("lazy", "50%", 4000);
  TC_EXPECT_EQ(r.budget, 2000);
  TC_EXPECT_EQ(r.window, 250);
  // 2% of 400 = 8 is below W = 16: the nearest valid budget is 17.
  r = resolve("lazy", "2%", 400);
  TC_EXPECT_EQ(r.target, 8);
  TC_EXPECT_EQ(r.budget, 17);
  // h2o: recent = B/2.
  r = resolve("h2o", "25%", 400);
  TC_EXPECT_EQ(r.budget, 100);
  TC_EXPECT_EQ(r.window, 50);
  // streaming needs B > 4 sinks; tova has no window.
  r = resolve("streaming", "1%", 300);
  TC_EXPECT_EQ(r.target, 3);
  TC_EXPECT_EQ(r.budget, 5);
  TC_EXPECT_EQ(r.window, -1);
  TC_EXPECT_EQ(resolve("tova", "25%", 402).budget, 101);  // round(100.5) = 101
  // rkv: alpha stays 8; the period 128 > 100/8 becomes 13 unless given.
  r = resolve("rkv", "25%", 400);
  TC_EXPECT_EQ(r.window, 8);
  TC_EXPECT_EQ(r.options.at("every"), std::string("13"));
  TC_EXPECT_EQ(resolve("rkv:every=64", "25%", 400).options.at("every"), std::string("64"));
  TC_EXPECT_EQ(resolve("rkv", "50%", 4000).options.at("every"), std::string("128"));
  // snapkv: window 32 (prefill) / 64 (decode), both scaled to round(200/8) = 25 here.
  r = resolve("snapkv:mode=decode", "50%", 400);
  TC_EXPECT_EQ(r.window, 25);
  TC_EXPECT_EQ(r.budget, 200);
  r = resolve("snapkv", "50%", 400);
  TC_EXPECT_EQ(r.window, 25);
  TC_EXPECT_EQ(r.budget, 200);
  TC_EXPECT_EQ(resolve("snapkv", "50%", 1000).window, 32);
  // full ignores budgets.
  r = resolve("full", "25%", 400);
  TC_EXPECT_EQ(r.budget, 0);
  TC_EXPECT_EQ(r.window, -1);
}

TC_TEST(eval_budget_resolve_token_budgets_are_never_changed) {
  // vase 100: R = round(100/8) = 13 does not divide 100; 12, 11 neither; 10 does.
  ResolvedBudget r = resolve("vase", "100", 1);
  TC_EXPECT_EQ(r.budget, 100);
  TC_EXPECT_EQ(r.window, 10);
  r = resolve("vase", "128", 1);
  TC_EXPECT_EQ(r.budget, 128);
  TC_EXPECT_EQ(r.window, 16);
  r = resolve("vase", "1024", 1);
  TC_EXPECT_EQ(r.window, 64);
  // 1000 >= 512 keeps R = 64 as the start; 1000 % 64 != 0 -> the largest smaller divisor, 50.
  r = resolve("vase", "1000", 1);
  TC_EXPECT_EQ(r.budget, 1000);
  TC_EXPECT_EQ(r.window, 50);
  // A fixed window that does not divide the budget is an error, never a different budget.
  TC_EXPECT_THROWS(resolve("vase:window=32", "100", 1), "not valid for policy vase:window=32");
  // lazy 10 is below its W = 16: an error naming the rule.
  TC_EXPECT_THROWS(resolve("lazy", "10", 1), "must exceed W");
  TC_EXPECT_THROWS(resolve("streaming", "3", 1), "sinks");
  TC_EXPECT_EQ(resolve("streaming", "5", 1).budget, 5);
}

// policy_default_window mirrors each policy's own default: the same capacity either way.
TC_TEST(eval_budget_default_windows_match_the_policies) {
  struct Case {
    const char* policy;
    int budget;
  };
  const Case cases[] = {{"lazy", 50},    {"lazy", 300},  {"lazy", 1000}, {"h2o", 50},     {"h2o", 301},
                        {"rkv", 100},    {"vase", 128},  {"vase", 640},  {"vase-dkv", 640}, {"curdkv", 640},
                        {"random", 200}, {"snapkv", 256}, {"snapkv:mode=decode", 640}};
  for (const Case& c : cases) {
    PolicyChoice choice = policy_choice_parse(c.policy);
    PolicySpec by_default;
    by_default.name = choice.name;
    by_default.budget = c.budget;
    by_default.options = choice.options;
    PolicySpec explicit_window = by_default;
    explicit_window.window = policy_default_window(choice, c.budget, choice.options);
    auto a = make_policy(by_default, kShape);
    auto b = make_policy(explicit_window, kShape);
    for (int prompt : {10, 700})
      TC_EXPECT_EQ(a->capacity_for(prompt, 100), b->capacity_for(prompt, 100));
    TC_EXPECT_EQ(a->window(), explicit_window.window);
  }
  TC_EXPECT_EQ(policy_default_window(policy_choice_parse("streaming"), 100, {}), -1);
  TC_EXPECT_EQ(policy_default_window(policy_choice_parse("tova"), 100, {}), -1);
  // By hand from the policies' own defaults.
  TC_EXPECT_EQ(policy_default_window(policy_choice_parse("lazy"), 1024, {}), 128);
  TC_EXPECT_EQ(policy_default_window(policy_choice_parse("lazy"), 64, {}), 16);
  TC_EXPECT_EQ(policy_default_window(policy_choice_parse("h2o"), 301, {}), 150);
  TC_EXPECT_EQ(policy_default_window(policy_choice_parse("snapkv:mode=decode"), 640, {{"mode", "decode"}}), 64);
  TC_EXPECT_EQ(policy_default_window(policy_choice_parse("snapkv"), 640, {}), 32);
}

// Which policies keep the prompt whole at prefill (and so need budget >= prompt + window): the
// docs/policies.md table's "prompt kept whole" and prefill columns.
TC_TEST(eval_budget_keeps_prompt_matches_the_policies) {
  const std::map<std::string, bool> expected = {
      {"lazy", true},  {"vase", true},    {"vase-dkv", true},  {"curdkv", true},  {"random", true},
      {"snapkv:mode=decode", true}, {"snapkv", false}, {"rkv", false}, {"h2o", false}, {"tova", false},
      {"streaming", false}};
  for (const auto& [policy, keeps] : expected) {
    ResolvedBudget r = budget_resolve(policy_choice_parse(policy), budget_parse("512"), 2000, kShape, BudgetMode::Suite);
    if (r.keeps_prompt != keeps) testing::record_failure(__FILE__, __LINE__, policy + ": keeps_prompt differs");
  }
}

// Suite mode: one budget from the suite's mean length, policies at their own default windows.
TC_TEST(eval_budget_suite_mode_uses_default_windows) {
  auto suite = [](const std::string& policy, const std::string& budget, int mean_length) {
    return budget_resolve(policy_choice_parse(policy), budget_parse(budget), mean_length, kShape, BudgetMode::Suite);
  };
  // vase at 25% of 2000: target 500, the nearest multiple of R = 64 is 512 (448 is 52 away).
  ResolvedBudget v = suite("vase", "25%", 2000);
  TC_EXPECT_EQ(v.target, 500);
  TC_EXPECT_EQ(v.budget, 512);
  TC_EXPECT_EQ(v.window, 64);
  TC_EXPECT(v.keeps_prompt);
  // The per-problem mode scales R down to target / 8 instead: 25% of 400 -> R 13, B 104.
  ResolvedBudget p = budget_resolve(policy_choice_parse("vase"), budget_parse("25%"), 400, kShape, BudgetMode::Problem);
  TC_EXPECT_EQ(p.window, 13);
  TC_EXPECT_EQ(p.budget, 104);
  // In suite mode a small share of a short suite has no valid budget near it with R = 64? It
  // takes the nearest valid one, 128, whatever the distance.
  TC_EXPECT_EQ(suite("vase", "25%", 400).budget, 128);
  // lazy: W = max(16, B/8) at the budget found; rkv keeps its period ("every" is not set).
  ResolvedBudget l = suite("lazy", "25%", 2000);
  TC_EXPECT_EQ(l.budget, 500);
  TC_EXPECT_EQ(l.window, 62);
  TC_EXPECT(suite("rkv", "256", 2000).options.count("every") == 0);
  TC_EXPECT_EQ(suite("snapkv:mode=decode", "1024", 3000).window, 64);
  // A token budget a policy refuses is an error naming its rule (no smaller window is tried).
  TC_EXPECT_THROWS(suite("vase", "100", 2000), "multiple of the window");
  // Feasibility: a prompt-keeping policy needs budget >= prompt + window.
  std::string why;
  TC_EXPECT(budget_fits_prompt(v, 448));
  TC_EXPECT(!budget_fits_prompt(v, 449, &why));
  TC_EXPECT(why.find("cannot hold the 449-token prompt plus the 64-token window") != std::string::npos);
  TC_EXPECT(budget_fits_prompt(suite("streaming", "256", 2000), 1000));
  TC_EXPECT(budget_fits_prompt(suite("h2o", "256", 2000), 1000));
  TC_EXPECT_EQ(std::string(budget_mode_name(budget_mode_parse("problem"))), std::string("problem"));
  TC_EXPECT_THROWS(budget_mode_parse("per-problem"), "not a budget mode");
}

// PolicyInfo::seeded agrees with what the policies do: two seeds keep the same slots exactly
// when a policy is deterministic.
TC_TEST(eval_budget_seeded_policies_are_the_stochastic_ones) {
  for (const PolicyInfo& info : policy_registry()) {
    if (info.name == "full") continue;
    PolicyChoice choice = policy_choice_parse(info.name);
    std::vector<std::vector<int32_t>> kept;
    for (uint64_t seed : {0u, 1u}) {
      testing::DriverSpec ds;
      ds.shape = kShape;
      ds.prompt_tokens = 40;
      ds.max_new_tokens = 400;
      ResolvedBudget r = budget_resolve(choice, budget_parse("64"), 440, kShape);
      PolicySpec spec;
      spec.name = info.name;
      spec.budget = r.budget;
      spec.window = r.window;
      spec.options = r.options;
      spec.seed = seed;
      testing::PolicyDriver driver(ds, make_policy(spec, kShape));
      driver.prefill();
      for (int t = 0; t < ds.max_new_tokens; ++t) driver.decode();
      std::vector<int32_t> positions;
      for (int l = 0; l < kShape.n_layers; ++l)
        for (int h = 0; h < driver.cache().n_store_heads(); ++h)
          for (int s = 0; s < driver.cache().size(l, h); ++s) positions.push_back(driver.cache().positions(l, h)[s]);
      kept.push_back(positions);
    }
    if (info.seeded) {
      if (kept[0] == kept[1]) testing::record_failure(__FILE__, __LINE__, info.name + ": seeds 0 and 1 kept the same slots");
    } else if (kept[0] != kept[1]) {
      testing::record_failure(__FILE__, __LINE__, info.name + ": a deterministic policy depends on the seed");
    }
  }
}

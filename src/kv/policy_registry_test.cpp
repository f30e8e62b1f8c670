// The registry: every policy of the spec is there with documented options; bad requests
// fail with a message naming the problem; capacities follow each schedule's peak.
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kv/policy.h"
#include "kv/policy_base.h"
#include "kv/policy_test_util.h"
#include "util/error.h"
#include "util/testing.h"

using namespace tc;
using namespace tc::testing;

namespace {
const KvCacheShape kShape{2, 4, 2, 8};
}

TC_TEST(policy_registry_lists_every_policy_of_the_spec) {
  std::set<std::string> names;
  for (const auto& info : policy_registry()) {
    names.insert(info.name);
    TC_EXPECT(!info.summary.empty());
    TC_EXPECT(!info.budget_rule.empty());
    for (const auto& p : info.params) TC_EXPECT(!p.key.empty() && !p.default_value.empty() && !p.description.empty());
  }
  for (const char* n : {"full", "streaming", "h2o", "tova", "snapkv", "rkv", "curdkv", "random", "lazy", "vase",
                        "vase-dkv"})
    TC_EXPECT(names.count(n) == 1);
}

TC_TEST(policy_registry_is_sorted_and_safe_to_read_from_many_threads) {
  const auto& list = policy_registry();
  for (size_t i = 1; i < list.size(); ++i) TC_EXPECT(list[i - 1].name < list[i].name);
  // `eval --threads N` builds policies on N workers at once; the registry must not change
  // under them (it once re-sorted itself on every lookup and corrupted the heap).
  const PolicyInfo* first = list.data();
  std::vector<std::thread> workers;
  std::vector<int> built(4, 0);
  for (int t = 0; t < 4; ++t)
    workers.emplace_back([&built, t] {
      for (int i = 0; i < 200; ++i)
        for (const char* name : {"full", "lazy", "vase", "h2o"}) built[size_t(t)] += make_policy(policy_spec(name, 256), kShape) != nullptr;
    });
  for (auto& w : workers) w.join();
  for (int n : built) TC_EXPECT_EQ(n, 800);
  TC_EXPECT(policy_registry().data() == first);
}

TC_TEST(policy_registry_builds_every_policy_with_defaults) {
  for (const auto& info : policy_registry()) {
    auto p = make_policy(policy_spec(info.name, 1024), kShape);
    TC_EXPECT_EQ(p->name(), info.name);
    TC_EXPECT_EQ(p->budget(), info.name == "full" ? 0 : 1024);
    TC_EXPECT(p->capacity_for(100, 4000) > 0);
  }
}

TC_TEST(policy_make_rejects_unknown_names_and_options) {
  TC_EXPECT_THROWS((make_policy(policy_spec("bogus", 128), kShape)), "unknown KV policy \"bogus\"");
  TC_EXPECT_THROWS((make_policy(policy_spec("lazy", 128, -1, {{"alfa", "0.1"}}), kShape)),
                   "policy lazy has no option \"alfa\" (options: alpha, score, heads, state)");
  TC_EXPECT_THROWS((make_policy(policy_spec("tova", 128, -1, {{"sinks", "4"}}), kShape)), "(options: none)");
}

TC_TEST(policy_make_rejects_budgets_below_the_protected_set) {
  TC_EXPECT_THROWS((make_policy(policy_spec("lazy", 0), kShape)), "needs a positive --kv-budget");
  TC_EXPECT_THROWS((make_policy(policy_spec("lazy", 64, 64), kShape)), "B must exceed W");
  TC_EXPECT_THROWS((make_policy(policy_spec("lazy", 16), kShape)), "--kv-budget 16 is too small");  // default W = 16
  TC_EXPECT_THROWS((make_policy(policy_spec("vase", 64), kShape)), "the last R = 64 tokens");
  TC_EXPECT_THROWS((make_policy(policy_spec("vase-dkv", 64), kShape)), "too small");
  TC_EXPECT_THROWS((make_policy(policy_spec("curdkv", 68, 64), kShape)), "too small");  // 64 + 4 sinks
  TC_EXPECT_THROWS((make_policy(policy_spec("rkv", 8), kShape)), "alpha = 8");
  TC_EXPECT_THROWS((make_policy(policy_spec("snapkv", 32), kShape)), "the 32 window tokens");
  TC_EXPECT_THROWS((make_policy(policy_spec("h2o", 10, 10), kShape)), "heavy = B - recent must be >= 1");
  TC_EXPECT_THROWS((make_policy(policy_spec("streaming", 4), kShape)), "4 sinks");
  TC_EXPECT_THROWS((make_policy(policy_spec("random", 70, 64, {{"sinks", "6"}}), kShape)), "too small");
  TC_EXPECT_THROWS((make_policy(policy_spec("tova", 1), kShape)), "too small");
  TC_EXPECT_THROWS((make_policy(policy_spec("lazy", -5), kShape)), "must not be negative");
}

TC_TEST(policy_make_rejects_budgets_that_are_not_a_multiple_of_the_window) {
  TC_EXPECT_THROWS((make_policy(policy_spec("vase", 1000), kShape)),
                   "--kv-budget 1000 must be a multiple of the window R = 64");
  TC_EXPECT_THROWS((make_policy(policy_spec("vase-dkv", 200), kShape)), "must be a multiple");
  TC_EXPECT_THROWS((make_policy(policy_spec("curdkv", 200), kShape)), "must be a multiple");
  TC_EXPECT_THROWS((make_policy(policy_spec("snapkv", 200, -1, {{"mode", "decode"}}), kShape)), "must be a multiple");
  // A different window changes the multiple.
  auto vase40 = make_policy(policy_spec("vase", 200, 40, {{"sinks", "4"}}), kShape);
  TC_EXPECT_EQ(vase40->budget(), 200);
}

TC_TEST(policy_make_rejects_malformed_option_values) {
  TC_EXPECT_THROWS((make_policy(policy_spec("lazy", 128, -1, {{"alpha", "abc"}}), kShape)),
                   "option alpha=\"abc\" is not a finite number");
  TC_EXPECT_THROWS((make_policy(policy_spec("lazy", 128, -1, {{"alpha", "2"}}), kShape)), "out of range");
  TC_EXPECT_THROWS((make_policy(policy_spec("lazy", 128, -1, {{"alpha", "nan"}}), kShape)), "not a finite number");
  TC_EXPECT_THROWS((make_policy(policy_spec("lazy", 128, -1, {{"score", "fancy"}}), kShape)),
                   "option score=\"fancy\" is not one of: code, paper");
  TC_EXPECT_THROWS((make_policy(policy_spec("lazy", 128, -1, {{"heads", "all"}}), kShape)), "is not one of: kv, query");
  TC_EXPECT_THROWS((make_policy(policy_spec("vase", 128, -1, {{"n_large", "12x"}}), kShape)), "is not an integer");
  TC_EXPECT_THROWS((make_policy(policy_spec("vase", 128, -1, {{"n_large", "2"}}), kShape)),
                   "n_large = 2 must be at least the 4 sinks");
  TC_EXPECT_THROWS((make_policy(policy_spec("vase", 128, -1, {{"n_large", "100"}}), kShape)), "do not fit");
  TC_EXPECT_THROWS((make_policy(policy_spec("vase", 128, -1, {{"smooth", "4"}}), kShape)), "odd kernel");
  TC_EXPECT_THROWS((make_policy(policy_spec("rkv", 128, -1, {{"index0_quirk", "maybe"}}), kShape)), "not a boolean");
  TC_EXPECT_THROWS((make_policy(policy_spec("rkv", 128, -1, {{"lambda", "1.5"}}), kShape)), "out of range");
  TC_EXPECT_THROWS((make_policy(policy_spec("snapkv", 128, -1, {{"pooling", "max"}, {"mode", "decode"}}), kShape)),
                   "only available with mode=prefill");
  TC_EXPECT_THROWS((make_policy(policy_spec("curdkv", 128, -1, {{"rank", "0"}}), kShape)), "out of range");
}

TC_TEST(policy_make_rejects_a_window_where_the_policy_has_none) {
  TC_EXPECT_THROWS((make_policy(policy_spec("tova", 128, 16), kShape)), "policy tova has no window");
  TC_EXPECT_THROWS((make_policy(policy_spec("streaming", 128, 16), kShape)), "policy streaming has no window");
  TC_EXPECT_THROWS((make_policy(policy_spec("full", 0, 16), kShape)), "policy full has no window");
  TC_EXPECT_THROWS((make_policy(policy_spec("lazy", 128, 0), kShape)), "--kv-window must be positive");
}

TC_TEST(policy_spec_add_option_parses_key_value) {
  PolicySpec s;
  policy_spec_add_option(s, "alpha=5e-4");
  policy_spec_add_option(s, "score=paper=x");  // the first '=' splits
  TC_EXPECT_EQ(s.options["alpha"], std::string("5e-4"));
  TC_EXPECT_EQ(s.options["score"], std::string("paper=x"));
  TC_EXPECT_THROWS(policy_spec_add_option(s, "alpha"), "is not of the form key=value");
  TC_EXPECT_THROWS(policy_spec_add_option(s, "=1"), "empty key");
  TC_EXPECT_THROWS(policy_spec_add_option(s, "x="), "empty value");
  TC_EXPECT_THROWS(policy_spec_add_option(s, "alpha=1e-3"), "given twice");
}

TC_TEST(policy_capacity_is_the_peak_of_each_schedule) {
  // max(prompt, B) + overshoot, never more than the whole sequence.
  auto cap = [](const char* name, int budget, int window, int prompt, int max_new) {
    return make_policy(policy_spec(name, budget, window), kShape)->capacity_for(prompt, max_new);
  };
  TC_EXPECT_EQ(cap("lazy", 1492, 175, 200, 8192), 1492 + 175);
  TC_EXPECT_EQ(cap("lazy", 1492, 175, 3000, 8192), 3000 + 175);
  TC_EXPECT_EQ(cap("lazy", 1492, 175, 200, 100), 300);
  TC_EXPECT_EQ(cap("vase", 1024, -1, 300, 8192), 1024 + 64);
  TC_EXPECT_EQ(cap("vase-dkv", 1024, -1, 300, 8192), 1024 + 64);
  TC_EXPECT_EQ(cap("rkv", 1024, -1, 300, 8192), 1024 + 128);
  TC_EXPECT_EQ(cap("h2o", 1024, -1, 300, 8192), 1024 + 1);
  TC_EXPECT_EQ(cap("tova", 1024, -1, 2000, 8192), 2000 + 1);
  TC_EXPECT_EQ(cap("streaming", 1024, -1, 300, 8192), 1024 + 1);
  TC_EXPECT_EQ(cap("random", 1024, -1, 300, 8192), 1024 + 64);
  TC_EXPECT_EQ(cap("snapkv", 1024, -1, 3000, 500), 3000);        // prompt stored whole, then 1024 + 500
  TC_EXPECT_EQ(cap("snapkv", 1024, -1, 3000, 5000), 1024 + 5000);
  TC_EXPECT_EQ(cap("snapkv", 1024, -1, 300, 5000), 300 + 5000);  // below the budget: no compression
  TC_EXPECT_EQ(cap("full", 0, -1, 300, 5000), 5300);
}

TC_TEST(eviction_schedule_trigger_rules) {
  using S = EvictionSchedule;
  S lazy{S::Decode::EveryPeriodSteps, S::Prefill::Keep, 4};
  TC_EXPECT(lazy.fires_at_decode(8, 100, 11, 10));
  TC_EXPECT(!lazy.fires_at_decode(7, 100, 11, 10));
  TC_EXPECT(!lazy.fires_at_decode(8, 100, 10, 10));  // N must exceed B
  S vase{S::Decode::CacheLengthMultiple, S::Prefill::Keep, 64};
  TC_EXPECT(vase.fires_at_decode(3, 1000, 192, 128));
  TC_EXPECT(!vase.fires_at_decode(3, 1000, 191, 128));
  TC_EXPECT(!vase.fires_at_decode(3, 1000, 128, 128));
  S rkv{S::Decode::TotalTokensMultiple, S::Prefill::CompressIfAtLeast, 128};
  TC_EXPECT(rkv.fires_at_decode(5, 256, 100, 100));  // size >= budget suffices
  TC_EXPECT(!rkv.fires_at_decode(5, 257, 200, 100));
  TC_EXPECT(!rkv.fires_at_decode(5, 256, 99, 100));
  TC_EXPECT(rkv.fires_at_prefill(100, 100));
  TC_EXPECT(!rkv.fires_at_prefill(99, 100));
  S every{S::Decode::EveryStep, S::Prefill::CompressIfOver, 1};
  TC_EXPECT(every.fires_at_decode(1, 5, 11, 10));
  TC_EXPECT(!every.fires_at_prefill(10, 10));
  S never{S::Decode::Never, S::Prefill::CompressIfAtLeast, 1};
  TC_EXPECT(!never.fires_at_decode(128, 128, 1 << 20, 10));
}

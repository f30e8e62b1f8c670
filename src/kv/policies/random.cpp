// `random`: the control baseline of the VaSE pilot (uniform eviction). Every W decode steps,
// if the cache holds more than B tokens, keep the sinks, the last W tokens and a uniform
// sample (without replacement, seeded) of B − W − sinks of the others, in draw order.
#include "kv/policies/registry_parts.h"
#include "kv/policy_base.h"
#include "kv/policy_options.h"
#include "util/error.h"

namespace tc {
namespace {

class RandomPolicy final : public WindowedPolicy {
 public:
  RandomPolicy(const Config& c, uint64_t seed) : WindowedPolicy("random", c, seed) {}
  AttentionNeeds needs() const override { return {}; }

 protected:
  void score(int, int, int n_cand, float* scores, ScoreScratch&) const override {
    std::fill(scores, scores + n_cand, 1.0f);  // unused: the Uniform selector ignores scores
  }
};

int random_default_window(int, const PolicySpec&) { return 64; }

std::unique_ptr<KvPolicy> make_random(const PolicySpec& spec, const KvCacheShape&) {
  PolicyOptions o(spec);
  WindowedPolicy::Config c;
  c.recent = o.window(random_default_window(spec.budget, spec), 1, 1 << 20);
  c.sinks = o.get_int("sinks", 0, 0, 1 << 20);
  c.budget = o.budget(c.recent + c.sinks + 1,
                      str_printf("the last W = %d tokens and %d sinks are always kept", c.recent, c.sinks));
  c.schedule.decode = EvictionSchedule::Decode::EveryPeriodSteps;
  c.schedule.prefill = EvictionSchedule::Prefill::Keep;
  c.schedule.period = c.recent;
  c.selector = Selector::Uniform;
  return std::make_unique<RandomPolicy>(c, spec.seed);
}

const PolicyRegistrar kRegisterRandom(PolicyInfo{
    "random",
    "random: every W decode steps, if size > B, keep the sinks, the last W and a uniform seeded sample of the "
    "rest (B - W - sinks); peak B + W",
    {{"sinks", "0", "first positions always kept"}},
    make_random,
    "B = tokens kept per head after an eviction; must exceed W + sinks. Capacity max(prompt, B) + W",
    "W = eviction period and protected recent tokens; default 64",
    random_default_window,
    true,
});

}  // namespace
}  // namespace tc

// `full`: no eviction. The cache holds the whole sequence (capacity = prompt + max tokens).
#include "kv/policies/registry_parts.h"
#include "kv/policy_base.h"
#include "kv/policy_options.h"

namespace tc {
namespace {

class FullPolicy final : public PolicyBase {
 public:
  explicit FullPolicy(uint64_t seed) : PolicyBase("full", 0, seed) {}
  AttentionNeeds needs() const override { return {}; }
  int capacity_for(int prompt_tokens, int max_new_tokens) const override {
    return std::max(1, prompt_tokens + max_new_tokens);
  }
};

std::unique_ptr<KvPolicy> make_full(const PolicySpec& spec, const KvCacheShape&) {
  PolicyOptions(spec).reject_window();
  return std::make_unique<FullPolicy>(spec.seed);
}

}  // namespace

static const PolicyRegistrar kRegisterFull(PolicyInfo{
    "full",
    "no eviction: the whole sequence stays in the cache (capacity = prompt + max new tokens)",
    {},
    make_full,
    "ignored (the cache holds the whole sequence)",
    "",
});

}  // namespace tc

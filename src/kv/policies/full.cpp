// `full`: no eviction. The cache holds the whole sequence (capacity = prompt + max tokens).
#include "kv/policies/registry_parts.h"

namespace tc {
namespace {

class FullPolicy final : public KvPolicy {
 public:
  std::string name() const override { return "full"; }
  AttentionNeeds needs() const override { return {}; }
  int capacity_for(int prompt_tokens, int max_new_tokens) const override { return prompt_tokens + max_new_tokens; }
  int budget() const override { return 0; }
  void attach(KvCache&) override {}
  const PolicyStats& stats() const override { return stats_; }

 private:
  PolicyStats stats_;
};

std::unique_ptr<KvPolicy> make_full(const PolicySpec&, const KvCacheShape&) { return std::make_unique<FullPolicy>(); }

}  // namespace

TC_REGISTER_POLICY(full, "no eviction: the whole sequence stays in the cache", {}, make_full);

}  // namespace tc

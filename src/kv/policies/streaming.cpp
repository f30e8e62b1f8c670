// `streaming`: StreamingLLM as the post-RoPE implementations run it (R-KV, KVCache-Factory;
// spec §3.4): keep the first `sinks` tokens and the B − sinks most recent ones, evicting the
// oldest non-sink tokens whenever the cache exceeds B (prompt end, every decode step).
// Tokens keep their true positions (no re-rotation inside the rolling window).
#include "kv/policies/registry_parts.h"
#include "kv/policy_base.h"
#include "kv/policy_options.h"
#include "util/error.h"

namespace tc {
namespace {

class StreamingPolicy final : public RollingPolicy {
 public:
  StreamingPolicy(const Config& c, uint64_t seed) : RollingPolicy("streaming", c, seed) {}
  AttentionNeeds needs() const override { return {}; }

 protected:
  // Every unprotected token is dropped, oldest first.
  const float* scores(int, int, int) override { return nullptr; }
};

std::unique_ptr<KvPolicy> make_streaming(const PolicySpec& spec, const KvCacheShape&) {
  PolicyOptions o(spec);
  o.reject_window();
  RollingPolicy::Config c;
  c.sinks = o.get_int("sinks", 4, 0, 1 << 20);
  c.budget = o.budget(c.sinks + 1, str_printf("%d sinks plus at least one recent token", c.sinks));
  c.recent = c.budget - c.sinks;
  c.layer_wide = false;
  c.compress_prefill = true;
  return std::make_unique<StreamingPolicy>(c, spec.seed);
}

const PolicyRegistrar kRegisterStreaming(PolicyInfo{
    "streaming",
    "StreamingLLM: keep the first `sinks` tokens and the B - sinks most recent; evict the oldest others whenever "
    "size > B; peak B + 1",
    {{"sinks", "4", "attention-sink tokens at the start of the sequence"}},
    make_streaming,
    "B = sinks + recent tokens kept per head; must exceed sinks",
    "",
});

}  // namespace
}  // namespace tc

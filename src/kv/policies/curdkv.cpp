// `curdkv`: the CurDKV baseline as run in the VaSE codebase (cur_fixed_gauss): like
// vase-dkv, but each layer's Gaussian projection is drawn once, at its first eviction.
#include "kv/policies/cur_projection.h"
#include "kv/policies/registry_parts.h"

namespace tc {
namespace {

std::unique_ptr<KvPolicy> make_curdkv(const PolicySpec& spec, const KvCacheShape& shape) {
  return make_cur_projection_policy(spec, shape, /*resample_each_eviction=*/false);
}

const PolicyRegistrar kRegisterCurDkv(PolicyInfo{
    "curdkv",
    "CurDKV: score ‖K G‖²·‖V G‖² (normalised) with one G ~ N(0, 1/r) per layer drawn at its first eviction and "
    "reused, keep 4 sinks + top-k + the last R; fires when size % R == 0 and size > B; per KV head; peak B + R",
    cur_projection_params(),
    make_curdkv,
    kCurProjectionBudgetRule,
    kCurProjectionWindowRule,
    cur_projection_default_window,
    true,
});

}  // namespace
}  // namespace tc

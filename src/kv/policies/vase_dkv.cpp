// `vase-dkv`: VaSE-DKV (code mode cur_resample_gauss): the CUR leverage proxy with a fresh
// Gaussian projection at every eviction; deterministic top-k given the projection.
#include "kv/policies/cur_projection.h"
#include "kv/policies/registry_parts.h"

namespace tc {
namespace {

std::unique_ptr<KvPolicy> make_vase_dkv(const PolicySpec& spec, const KvCacheShape& shape) {
  return make_cur_projection_policy(spec, shape, /*resample_each_eviction=*/true);
}

const PolicyRegistrar kRegisterVaseDkv(PolicyInfo{
    "vase-dkv",
    "VaSE-DKV: score ‖K G‖²·‖V G‖² (normalised) with a fresh G ~ N(0, 1/r) per layer at every eviction, keep "
    "4 sinks + top-k + the last R; fires when size % R == 0 and size > B; per KV head; peak B + R",
    cur_projection_params(),
    make_vase_dkv,
    kCurProjectionBudgetRule,
    kCurProjectionWindowRule,
    cur_projection_default_window,
    true,
});

}  // namespace
}  // namespace tc

// The CUR-style leverage proxy of VaSE-DKV and CurDKV (spec §2.7), shared by `vase-dkv`
// (a fresh Gaussian projection at every eviction) and `curdkv` (one projection per layer,
// drawn at its first eviction and reused). Per layer, G ~ N(0, 1/r) of shape [D][r] is
// shared by the KV heads; per candidate i: k2 = ‖k_i G‖², v2 = ‖v_i G‖² (post-RoPE keys),
// score = k2·v2 / Σ_j k2·v2. The 4 sinks are kept (score 1.0 in the code, i.e. first),
// then the top B − R − 4 by score, then the last R. Same trigger as VaSE.
#pragma once

#include <memory>

#include "kv/policy.h"

namespace tc {

std::unique_ptr<KvPolicy> make_cur_projection_policy(const PolicySpec& spec, const KvCacheShape& shape,
                                                     bool resample_each_eviction);
extern const char* const kCurProjectionBudgetRule;
extern const char* const kCurProjectionWindowRule;
std::vector<PolicyParam> cur_projection_params();
// R = 64 whatever the budget.
int cur_projection_default_window(int budget, const PolicySpec& spec);

}  // namespace tc

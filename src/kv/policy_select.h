// Selectors: which k of n scored items to keep. Outputs are indices into [0, n) in the order
// the policy keeps them (the order matters to policies whose later scoring pools over slot
// order, as VaSE's and R-KV's do).
#pragma once

#include <cstdint>
#include <vector>

#include "util/rng.h"

namespace tc {

enum class Selector : uint8_t {
  TopK,        // deterministic: the k highest scores, descending (torch.topk, sorted)
  GumbelTopK,  // k draws without replacement with probability ∝ score (torch.multinomial)
  Uniform,     // k uniform draws without replacement
};

// The k highest of scores[0, n), in descending score order; equal scores keep ascending
// index order and NaN ranks below everything. out: [k]
void select_top_k(const float* scores, int n, int k, std::vector<int32_t>& out);

// Weighted sampling of k of n items without replacement (successive draws, each with
// probability weight / remaining weight), returned in draw order. Implemented as
// Gumbel-top-k: key_i = log w_i + Gumbel_i, take the k largest keys — the same
// (Plackett-Luce) distribution. (Computed as the order-equivalent Efraimidis-Spirakis key
// log(u_i)/w_i: one logarithm per item.) Items with weight <= 0 (or NaN) are never drawn while
// positive-weight items remain; if k exceeds their number the rest are taken in ascending
// index order (deterministic, where torch.multinomial would fail). out: [k]
void select_gumbel_top_k(const float* weights, int n, int k, Rng& rng, std::vector<int32_t>& out);

// k of n uniformly without replacement, in draw order. out: [k]
void select_uniform(int n, int k, Rng& rng, std::vector<int32_t>& out);

// The k lowest of scores[0, n) as a set (ascending score; ties: ascending tie_key, then
// index). Used by the every-step policies that drop a few tokens. out: [k]
void select_bottom_k(const float* scores, const int32_t* tie_key, int n, int k, std::vector<int32_t>& out);

}  // namespace tc

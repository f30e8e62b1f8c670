// rms_norm, rope, silu_mul and softmax (fast) against their double-precision references,
// over widths that exercise the vector tails. Tolerances are stated per kernel.
#include <cmath>
#include <vector>

#include "backend/cpu/kernel_test_util.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/ops_ref.h"
#include "util/testing.h"

using namespace tc;
using namespace tc::cpu::testing_util;

TC_TEST(cpu_rms_norm_matches_reference) {
  // f32 sum of squares vs double: relative error ~ d / lanes * 2^-24; 1e-6 relative covers it.
  Rng rng(31);
  for (int d : {1, 7, 64, 576, 1000}) {
    const int n = 3;
    auto x = random_floats(size_t(n) * d, rng, 3.0);
    auto w = random_floats(size_t(d), rng);
    std::vector<float> y(x.size()), y_ref(x.size());
    cpu::rms_norm(x.data(), w.data(), y.data(), n, d, 1e-5f);
    cpu::ref::rms_norm(x.data(), w.data(), y_ref.data(), n, d, 1e-5f);
    TC_EXPECT(worst_error(y.data(), y_ref.data(), y.size(), 1e-7, 1e-6) <= 1);
    std::vector<float> inplace = x;  // y may alias x
    cpu::rms_norm(inplace.data(), w.data(), inplace.data(), n, d, 1e-5f);
    TC_EXPECT(worst_error(inplace.data(), y.data(), y.size(), 1e-30, 0) <= 1);  // bit-identical
  }
}

TC_TEST(cpu_rope_matches_reference) {
  // sin/cos in float after an exact double reduction: |error| <= ~2e-7 * (|x0| + |x1|);
  // tolerance 2e-6 absolute for |x| ~ N(0, 1), at positions up to 1e6.
  Rng rng(32);
  for (int head_dim : {6, 64, 80, 128})
    for (auto style : {cpu::RopeStyle::Neox, cpu::RopeStyle::Interleaved})
      for (int64_t pos : {0, 1, 37, 4095, 100000, 1000000}) {
        const int n_heads = 3, half = head_dim / 2;
        std::vector<float> inv_freq(half);
        for (int i = 0; i < half; ++i) inv_freq[i] = float(std::pow(100000.0, -2.0 * i / head_dim));
        auto x = random_floats(size_t(n_heads) * head_dim, rng);
        std::vector<float> x_ref = x;
        cpu::rope(x.data(), n_heads, head_dim, pos, inv_freq.data(), style);
        cpu::ref::rope(x_ref.data(), n_heads, head_dim, pos, inv_freq.data(), style);
        TC_EXPECT(worst_error(x.data(), x_ref.data(), x.size(), 2e-6, 0) <= 1);
      }
}

TC_TEST(cpu_silu_mul_matches_reference) {
  // Vector exp within 2 ulp, then a divide and a multiply: 1e-6 relative.
  Rng rng(33);
  for (int n : {1, 5, 16, 100, 1537}) {
    auto g = random_floats(size_t(n), rng, 6.0);
    auto u = random_floats(size_t(n), rng);
    if (n > 10) g[3] = -120.0f, g[4] = 95.0f, g[5] = 0.0f;  // saturating ends of exp
    std::vector<float> y(n), y_ref(n);
    cpu::silu_mul(g.data(), u.data(), y.data(), n);
    cpu::ref::silu_mul(g.data(), u.data(), y_ref.data(), n);
    TC_EXPECT(worst_error(y.data(), y_ref.data(), n, 1e-30, 1e-6) <= 1);
  }
}

TC_TEST(cpu_softmax_matches_reference) {
  // Probabilities to 1e-6 relative (exp within 2 ulp, f32 sum over several lanes); masked
  // (-inf) entries must come out exactly 0.
  Rng rng(34);
  for (int n : {1, 3, 17, 64, 1000, 49152}) {
    auto x = random_floats(size_t(n), rng, 8.0);
    if (n > 20) x[7] = -INFINITY, x[8] = -150.0f;
    std::vector<float> x_ref = x;
    cpu::softmax(x.data(), n);
    cpu::ref::softmax(x_ref.data(), n);
    TC_EXPECT(worst_error(x.data(), x_ref.data(), n, 1e-30, 1e-6) <= 1);
    if (n > 20) TC_EXPECT_EQ(x[7], 0.0f);
  }
}

// The small per-token kernels: embedding_row, rms_norm, rope, silu_mul, softmax. Each keeps
// the reference's operation order where that is free (so results match it to the last bit
// or nearly), and uses f32 accumulation with several lanes where the reference uses double.
#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/ops.h"
#include "backend/cpu/simd.h"
#include "util/error.h"

namespace tc::cpu {

using namespace simd;

const char* cpu_isa_name() { return kIsaName; }

void embedding_row(const TensorView& table, int64_t row, float* out) {
  TC_CHECK_ARG(row >= 0 && row < table.rows(), "token id %lld is outside the vocabulary (%lld rows)", (long long)row,
               (long long)table.rows());
  cpu::dequantize_row(table.dtype, table.row(row), out, table.cols());
}

namespace {

// Sum of squares of x[d] with four vector accumulators.
float sum_squares(const float* x, int d) {
  VF a0 = zero(), a1 = zero(), a2 = zero(), a3 = zero();
  int i = 0;
  for (; i + 4 * kW <= d; i += 4 * kW) {
    VF v0 = load(x + i), v1 = load(x + i + kW), v2 = load(x + i + 2 * kW), v3 = load(x + i + 3 * kW);
    a0 = fma(v0, v0, a0);
    a1 = fma(v1, v1, a1);
    a2 = fma(v2, v2, a2);
    a3 = fma(v3, v3, a3);
  }
  for (; i + kW <= d; i += kW) {
    VF v = load(x + i);
    a0 = fma(v, v, a0);
  }
  float s = reduce_add(add(add(a0, a1), add(a2, a3)));
  for (; i < d; ++i) s += x[i] * x[i];
  return s;
}

}  // namespace

void rms_norm(const float* x, const float* weight, float* y, int n, int d, float eps) {
  for (int r = 0; r < n; ++r) {
    const float* xr = x + size_t(r) * d;
    float* yr = y + size_t(r) * d;
    const float inv = float(1.0 / std::sqrt(double(sum_squares(xr, d)) / d + eps));
    const VF vinv = set1(inv);
    int i = 0;
    for (; i + kW <= d; i += kW) store(yr + i, mul(mul(load(xr + i), vinv), load(weight + i)));
    for (; i < d; ++i) yr[i] = xr[i] * inv * weight[i];
  }
}

void rope(float* x, int n_heads, int head_dim, int64_t pos, const float* inv_freq, RopeStyle style) {
  const int half = head_dim / 2;
  // cs: [2][half] cos then sin of pos * inv_freq. The angle is reduced modulo 2*pi in double
  // (it reaches 1e5 rad at long positions), then float sin/cos keep ~1e-7 absolute error.
  thread_local std::vector<float> cs;
  if (int(cs.size()) < 2 * half) cs.resize(size_t(2 * half));
  float* c = cs.data();
  float* s = cs.data() + half;
  constexpr double kTwoPi = 6.283185307179586476925286766559;
  for (int i = 0; i < half; ++i) {
    const double angle = double(pos) * inv_freq[i];
    const float r = float(angle - kTwoPi * std::nearbyint(angle / kTwoPi));
    c[i] = std::cos(r);
    s[i] = std::sin(r);
  }
  for (int h = 0; h < n_heads; ++h) {
    float* xh = x + size_t(h) * head_dim;
    if (style == RopeStyle::Neox) {
      int i = 0;
      for (; i + kW <= half; i += kW) {
        VF x0 = load(xh + i), x1 = load(xh + half + i), vc = load(c + i), vs = load(s + i);
        store(xh + i, sub(mul(x0, vc), mul(x1, vs)));
        store(xh + half + i, add(mul(x0, vs), mul(x1, vc)));
      }
      for (; i < half; ++i) {
        const float x0 = xh[i], x1 = xh[half + i];
        xh[i] = x0 * c[i] - x1 * s[i];
        xh[half + i] = x0 * s[i] + x1 * c[i];
      }
    } else {
      for (int i = 0; i < half; ++i) {
        const float x0 = xh[2 * i], x1 = xh[2 * i + 1];
        xh[2 * i] = x0 * c[i] - x1 * s[i];
        xh[2 * i + 1] = x0 * s[i] + x1 * c[i];
      }
    }
  }
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  const VF one = set1(1.0f);
  int64_t i = 0;
  for (; i + kW <= n; i += kW) {
    VF g = load(gate + i);
    store(out + i, mul(div(g, add(one, exp(sub(zero(), g)))), load(up + i)));
  }
  for (; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void softmax(float* x, int n) {
  if (n <= 0) return;
  int i = 0;
  VF vm = set1(-INFINITY);
  for (; i + kW <= n; i += kW) vm = max(vm, load(x + i));
  float m = reduce_max(vm);
  for (; i < n; ++i) m = std::max(m, x[i]);
  const VF vmax = set1(m);
  VF s0 = zero(), s1 = zero();
  i = 0;
  for (; i + 2 * kW <= n; i += 2 * kW) {
    VF e0 = exp(sub(load(x + i), vmax)), e1 = exp(sub(load(x + i + kW), vmax));
    store(x + i, e0);
    store(x + i + kW, e1);
    s0 = add(s0, e0);
    s1 = add(s1, e1);
  }
  double sum = reduce_add(add(s0, s1));
  for (; i < n; ++i) {
    x[i] = std::exp(x[i] - m);
    sum += x[i];
  }
  const float inv = float(1.0 / sum);
  const VF vinv = set1(inv);
  i = 0;
  for (; i + kW <= n; i += kW) store(x + i, mul(load(x + i), vinv));
  for (; i < n; ++i) x[i] *= inv;
}

}  // namespace tc::cpu

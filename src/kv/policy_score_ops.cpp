#include "kv/policy_score_ops.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "util/error.h"

#if defined(__F16C__) && defined(__AVX__)
#include <immintrin.h>
#endif

namespace tc {

float policy_dot(const float* a, const float* b, int n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] += a[i + l] * b[i + l];
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

namespace {

inline float hsum8(const float* s) { return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7])); }

// out[0..3] = dot(a_r, b) for the four rows a0..a3.
inline void dot4x1(const float* __restrict a0, const float* __restrict a1, const float* __restrict a2,
                   const float* __restrict a3, const float* __restrict b, int d, float* out) {
  float s0[8] = {}, s1[8] = {}, s2[8] = {}, s3[8] = {};
  int e = 0;
  for (; e + 8 <= d; e += 8)
    for (int l = 0; l < 8; ++l) {
      const float bl = b[e + l];
      s0[l] += a0[e + l] * bl;
      s1[l] += a1[e + l] * bl;
      s2[l] += a2[e + l] * bl;
      s3[l] += a3[e + l] * bl;
    }
  float r0 = hsum8(s0), r1 = hsum8(s1), r2 = hsum8(s2), r3 = hsum8(s3);
  for (; e < d; ++e) {
    r0 += a0[e] * b[e];
    r1 += a1[e] * b[e];
    r2 += a2[e] * b[e];
    r3 += a3[e] * b[e];
  }
  out[0] = r0, out[1] = r1, out[2] = r2, out[3] = r3;
}

}  // namespace

void policy_dot_block(const float* a, int n_a, int a_stride, const float* b, int n_b, int b_stride, int d,
                      float scale, float* out, int out_stride) {
  int i = 0;
  for (; i + 4 <= n_a; i += 4) {
    const float* a0 = a + size_t(i) * a_stride;
    float r[4];
    for (int j = 0; j < n_b; ++j) {
      dot4x1(a0, a0 + a_stride, a0 + 2 * size_t(a_stride), a0 + 3 * size_t(a_stride), b + size_t(j) * b_stride, d, r);
      for (int k = 0; k < 4; ++k) out[size_t(i + k) * out_stride + j] = r[k] * scale;
    }
  }
  for (; i < n_a; ++i)
    for (int j = 0; j < n_b; ++j)
      out[size_t(i) * out_stride + j] = policy_dot(a + size_t(i) * a_stride, b + size_t(j) * b_stride, d) * scale;
}

float policy_sum(const float* x, int n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] += x[i + l];
  float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; i < n; ++i) s += x[i];
  return s;
}

void policy_axpy(float* __restrict y, const float* __restrict x, float a, int n) {
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) y[i + l] += a * x[i + l];
  for (; i < n; ++i) y[i] += a * x[i];
}

void policy_max_into(float* __restrict y, const float* __restrict x, int n) {
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) y[i + l] = std::max(y[i + l], x[i + l]);
  for (; i < n; ++i) y[i] = std::max(y[i], x[i]);
}

void policy_softmax(float* x, int n) {
  if (n <= 0) return;
  float m = -std::numeric_limits<float>::infinity();
  for (int i = 0; i < n; ++i) m = std::max(m, x[i]);
  if (m == -std::numeric_limits<float>::infinity()) {  // everything masked: no mass anywhere
    std::fill(x, x + n, 0.0f);
    return;
  }
  double sum = 0;
  for (int i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - m);
    sum += x[i];
  }
  float inv = float(1.0 / sum);
  for (int i = 0; i < n; ++i) x[i] *= inv;
}

void avg_pool_same(const float* x, float* y, int n, int kernel) {
  TC_ASSERT(kernel >= 1 && kernel % 2 == 1 && x != y);
  const int half = kernel / 2;
  const float inv = 1.0f / float(kernel);
  for (int i = 0; i < n; ++i) {
    float s = 0;
    int lo = std::max(0, i - half), hi = std::min(n - 1, i + half);
    for (int j = lo; j <= hi; ++j) s += x[j];
    y[i] = s * inv;
  }
}

void max_pool_same(const float* x, float* y, int n, int kernel) {
  TC_ASSERT(kernel >= 1 && kernel % 2 == 1 && x != y);
  const int half = kernel / 2;
  for (int i = 0; i < n; ++i) {
    int lo = std::max(0, i - half), hi = std::min(n - 1, i + half);
    float m = x[lo];
    for (int j = lo + 1; j <= hi; ++j) m = std::max(m, x[j]);
    y[i] = m;
  }
}

float value_range(const float* v, int d) {
  float lo = v[0], hi = v[0];
  for (int i = 1; i < d; ++i) {
    lo = std::min(lo, v[i]);
    hi = std::max(hi, v[i]);
  }
  return hi - lo;
}

namespace {

// Rows [first, first + n) of a K or V buffer as f32. F16 uses the F16C conversion when the
// build has it (the scalar path is the reference conversion, branchy and ~10x slower).
void rows_to_f32(DType dtype, const uint8_t* rows, size_t row_bytes, int first, int n, int d, float* out) {
#if defined(__F16C__) && defined(__AVX__)
  if (dtype == DType::F16 && d % 8 == 0) {
    for (int i = 0; i < n; ++i) {
      const uint16_t* h = reinterpret_cast<const uint16_t*>(rows + size_t(first + i) * row_bytes);
      float* o = out + size_t(i) * d;
      for (int e = 0; e < d; e += 8)
        _mm256_storeu_ps(o + e, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(h + e))));
    }
    return;
  }
#endif
  if (dtype == DType::BF16) {
    for (int i = 0; i < n; ++i) {
      const uint16_t* h = reinterpret_cast<const uint16_t*>(rows + size_t(first + i) * row_bytes);
      uint32_t* o = reinterpret_cast<uint32_t*>(out + size_t(i) * d);
      for (int e = 0; e < d; ++e) o[e] = uint32_t(h[e]) << 16;
    }
    return;
  }
  for (int i = 0; i < n; ++i) kv_row_to_f32(dtype, rows + size_t(first + i) * row_bytes, out + size_t(i) * d, d);
}

}  // namespace

void load_keys_f32(const KvCache& cache, int layer, int head, int first, int n, float* out) {
  rows_to_f32(cache.dtype(), cache.k_rows(layer, head), cache.row_bytes(), first, n, cache.head_dim(), out);
}

void load_values_f32(const KvCache& cache, int layer, int head, int first, int n, float* out) {
  rows_to_f32(cache.dtype(), cache.v_rows(layer, head), cache.row_bytes(), first, n, cache.head_dim(), out);
}

void accumulate_window_softmax(const WindowSoftmaxArgs& a, float* out, std::vector<float>& logits) {
  TC_ASSERT(a.n_out <= a.n_softmax && a.d > 0);
  const bool masked = a.q_pos && a.k_pos;
  constexpr int kRows = 4;  // queries scored together
  logits.resize(size_t(kRows) * a.n_softmax);
  for (int j0 = 0; j0 < a.n_q; j0 += kRows) {
    const int rows = std::min(kRows, a.n_q - j0);
    // logits: [rows][n_softmax]
    policy_dot_block(a.q + size_t(j0) * a.q_stride, rows, a.q_stride, a.k, a.n_softmax, a.d, a.d, a.scale,
                     logits.data(), a.n_softmax);
    for (int r = 0; r < rows; ++r) {
      float* row = logits.data() + size_t(r) * a.n_softmax;
      if (masked)
        for (int i = 0; i < a.n_softmax; ++i)
          if (a.k_pos[i] > a.q_pos[j0 + r]) row[i] = -std::numeric_limits<float>::infinity();
      policy_softmax(row, a.n_softmax);
      policy_axpy(out, row, a.weight, a.n_out);
    }
  }
}

}  // namespace tc

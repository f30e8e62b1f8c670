#include "kv/policy_score_ops.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "util/error.h"

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

void load_keys_f32(const KvCache& cache, int layer, int head, int first, int n, float* out) {
  const int d = cache.head_dim();
  const uint8_t* rows = cache.k_rows(layer, head);
  for (int i = 0; i < n; ++i)
    kv_row_to_f32(cache.dtype(), rows + size_t(first + i) * cache.row_bytes(), out + size_t(i) * d, d);
}

void load_values_f32(const KvCache& cache, int layer, int head, int first, int n, float* out) {
  const int d = cache.head_dim();
  const uint8_t* rows = cache.v_rows(layer, head);
  for (int i = 0; i < n; ++i)
    kv_row_to_f32(cache.dtype(), rows + size_t(first + i) * cache.row_bytes(), out + size_t(i) * d, d);
}

void accumulate_window_softmax(const WindowSoftmaxArgs& a, float* out, std::vector<float>& logits) {
  TC_ASSERT(a.n_out <= a.n_softmax && a.d > 0);
  const bool masked = a.q_pos && a.k_pos;
  logits.resize(size_t(a.n_softmax));
  for (int j = 0; j < a.n_q; ++j) {
    const float* q = a.q + size_t(j) * a.q_stride;
    for (int i = 0; i < a.n_softmax; ++i) {
      if (masked && a.k_pos[i] > a.q_pos[j]) {
        logits[i] = -std::numeric_limits<float>::infinity();
        continue;
      }
      logits[i] = policy_dot(q, a.k + size_t(i) * a.d, a.d) * a.scale;
    }
    policy_softmax(logits.data(), a.n_softmax);
    for (int i = 0; i < a.n_out; ++i) out[i] += a.weight * logits[i];
  }
}

}  // namespace tc

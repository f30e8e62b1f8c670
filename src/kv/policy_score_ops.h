// Numeric building blocks shared by the policy scorers: dot products, softmax, the 1-D
// pools of the reference code (PyTorch semantics), value ranges, and the windowed-query
// attention side pass run at eviction time.
#pragma once

#include <cstdint>
#include <vector>

#include "kv/kv_cache.h"

namespace tc {

// sum_i a[i] * b[i] in f32 with 8 independent accumulators (vectorisable without -ffast-math).
float policy_dot(const float* a, const float* b, int n);

// out[i * out_stride + j] = scale · dot(a_i, b_j) for i < n_a, j < n_b, where a_i = a + i·a_stride
// and b_j = b + j·b_stride (d floats each). Four a-rows share every b-row load and run four
// independent accumulator chains: the matrix-shaped scoring passes (window attention,
// R-KV's similarities, CUR projections) use this instead of one dot at a time.
void policy_dot_block(const float* a, int n_a, int a_stride, const float* b, int n_b, int b_stride, int d,
                      float scale, float* out, int out_stride);

// Per-step helpers over a head's slots, written in 8-lane blocks so GCC vectorises them at -O2.
float policy_sum(const float* x, int n);                       // Σ x[i]
void policy_axpy(float* y, const float* x, float a, int n);    // y[i] += a * x[i]
void policy_max_into(float* y, const float* x, int n);         // y[i] = max(y[i], x[i])

// In-place softmax of x[n] (max-subtracted, f32 result, double normaliser). n may be 0.
void policy_softmax(float* x, int n);

// AvgPool1d(kernel, stride 1, padding kernel/2), count_include_pad = True: zero padding and
// every output divided by `kernel` (PyTorch's default). Odd kernel. x, y: [n], y != x.
void avg_pool_same(const float* x, float* y, int n, int kernel);
// MaxPool1d(kernel, stride 1, padding kernel/2): padding never wins (implicit -inf). x, y: [n], y != x.
void max_pool_same(const float* x, float* y, int n, int kernel);

// max_d v[d] - min_d v[d]: VaSE's value "range". v: [d]
float value_range(const float* v, int d);

// Rows [first, first + n) of one store head as f32. out: [n][head_dim]
void load_keys_f32(const KvCache& cache, int layer, int head, int first, int n, float* out);
void load_values_f32(const KvCache& cache, int layer, int head, int first, int n, float* out);

// The windowed-query attention side pass. For each query j in [0, n_q):
//   p_j(i) = softmax over keys i in [0, n_softmax) of (q_j · k_i) * scale
// where keys with key_pos[i] > q_pos[j] are masked out (when both position arrays are
// given: the causal mask of SnapKV's prefill window), then
//   out[i] += weight * p_j(i)   for i in [0, n_out), n_out <= n_softmax.
// q: [n_q][d] (rows `q_stride` floats apart); k: [n_softmax][d]; out: [n_out].
// logits: scratch, resized to n_softmax.
struct WindowSoftmaxArgs {
  const float* q = nullptr;
  int q_stride = 0;
  const int64_t* q_pos = nullptr;  // [n_q] or null (no mask)
  int n_q = 0;
  const float* k = nullptr;
  const int32_t* k_pos = nullptr;  // [n_softmax] or null
  int n_softmax = 0;
  int n_out = 0;
  int d = 0;
  float scale = 1.0f;
  float weight = 1.0f;
};
void accumulate_window_softmax(const WindowSoftmaxArgs& a, float* out, std::vector<float>& logits);

}  // namespace tc

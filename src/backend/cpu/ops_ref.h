// Plain reference implementations of every kernel in ops.h (same signatures, namespace
// tc::cpu::ref). They accumulate in double and read the KV cache row by row, so they are
// slow but obviously right; the tests compare the fast kernels against them and they
// document the exact semantics (masking, taps, edge cases).
#pragma once

#include <cstdint>

#include "backend/cpu/ops.h"

namespace tc::cpu::ref {

// y[n][out] = x[n][in] · W[out][in]^T, each weight row dequantised with tc::dequantize_row.
void matmul(const TensorView& w, const float* x, float* y, int n, ThreadPool& pool);
void embedding_row(const TensorView& table, int64_t row, float* out);
void rms_norm(const float* x, const float* weight, float* y, int n, int d, float eps);
void rope(float* x, int n_heads, int head_dim, int64_t pos, const float* inv_freq, RopeStyle style);
void silu_mul(const float* gate, const float* up, float* out, int64_t n);
void softmax(float* x, int n);
// A query that sees no slot at all (every visible position is in its future) gets a zero
// output and zero probabilities rather than 0/0.
void attention(const float* q, int n_tokens, const int32_t* q_pos, const KvCache& cache, int layer, float scale,
               float* out, float* probs, float* colsum, int probs_stride, ThreadPool& pool);

}  // namespace tc::cpu::ref

// CPU kernels used by the transformer graph. Each has a plain reference twin in
// ops_ref.h that the tests compare against (and that documents the exact semantics).
// All activations are f32; weights stay in their file dtype (F32/F16/BF16/Q8_0/Q5_0/Q5_1/
// Q4_0/Q4_1/Q2_K/Q3_K/Q4_K/Q5_K/Q6_K/IQ4_NL/IQ4_XS) and are never dequantised as whole matrices. SIMD width is chosen at compile
// time (AVX-512, AVX2+FMA+F16C, or portable scalar): see simd.h and cpu_isa_name().
#pragma once

#include <cstdint>

#include "io/tensor.h"
#include "kv/kv_cache.h"
#include "util/thread_pool.h"

namespace tc::cpu {

// y[n][out] = x[n][in] · W[out][in]^T.   w: [out][in] any supported dtype; x: [n][in]; y: [n][out]
// Weight blocks are dequantised in registers as tc::dequantize_row does and multiplied with
// f32 x, accumulating in f32 (activations are never quantised, as in HF transformers).
// n <= 8: fused mat-vec kernels (memory-bound); larger n: per-thread dequantised panels
// through a register-tiled f32 product (compute-bound).
void matmul(const TensorView& w, const float* x, float* y, int n, ThreadPool& pool);

// The SIMD twin of tc::dequantize_row: n elements from the start of `src` (a block
// boundary) into dst[n]. Same per-element expression as the reference, so the same values
// (at most one rounding apart if a compiler contracts one side into an FMA).
void dequantize_row(DType t, const void* src, float* dst, int64_t n);

// "avx512", "avx2" or "scalar": the vector path this build was compiled for.
const char* cpu_isa_name();

// Row `row` of an embedding table (any dtype) into out[cols].
void embedding_row(const TensorView& table, int64_t row, float* out);

// y[r] = x[r] / rms(x[r]) * weight, per row.   x, y: [n][d]; weight: [d]. y may alias x.
void rms_norm(const float* x, const float* weight, float* y, int n, int d, float eps);

enum class RopeStyle : uint8_t {
  Neox,        // rotate halves: pairs (i, i + d/2) — HF Llama/Qwen, GGUF qwen2/qwen3
  Interleaved  // rotate adjacent pairs (2i, 2i+1) — GGUF llama (Q/K rows permuted by the converter)
};

// Rotates every head of x in place.  x: [n_heads][head_dim] for one token at position pos;
// inv_freq: [head_dim / 2] (already including any rope scaling).
void rope(float* x, int n_heads, int head_dim, int64_t pos, const float* inv_freq, RopeStyle style);

// out[i] = silu(gate[i]) * up[i].   gate, up, out: [n]
void silu_mul(const float* gate, const float* up, float* out, int64_t n);

// In-place softmax of x[n]; -inf entries become exactly 0.
void softmax(float* x, int n);

// Attention of n_tokens new queries over the live slots of one layer of the cache.
//   q:   [n_tokens][n_heads][head_dim] (post-RoPE)
//   out: [n_tokens][n_heads][head_dim]
//   q_pos: [n_tokens] positions of the queries; a slot is visible to query i iff its
//          position <= q_pos[i] (causal by position, so it is right after any eviction).
//   scale: usually 1/sqrt(head_dim).
// Score taps (null when not wanted), per query head h, slot s of its store head:
//   probs:  [n_heads][probs_stride] the softmax of the LAST query of the call
//   colsum: [n_heads][probs_stride] += softmax of every query of the call
void attention(const float* q, int n_tokens, const int32_t* q_pos, const KvCache& cache, int layer, float scale,
               float* out, float* probs, float* colsum, int probs_stride, ThreadPool& pool);

}  // namespace tc::cpu

// The f32 register-tiled product shared by the prefill matmul and the blocked attention:
//
//   C[m][n] (+)= sum_k A[m*a_rs + k*a_ks] * B[k*ldb + n]     m < M, n < nv*kW, k < K
//
// A is read one scalar at a time (broadcast), so it may be any strided view (a weight panel
// [M][K], a K tile, or a V tile read transposed); B and C are row-major with the n axis
// contiguous and a multiple of the vector width (callers pad). No alignment needed.
#pragma once

#include <cstdint>

#include "backend/cpu/simd.h"

namespace tc::cpu {

// Vectors of B one register tile spans; callers that pack B in column groups of this many
// vectors (kGemmGroupVecs * kW floats wide) get purely sequential B reads.
#if defined(TC_SIMD_AVX512)
constexpr int kGemmGroupVecs = 4;
#else
constexpr int kGemmGroupVecs = 2;
#endif

void gemm_bcast_a(int M, int nv, int K, const float* A, int64_t a_rs, int64_t a_ks, const float* B, int64_t ldb,
                  float* C, int64_t ldc, bool accumulate);

}  // namespace tc::cpu

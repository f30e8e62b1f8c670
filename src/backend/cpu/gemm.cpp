#include "backend/cpu/gemm.h"

#include <array>
#include <utility>

namespace tc::cpu {

namespace {

using namespace simd;

// Accumulator registers a tile may use: 24 of the 32 zmm registers, 12 of the 16 ymm ones.
#if defined(TC_SIMD_AVX512)
constexpr int kAccRegs = 24;
#else
constexpr int kAccRegs = 12;
#endif
constexpr int kMaxNr = kGemmGroupVecs;
constexpr int kMaxMr = 12;

constexpr int mr_for(int nr) { return kAccRegs / nr < kMaxMr ? kAccRegs / nr : kMaxMr; }

using TileFn = void (*)(int K, const float* A, int64_t a_rs, int64_t a_ks, const float* B, int64_t ldb, float* C,
                        int64_t ldc, bool accumulate);

// One MR x (NR*kW) tile of C, all of K, accumulators in registers.
template <int MR, int NR>
void tile(int K, const float* A, int64_t a_rs, int64_t a_ks, const float* B, int64_t ldb, float* C, int64_t ldc,
          bool accumulate) {
  VF c[MR][NR];
#pragma GCC unroll 12
  for (int m = 0; m < MR; ++m)
#pragma GCC unroll 4
    for (int v = 0; v < NR; ++v) c[m][v] = accumulate ? load(C + m * ldc + v * kW) : zero();
  const float* a[MR];
#pragma GCC unroll 12
  for (int m = 0; m < MR; ++m) a[m] = A + m * a_rs;
  for (int k = 0; k < K; ++k) {
    VF b[NR];
#pragma GCC unroll 4
    for (int v = 0; v < NR; ++v) b[v] = load(B + v * kW);
#pragma GCC unroll 12
    for (int m = 0; m < MR; ++m) {
      VF am = set1(*a[m]);
#pragma GCC unroll 4
      for (int v = 0; v < NR; ++v) c[m][v] = fma(am, b[v], c[m][v]);
      a[m] += a_ks;
    }
    B += ldb;
  }
#pragma GCC unroll 12
  for (int m = 0; m < MR; ++m)
#pragma GCC unroll 4
    for (int v = 0; v < NR; ++v) store(C + m * ldc + v * kW, c[m][v]);
}

template <int NR, int... Ms>
constexpr std::array<TileFn, sizeof...(Ms)> tiles_for(std::integer_sequence<int, Ms...>) {
  return {&tile<Ms + 1, NR>...};
}

template <int... Ns>
constexpr std::array<std::array<TileFn, kMaxMr>, sizeof...(Ns)> all_tiles(std::integer_sequence<int, Ns...>) {
  return {tiles_for<Ns + 1>(std::make_integer_sequence<int, kMaxMr>{})...};
}

// kTiles[nr - 1][mr - 1]
constexpr auto kTiles = all_tiles(std::make_integer_sequence<int, kMaxNr>{});

}  // namespace

void gemm_bcast_a(int M, int nv, int K, const float* A, int64_t a_rs, int64_t a_ks, const float* B, int64_t ldb,
                  float* C, int64_t ldc, bool accumulate) {
  for (int v0 = 0; v0 < nv; v0 += kMaxNr) {
    const int nr = nv - v0 < kMaxNr ? nv - v0 : kMaxNr;
    const int mr = mr_for(nr);
    const auto& row = kTiles[nr - 1];
    for (int m0 = 0; m0 < M; m0 += mr) {
      const int m = M - m0 < mr ? M - m0 : mr;
      row[m - 1](K, A + m0 * a_rs, a_rs, a_ks, B + v0 * kW, ldb, C + m0 * ldc + v0 * kW, ldc, accumulate);
    }
  }
}

}  // namespace tc::cpu

// A thin fixed-width vector layer for the CPU kernels, chosen at compile time:
//   AVX-512 (F+BW+VL, with F16C)  kW = 16 floats per vector
//   AVX2 + FMA + F16C             kW = 8
//   portable scalar               kW = 8 (a struct of floats; the compiler may vectorise it)
// Kernels are written once against VF (floats), VI (int32 lanes) and VM (lane masks), so the
// scalar build is the same algorithm as the SIMD one, only slower. Define TC_NO_AVX512 to
// build the AVX2 path on an AVX-512 machine, TC_NO_SIMD for the scalar one (the kernel
// tests are built that way too: thinkcache_kernel_tests_avx2 / _scalar).
//
// Conversions are exact (u8/i8/nibbles -> float, f16/bf16 -> float), so dequantised weights
// equal the scalar reference as long as kernels keep its operation order (up to FMA
// contraction, which GCC applies to the reference too).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && defined(__F16C__) && !defined(TC_NO_AVX512) && \
    !defined(TC_NO_SIMD)
#define TC_SIMD_AVX512 1
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
// GCC 12's AVX-512 conversion intrinsics pass an "undefined" vector that trips
// -Wmaybe-uninitialized at every inlined use (GCC bug 105593, fixed in 13).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>
#elif defined(__AVX2__) && defined(__FMA__) && defined(__F16C__) && !defined(TC_NO_SIMD)
#define TC_SIMD_AVX2 1
#include <immintrin.h>
#else
#define TC_SIMD_SCALAR 1
#include "util/half.h"
#endif

#define TC_INLINE inline __attribute__((always_inline))

namespace tc::cpu::simd {

#if defined(TC_SIMD_AVX512)
constexpr int kW = 16;
constexpr const char* kIsaName = "avx512";
struct VF { __m512 v; };
struct VI { __m512i v; };
struct VM { __mmask16 m; };

TC_INLINE VF zero() { return {_mm512_setzero_ps()}; }
TC_INLINE VF set1(float x) { return {_mm512_set1_ps(x)}; }
TC_INLINE VF load(const float* p) { return {_mm512_loadu_ps(p)}; }
TC_INLINE void store(float* p, VF a) { _mm512_storeu_ps(p, a.v); }
TC_INLINE VF add(VF a, VF b) { return {_mm512_add_ps(a.v, b.v)}; }
TC_INLINE VF sub(VF a, VF b) { return {_mm512_sub_ps(a.v, b.v)}; }
TC_INLINE VF mul(VF a, VF b) { return {_mm512_mul_ps(a.v, b.v)}; }
TC_INLINE VF div(VF a, VF b) { return {_mm512_div_ps(a.v, b.v)}; }
TC_INLINE VF fma(VF a, VF b, VF c) { return {_mm512_fmadd_ps(a.v, b.v, c.v)}; }  // a*b + c
TC_INLINE VF fnma(VF a, VF b, VF c) { return {_mm512_fnmadd_ps(a.v, b.v, c.v)}; }  // c - a*b
TC_INLINE VF max(VF a, VF b) { return {_mm512_max_ps(a.v, b.v)}; }
TC_INLINE VF min(VF a, VF b) { return {_mm512_min_ps(a.v, b.v)}; }
TC_INLINE VF round_nearest(VF a) { return {_mm512_roundscale_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)}; }
TC_INLINE float reduce_add(VF a) { return _mm512_reduce_add_ps(a.v); }
TC_INLINE float reduce_max(VF a) { return _mm512_reduce_max_ps(a.v); }

TC_INLINE VI set1_i(int32_t x) { return {_mm512_set1_epi32(x)}; }
TC_INLINE VI load_i(const int32_t* p) { return {_mm512_loadu_si512(p)}; }
TC_INLINE VI and_i(VI a, VI b) { return {_mm512_and_si512(a.v, b.v)}; }
TC_INLINE VI or_i(VI a, VI b) { return {_mm512_or_si512(a.v, b.v)}; }
TC_INLINE VI add_i(VI a, VI b) { return {_mm512_add_epi32(a.v, b.v)}; }
TC_INLINE VI sub_i(VI a, VI b) { return {_mm512_sub_epi32(a.v, b.v)}; }
template <int k> TC_INLINE VI shl_i(VI a) { return {_mm512_slli_epi32(a.v, k)}; }
template <int k> TC_INLINE VI shr_i(VI a) { return {_mm512_srli_epi32(a.v, k)}; }
TC_INLINE VI shr_n(VI a, int n) { return {_mm512_srl_epi32(a.v, _mm_cvtsi32_si128(n))}; }  // all lanes by n
TC_INLINE VI srlv_i(VI a, VI n) { return {_mm512_srlv_epi32(a.v, n.v)}; }                  // lane i by n[i]
TC_INLINE VI iota_i() { return {_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)}; }
TC_INLINE VF to_float(VI a) { return {_mm512_cvtepi32_ps(a.v)}; }
TC_INLINE VI to_int_nearest(VF a) { return {_mm512_cvtps_epi32(a.v)}; }
TC_INLINE VF bits_as_float(VI a) { return {_mm512_castsi512_ps(a.v)}; }

// kW bytes -> int32 lanes
TC_INLINE VI load_u8_i(const uint8_t* p) { return {_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i*)p))}; }
TC_INLINE VI load_i8_i(const int8_t* p) { return {_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i*)p))}; }
TC_INLINE VF load_f16(const uint16_t* p) { return {_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)p))}; }
TC_INLINE VF load_bf16(const uint16_t* p) {
  return {_mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i*)p)), 16))};
}

// out[0..4) = the lane sums of a, b, c, d (a partial transpose-and-add tree: ~3 shuffles and
// adds per sum instead of ~8 for four separate reductions).
struct V4 { __m128 v; };  // four floats (results of reduce4)
TC_INLINE V4 reduce4(VF a, VF b, VF c, VF d) {
  __m512 t0 = _mm512_add_ps(_mm512_unpacklo_ps(a.v, b.v), _mm512_unpackhi_ps(a.v, b.v));  // [a02 b02 a13 b13] per block
  __m512 t1 = _mm512_add_ps(_mm512_unpacklo_ps(c.v, d.v), _mm512_unpackhi_ps(c.v, d.v));
  __m512 u = _mm512_add_ps(_mm512_shuffle_ps(t0, t1, 0x44), _mm512_shuffle_ps(t0, t1, 0xEE));  // [A B C D] per block
  __m256 y = _mm256_add_ps(_mm512_castps512_ps256(u), _mm512_extractf32x8_ps(u, 1));
  return {_mm_add_ps(_mm256_castps256_ps128(y), _mm256_extractf128_ps(y, 1))};
}

// table[idx & 15] per lane (vpermps): dequantises 4-bit codes in one shuffle.
#define TC_SIMD_HAS_LUT16 1
TC_INLINE VF lut16(VI idx, VF table) { return {_mm512_permutexvar_ps(idx.v, table.v)}; }
TC_INLINE VF iota() { return {_mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)}; }
// table[idx & 15] in the lanes whose bit of `mask` is set, src elsewhere: with lut16 it
// dequantises 5-bit codes from two 16-entry tables, the 5th bits given as a lane mask.
TC_INLINE VF lut16_masked(VF src, uint32_t mask, VI idx, VF table) {
  return {_mm512_mask_permutexvar_ps(src.v, __mmask16(mask), idx.v, table.v)};
}
// Bit l (l < 32) = bit `bit` of p[l].
TC_INLINE uint32_t byte_bits32(const uint8_t* p, int bit) {
  return _mm256_test_epi8_mask(_mm256_loadu_si256((const __m256i*)p), _mm256_set1_epi8(char(1 << bit)));
}
// Bitwise m ? a : b (one vpternlogd).
TC_INLINE VI select_bits(VI m, VI a, VI b) { return {_mm512_ternarylogic_epi32(m.v, a.v, b.v, 0xCA)}; }
// A 16-entry float table for lut16 (here one register).
using Lut16 = VF;
TC_INLINE Lut16 lut16_table(float d, const float* values) { return mul(set1(d), load(values)); }  // d * values[i]
// Lanes 0..7 from a, 8..15 from b.
TC_INLINE VF halves(VF a, VF b) { return {_mm512_mask_blend_ps(0xFF00, a.v, b.v)}; }

TC_INLINE VM cmp_le_i(VI a, VI b) { return {_mm512_cmple_epi32_mask(a.v, b.v)}; }
TC_INLINE VM cmp_eq(VF a, VF b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_EQ_OQ)}; }
TC_INLINE VM cmp_gt(VF a, VF b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_GT_OQ)}; }
TC_INLINE VF select(VM m, VF a, VF b) { return {_mm512_mask_blend_ps(m.m, b.v, a.v)}; }  // m ? a : b
TC_INLINE bool any(VM m) { return m.m != 0; }

#elif defined(TC_SIMD_AVX2)
constexpr int kW = 8;
constexpr const char* kIsaName = "avx2";
struct VF { __m256 v; };
struct VI { __m256i v; };
struct VM { __m256 m; };  // all-ones lanes where true

TC_INLINE VF zero() { return {_mm256_setzero_ps()}; }
TC_INLINE VF set1(float x) { return {_mm256_set1_ps(x)}; }
TC_INLINE VF load(const float* p) { return {_mm256_loadu_ps(p)}; }
TC_INLINE void store(float* p, VF a) { _mm256_storeu_ps(p, a.v); }
TC_INLINE VF add(VF a, VF b) { return {_mm256_add_ps(a.v, b.v)}; }
TC_INLINE VF sub(VF a, VF b) { return {_mm256_sub_ps(a.v, b.v)}; }
TC_INLINE VF mul(VF a, VF b) { return {_mm256_mul_ps(a.v, b.v)}; }
TC_INLINE VF div(VF a, VF b) { return {_mm256_div_ps(a.v, b.v)}; }
TC_INLINE VF fma(VF a, VF b, VF c) { return {_mm256_fmadd_ps(a.v, b.v, c.v)}; }
TC_INLINE VF fnma(VF a, VF b, VF c) { return {_mm256_fnmadd_ps(a.v, b.v, c.v)}; }
TC_INLINE VF max(VF a, VF b) { return {_mm256_max_ps(a.v, b.v)}; }
TC_INLINE VF min(VF a, VF b) { return {_mm256_min_ps(a.v, b.v)}; }
TC_INLINE VF round_nearest(VF a) { return {_mm256_round_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)}; }
TC_INLINE float reduce_add(VF a) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(a.v), _mm256_extractf128_ps(a.v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
TC_INLINE float reduce_max(VF a) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(a.v), _mm256_extractf128_ps(a.v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

struct V4 { __m128 v; };
TC_INLINE V4 reduce4(VF a, VF b, VF c, VF d) {  // lane k = the lane sum of the k-th argument
  __m256 t0 = _mm256_add_ps(_mm256_unpacklo_ps(a.v, b.v), _mm256_unpackhi_ps(a.v, b.v));
  __m256 t1 = _mm256_add_ps(_mm256_unpacklo_ps(c.v, d.v), _mm256_unpackhi_ps(c.v, d.v));
  __m256 u = _mm256_add_ps(_mm256_shuffle_ps(t0, t1, 0x44), _mm256_shuffle_ps(t0, t1, 0xEE));
  return {_mm_add_ps(_mm256_castps256_ps128(u), _mm256_extractf128_ps(u, 1))};
}

TC_INLINE VI set1_i(int32_t x) { return {_mm256_set1_epi32(x)}; }
TC_INLINE VI load_i(const int32_t* p) { return {_mm256_loadu_si256((const __m256i*)p)}; }
TC_INLINE VI and_i(VI a, VI b) { return {_mm256_and_si256(a.v, b.v)}; }
TC_INLINE VI or_i(VI a, VI b) { return {_mm256_or_si256(a.v, b.v)}; }
TC_INLINE VI add_i(VI a, VI b) { return {_mm256_add_epi32(a.v, b.v)}; }
TC_INLINE VI sub_i(VI a, VI b) { return {_mm256_sub_epi32(a.v, b.v)}; }
template <int k> TC_INLINE VI shl_i(VI a) { return {_mm256_slli_epi32(a.v, k)}; }
template <int k> TC_INLINE VI shr_i(VI a) { return {_mm256_srli_epi32(a.v, k)}; }
TC_INLINE VI shr_n(VI a, int n) { return {_mm256_srl_epi32(a.v, _mm_cvtsi32_si128(n))}; }
TC_INLINE VI srlv_i(VI a, VI n) { return {_mm256_srlv_epi32(a.v, n.v)}; }
TC_INLINE VI iota_i() { return {_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)}; }
TC_INLINE VF to_float(VI a) { return {_mm256_cvtepi32_ps(a.v)}; }
TC_INLINE VI to_int_nearest(VF a) { return {_mm256_cvtps_epi32(a.v)}; }
TC_INLINE VF bits_as_float(VI a) { return {_mm256_castsi256_ps(a.v)}; }

TC_INLINE VI load_u8_i(const uint8_t* p) { return {_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i*)p))}; }
TC_INLINE VI load_i8_i(const int8_t* p) { return {_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i*)p))}; }
TC_INLINE VF load_f16(const uint16_t* p) { return {_mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)p))}; }
TC_INLINE VF load_bf16(const uint16_t* p) {
  return {_mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i*)p)), 16))};
}

// A 16-entry float table in two registers; lut16 = two 8-entry permutes and a blend on bit 3.
struct Lut16 { __m256 lo, hi; };
TC_INLINE Lut16 lut16_table(float d, const float* values) {  // d * values[i]
  const __m256 s = _mm256_set1_ps(d);
  return {_mm256_mul_ps(s, _mm256_loadu_ps(values)), _mm256_mul_ps(s, _mm256_loadu_ps(values + 8))};
}
TC_INLINE VF lut16(VI idx, const Lut16& t) {  // t[idx & 15]
  const __m256 a = _mm256_permutevar8x32_ps(t.lo, idx.v), b = _mm256_permutevar8x32_ps(t.hi, idx.v);
  return {_mm256_blendv_ps(a, b, _mm256_castsi256_ps(_mm256_slli_epi32(idx.v, 28)))};
}

TC_INLINE VM cmp_le_i(VI a, VI b) { return {_mm256_castsi256_ps(_mm256_xor_si256(_mm256_cmpgt_epi32(a.v, b.v), _mm256_set1_epi32(-1)))}; }
TC_INLINE VM cmp_eq(VF a, VF b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_EQ_OQ)}; }
TC_INLINE VM cmp_gt(VF a, VF b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_GT_OQ)}; }
TC_INLINE VF select(VM m, VF a, VF b) { return {_mm256_blendv_ps(b.v, a.v, m.m)}; }
TC_INLINE bool any(VM m) { return _mm256_movemask_ps(m.m) != 0; }

#else  // portable scalar
constexpr int kW = 8;
constexpr const char* kIsaName = "scalar";
struct VF { float v[kW]; };
struct VI { int32_t v[kW]; };
struct VM { bool m[kW]; };

#define TC_LANES for (int l_ = 0; l_ < kW; ++l_)
TC_INLINE VF zero() { VF r; TC_LANES r.v[l_] = 0.0f; return r; }
TC_INLINE VF set1(float x) { VF r; TC_LANES r.v[l_] = x; return r; }
TC_INLINE VF load(const float* p) { VF r; std::memcpy(r.v, p, sizeof r.v); return r; }
TC_INLINE void store(float* p, VF a) { std::memcpy(p, a.v, sizeof a.v); }
TC_INLINE VF add(VF a, VF b) { TC_LANES a.v[l_] += b.v[l_]; return a; }
TC_INLINE VF sub(VF a, VF b) { TC_LANES a.v[l_] -= b.v[l_]; return a; }
TC_INLINE VF mul(VF a, VF b) { TC_LANES a.v[l_] *= b.v[l_]; return a; }
TC_INLINE VF div(VF a, VF b) { TC_LANES a.v[l_] /= b.v[l_]; return a; }
TC_INLINE VF fma(VF a, VF b, VF c) { TC_LANES c.v[l_] = std::fma(a.v[l_], b.v[l_], c.v[l_]); return c; }
TC_INLINE VF fnma(VF a, VF b, VF c) { TC_LANES c.v[l_] = std::fma(-a.v[l_], b.v[l_], c.v[l_]); return c; }
TC_INLINE VF max(VF a, VF b) { TC_LANES a.v[l_] = a.v[l_] > b.v[l_] ? a.v[l_] : b.v[l_]; return a; }
TC_INLINE VF min(VF a, VF b) { TC_LANES a.v[l_] = a.v[l_] < b.v[l_] ? a.v[l_] : b.v[l_]; return a; }
TC_INLINE VF round_nearest(VF a) { TC_LANES a.v[l_] = std::nearbyint(a.v[l_]); return a; }
TC_INLINE float reduce_add(VF a) {
  // Pairwise, like the SIMD versions.
  for (int w = kW / 2; w > 0; w /= 2)
    for (int i = 0; i < w; ++i) a.v[i] += a.v[i + w];
  return a.v[0];
}
TC_INLINE float reduce_max(VF a) { float m = a.v[0]; TC_LANES m = a.v[l_] > m ? a.v[l_] : m; return m; }
struct V4 { float v[4]; };
TC_INLINE V4 reduce4(VF a, VF b, VF c, VF d) { return {{reduce_add(a), reduce_add(b), reduce_add(c), reduce_add(d)}}; }

TC_INLINE VI set1_i(int32_t x) { VI r; TC_LANES r.v[l_] = x; return r; }
TC_INLINE VI load_i(const int32_t* p) { VI r; std::memcpy(r.v, p, sizeof r.v); return r; }
TC_INLINE VI and_i(VI a, VI b) { TC_LANES a.v[l_] &= b.v[l_]; return a; }
TC_INLINE VI or_i(VI a, VI b) { TC_LANES a.v[l_] |= b.v[l_]; return a; }
TC_INLINE VI add_i(VI a, VI b) { TC_LANES a.v[l_] += b.v[l_]; return a; }
TC_INLINE VI sub_i(VI a, VI b) { TC_LANES a.v[l_] -= b.v[l_]; return a; }
template <int k> TC_INLINE VI shl_i(VI a) { TC_LANES a.v[l_] = int32_t(uint32_t(a.v[l_]) << k); return a; }
template <int k> TC_INLINE VI shr_i(VI a) { TC_LANES a.v[l_] = int32_t(uint32_t(a.v[l_]) >> k); return a; }
TC_INLINE VI shr_n(VI a, int n) { TC_LANES a.v[l_] = int32_t(uint32_t(a.v[l_]) >> n); return a; }
TC_INLINE VI srlv_i(VI a, VI n) { TC_LANES a.v[l_] = int32_t(uint32_t(a.v[l_]) >> n.v[l_]); return a; }
TC_INLINE VI iota_i() { VI r; TC_LANES r.v[l_] = l_; return r; }
TC_INLINE VF to_float(VI a) { VF r; TC_LANES r.v[l_] = float(a.v[l_]); return r; }
TC_INLINE VI to_int_nearest(VF a) { VI r; TC_LANES r.v[l_] = int32_t(std::nearbyint(a.v[l_])); return r; }
TC_INLINE VF bits_as_float(VI a) { VF r; std::memcpy(r.v, a.v, sizeof r.v); return r; }

TC_INLINE VI load_u8_i(const uint8_t* p) { VI r; TC_LANES r.v[l_] = p[l_]; return r; }
TC_INLINE VI load_i8_i(const int8_t* p) { VI r; TC_LANES r.v[l_] = p[l_]; return r; }
TC_INLINE VF load_f16(const uint16_t* p) { VF r; TC_LANES r.v[l_] = f16_to_f32(p[l_]); return r; }
TC_INLINE VF load_bf16(const uint16_t* p) { VF r; TC_LANES r.v[l_] = bf16_to_f32(p[l_]); return r; }

struct Lut16 { float v[16]; };
TC_INLINE Lut16 lut16_table(float d, const float* values) {
  Lut16 t;
  for (int i = 0; i < 16; ++i) t.v[i] = d * values[i];
  return t;
}
TC_INLINE VF lut16(VI idx, const Lut16& t) { VF r; TC_LANES r.v[l_] = t.v[idx.v[l_] & 15]; return r; }

TC_INLINE VM cmp_le_i(VI a, VI b) { VM r; TC_LANES r.m[l_] = a.v[l_] <= b.v[l_]; return r; }
TC_INLINE VM cmp_eq(VF a, VF b) { VM r; TC_LANES r.m[l_] = a.v[l_] == b.v[l_]; return r; }
TC_INLINE VM cmp_gt(VF a, VF b) { VM r; TC_LANES r.m[l_] = a.v[l_] > b.v[l_]; return r; }
TC_INLINE VF select(VM m, VF a, VF b) { TC_LANES a.v[l_] = m.m[l_] ? a.v[l_] : b.v[l_]; return a; }
TC_INLINE bool any(VM m) { bool r = false; TC_LANES r = r || m.m[l_]; return r; }
#undef TC_LANES
#endif

// --- four-float results (all ISAs)
// Stores s * r[k] to out[k], or -inf where pos[k] > limit.
TC_INLINE void store4_scaled_masked(float* out, V4 r, float s, const int32_t* pos, int32_t limit) {
#if defined(TC_SIMD_SCALAR)
  for (int k = 0; k < 4; ++k) out[k] = pos[k] > limit ? -INFINITY : r.v[k] * s;
#else
  const __m128 hidden = _mm_castsi128_ps(_mm_cmpgt_epi32(_mm_loadu_si128((const __m128i*)pos), _mm_set1_epi32(limit)));
  _mm_storeu_ps(out, _mm_blendv_ps(_mm_mul_ps(r.v, _mm_set1_ps(s)), _mm_set1_ps(-INFINITY), hidden));
#endif
}
TC_INLINE float lane4(V4 r, int k) {
#if defined(TC_SIMD_SCALAR)
  return r.v[k];
#else
  float tmp[4];
  _mm_storeu_ps(tmp, r.v);
  return tmp[k];
#endif
}

// --- derived helpers (all ISAs)

TC_INLINE VF load_u8(const uint8_t* p) { return to_float(load_u8_i(p)); }
TC_INLINE VF load_i8(const int8_t* p) { return to_float(load_i8_i(p)); }
// Low / high nibbles of kW bytes as floats 0..15.
TC_INLINE VF load_nib_lo(const uint8_t* p) { return to_float(and_i(load_u8_i(p), set1_i(0xF))); }
TC_INLINE VF load_nib_hi(const uint8_t* p) { return to_float(shr_i<4>(load_u8_i(p))); }

// Loads n < kW floats (the rest `fill`) without touching memory past p[n-1].
TC_INLINE VF load_partial(const float* p, int n, float fill = 0.0f) {
  n = n < kW ? n : kW;  // (callers pass n < kW; the clamp also tells the compiler)
  float tmp[kW];
  for (int i = 0; i < kW; ++i) tmp[i] = fill;
  std::memcpy(tmp, p, sizeof(float) * size_t(n));
  return load(tmp);
}
TC_INLINE void store_partial(float* p, VF a, int n) {
  n = n < kW ? n : kW;
  float tmp[kW];
  store(tmp, a);
  std::memcpy(p, tmp, sizeof(float) * size_t(n));
}
// Stores lanes 0..7 of a.
TC_INLINE void store_first8(float* p, VF a) {
#if defined(TC_SIMD_AVX512)
  _mm256_storeu_ps(p, _mm512_castps512_ps256(a.v));
#else
  static_assert(kW == 8);
  store(p, a);
#endif
}
TC_INLINE VF load_f16_partial(const uint16_t* p, int n) {
  n = n < kW ? n : kW;
  uint16_t tmp[kW] = {};
  std::memcpy(tmp, p, 2 * size_t(n));
  return load_f16(tmp);
}
TC_INLINE VF load_bf16_partial(const uint16_t* p, int n) {
  n = n < kW ? n : kW;
  uint16_t tmp[kW] = {};
  std::memcpy(tmp, p, 2 * size_t(n));
  return load_bf16(tmp);
}

TC_INLINE float f16_scalar(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
#if defined(TC_SIMD_SCALAR)
  return f16_to_f32(h);
#else
  return _cvtsh_ss(h);
#endif
}

// e^x for every lane, relative error about 2 ulp (Cephes expf: exact range reduction with a
// split ln 2, a degree-6 polynomial, then scaling by 2^n through the exponent bits).
// Above 88 it saturates at e^88 (about 1.6e38); below -87 it returns exactly 0 (the true
// value is under 1.7e-38), so exp(-inf) = 0 as masked softmax entries need.
TC_INLINE VF exp(VF x) {
  const VM underflow = cmp_gt(set1(-87.0f), x);
  x = min(max(x, set1(-87.0f)), set1(88.0f));
  VF n = round_nearest(mul(x, set1(1.44269504088896341f)));  // in [-126, 127]
  VF r = fnma(n, set1(0.693359375f), x);
  r = fnma(n, set1(-2.12194440e-4f), r);
  VF p = set1(1.9875691500e-4f);
  p = fma(p, r, set1(1.3981999507e-3f));
  p = fma(p, r, set1(8.3334519073e-3f));
  p = fma(p, r, set1(4.1665795894e-2f));
  p = fma(p, r, set1(1.6666665459e-1f));
  p = fma(p, r, set1(5.0000001201e-1f));
  p = fma(p, mul(r, r), add(r, set1(1.0f)));
  VI e = shl_i<23>(add_i(to_int_nearest(n), set1_i(127)));  // 2^n, a normal float
  return select(underflow, zero(), mul(p, bits_as_float(e)));
}

}  // namespace tc::cpu::simd

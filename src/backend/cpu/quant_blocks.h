// Register-level decoders of the GGML block formats (layouts as in io/dequantize.cpp).
//
// Each BlockDecoder<T> splits a block into its scales and its quants:
//   scales(block, s)             writes the block's kScales f32 scale values to s
//   decode_scaled(block, s, sink) calls sink(j, w) for j = 0, kW, 2*kW, ... with w the kW
//                                dequantised weights block[j .. j+kW), reading scales from s
//   decode(block, sink)          both, for one block
// For the K-quants (kPrepassScales) kernels that walk many blocks of a few rows convert all
// the rows' scales first, so the inner loop only broadcasts f32 scales from memory (their
// per-sub-block scale arithmetic otherwise dominates a decode mat-vec). The 32-element
// types convert their one or two f16 scales inline: a pre-pass costs more than it saves.
//
// Arithmetic follows the reference expression per element (Q4_1 is d*q + m, Q4_K is
// (d*sc)*q - dmin*m, Q6_K is (d*sc)*q), so values equal tc::dequantize_row's up to FMA
// contraction of such an expression (at most one rounding, which GCC applies to both).
#pragma once

#include <cstdint>
#include <cstring>

#include "backend/cpu/simd.h"
#include "io/dtype.h"

namespace tc::cpu {

static_assert(16 % simd::kW == 0 || simd::kW == 16, "block decoders assume kW divides 16");

// s[b * per_block + i] = f16 at byte offset 2*i of block b, for nb blocks of `stride` bytes.
template <int per_block>
inline void gather_f16_scales(const uint8_t* blocks, int64_t stride, int64_t nb, float* s) {
  using namespace simd;
  constexpr int kChunk = 64;  // halves per bulk conversion
  uint16_t tmp[kChunk];
  const int64_t total = nb * per_block;
  for (int64_t i0 = 0; i0 < total; i0 += kChunk) {
    const int n = total - i0 < kChunk ? int(total - i0) : kChunk;
    for (int i = 0; i < n; i += per_block) {
      const uint8_t* blk = blocks + ((i0 + i) / per_block) * stride;
      std::memcpy(tmp + i, blk, 2 * per_block);
    }
    int i = 0;
    for (; i + kW <= n; i += kW) store(s + i0 + i, load_f16(tmp + i));
    if (i < n) store_partial(s + i0 + i, load_f16_partial(tmp + i, n - i), n - i);
  }
}

template <DType T>
struct BlockDecoder;

template <>
struct BlockDecoder<DType::Q8_0> {
  static constexpr int kElems = 32, kBytes = 34, kScales = 1;
  static constexpr bool kPrepassScales = false;
  static void row_scales(const uint8_t* row, int64_t nb, float* s) { gather_f16_scales<1>(row, kBytes, nb, s); }
  TC_INLINE static void scales(const uint8_t* b, float* s) { s[0] = simd::f16_scalar(b); }
  template <class Sink>
  TC_INLINE static void decode_scaled(const uint8_t* b, const float* s, Sink&& sink) {
    using namespace simd;
    const VF d = set1(s[0]);
    const int8_t* q = reinterpret_cast<const int8_t*>(b + 2);
#pragma GCC unroll 8
    for (int j = 0; j < 32; j += kW) sink(j, mul(d, load_i8(q + j)));
  }
};

// With AVX-512 the 4-bit types dequantise through a 16-entry table per (sub-)block,
// table[q] = the reference expression evaluated for q = 0..15, which replaces a convert and
// a multiply-add per element by one shuffle.

template <>
struct BlockDecoder<DType::Q4_0> {
  static constexpr int kElems = 32, kBytes = 18, kScales = 1;
  static constexpr bool kPrepassScales = false;
  static void row_scales(const uint8_t* row, int64_t nb, float* s) { gather_f16_scales<1>(row, kBytes, nb, s); }
  TC_INLINE static void scales(const uint8_t* b, float* s) { s[0] = simd::f16_scalar(b); }
  template <class Sink>
  TC_INLINE static void decode_scaled(const uint8_t* b, const float* s, Sink&& sink) {
    using namespace simd;
    const uint8_t* q = b + 2;
#if defined(TC_SIMD_HAS_LUT16)
    const VF table = mul(set1(s[0]), sub(iota(), set1(8.0f)));  // d * (q - 8)
    const VI v = load_u8_i(q);
    sink(0, lut16(v, table));
    sink(16, lut16(shr_i<4>(v), table));
#else
    const VF d = set1(s[0]);
#pragma GCC unroll 8
    for (int j = 0; j < 16; j += kW) {
      VI v = load_u8_i(q + j);
      sink(j, mul(d, to_float(sub_i(and_i(v, set1_i(0xF)), set1_i(8)))));
      sink(j + 16, mul(d, to_float(sub_i(shr_i<4>(v), set1_i(8)))));
    }
#endif
  }
};

template <>
struct BlockDecoder<DType::Q4_1> {
  static constexpr int kElems = 32, kBytes = 20, kScales = 2;
  static constexpr bool kPrepassScales = false;
  static void row_scales(const uint8_t* row, int64_t nb, float* s) { gather_f16_scales<2>(row, kBytes, nb, s); }
  TC_INLINE static void scales(const uint8_t* b, float* s) {
    s[0] = simd::f16_scalar(b);
    s[1] = simd::f16_scalar(b + 2);
  }
  template <class Sink>
  TC_INLINE static void decode_scaled(const uint8_t* b, const float* s, Sink&& sink) {
    using namespace simd;
    const uint8_t* q = b + 4;
#if defined(TC_SIMD_HAS_LUT16)
    const VF table = add(mul(set1(s[0]), iota()), set1(s[1]));  // d * q + m
    const VI v = load_u8_i(q);
    sink(0, lut16(v, table));
    sink(16, lut16(shr_i<4>(v), table));
#else
    const VF d = set1(s[0]), m = set1(s[1]);
#pragma GCC unroll 8
    for (int j = 0; j < 16; j += kW) {
      VI v = load_u8_i(q + j);
      sink(j, add(mul(d, to_float(and_i(v, set1_i(0xF)))), m));
      sink(j + 16, add(mul(d, to_float(shr_i<4>(v))), m));
    }
#endif
  }
};

// 6-bit scale and min of sub-block j (0..7) of a Q4_K super-block.
TC_INLINE void q4k_scale_min(int j, const uint8_t* q, int* sc, int* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

template <>
struct BlockDecoder<DType::Q4_K> {
  // s[0..8) = d * sc_j, s[8..16) = dmin * m_j for sub-blocks j = 0..7.
  static constexpr int kElems = 256, kBytes = 144, kScales = 16;
  static constexpr bool kPrepassScales = true;
  TC_INLINE static void scales(const uint8_t* b, float* s) {
    using namespace simd;
    // The 12 scale bytes hold 8 six-bit scales and 8 six-bit mins (q4k_scale_min), unpacked
    // four at a time in 32-bit words: bytes 0-3 low scales, 4-7 low mins, 8-11 the rest.
    uint32_t a, m, c;
    std::memcpy(&a, b + 4, 4);
    std::memcpy(&m, b + 8, 4);
    std::memcpy(&c, b + 12, 4);
    const uint32_t words[4] = {a & 0x3F3F3F3Fu, (c & 0x0F0F0F0Fu) | ((a >> 2) & 0x30303030u), m & 0x3F3F3F3Fu,
                               ((c >> 4) & 0x0F0F0F0Fu) | ((m >> 2) & 0x30303030u)};
    uint8_t bytes[16];  // sc_0..7, m_0..7
    std::memcpy(bytes, words, 16);
    const float d = f16_scalar(b), dmin = f16_scalar(b + 2);
#if defined(TC_SIMD_AVX512)
    store(s, mul(load_u8(bytes), halves(set1(d), set1(dmin))));
#else
    store(s, mul(load_u8(bytes), set1(d)));
    store(s + 8, mul(load_u8(bytes + 8), set1(dmin)));
#endif
  }
  static void row_scales(const uint8_t* row, int64_t nb, float* s) {
    for (int64_t b = 0; b < nb; ++b) scales(row + b * kBytes, s + b * kScales);
  }
  template <class Sink>
  TC_INLINE static void decode_scaled(const uint8_t* b, const float* s, Sink&& sink) {
    using namespace simd;
    const uint8_t* q = b + 16;
    for (int g = 0; g < 4; ++g, q += 32) {  // 64 elements: 32 low nibbles, then 32 high nibbles
      const VF d1 = set1(s[2 * g]), mn1 = set1(s[8 + 2 * g]), d2 = set1(s[2 * g + 1]), mn2 = set1(s[9 + 2 * g]);
#if defined(TC_SIMD_HAS_LUT16)
      const VF t1 = sub(mul(d1, iota()), mn1), t2 = sub(mul(d2, iota()), mn2);  // d1 * q - m1
#pragma GCC unroll 2
      for (int l = 0; l < 32; l += kW) {
        VI v = load_u8_i(q + l);
        sink(64 * g + l, lut16(v, t1));
        sink(64 * g + 32 + l, lut16(shr_i<4>(v), t2));
      }
#else
#pragma GCC unroll 8
      for (int l = 0; l < 32; l += kW) {
        VI v = load_u8_i(q + l);
        sink(64 * g + l, sub(mul(d1, to_float(and_i(v, set1_i(0xF)))), mn1));
        sink(64 * g + 32 + l, sub(mul(d2, to_float(shr_i<4>(v))), mn2));
      }
#endif
    }
  }
};

template <>
struct BlockDecoder<DType::Q6_K> {
  static constexpr int kElems = 256, kBytes = 210, kScales = 16;  // d*sc per 16 elements
  static constexpr bool kPrepassScales = true;
  TC_INLINE static void scales(const uint8_t* b, float* s) {
    using namespace simd;
    const VF d = set1(f16_scalar(b + 208));
    const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
#pragma GCC unroll 2
    for (int i = 0; i < 16; i += kW) store(s + i, mul(d, load_i8(sc + i)));
  }
  static void row_scales(const uint8_t* row, int64_t nb, float* s) {
    for (int64_t b = 0; b < nb; ++b) scales(row + b * kBytes, s + b * kScales);
  }
  template <class Sink>
  TC_INLINE static void decode_scaled(const uint8_t* b, const float* s, Sink&& sink) {
    using namespace simd;
    const uint8_t* ql = b;        // [128] low 4 bits
    const uint8_t* qh = b + 128;  // [64]  high 2 bits, four elements per byte
    const VI low4 = set1_i(0xF), hi2 = set1_i(0x30), bias = set1_i(32);
    for (int half = 0; half < 256; half += 128, ql += 64, qh += 32, s += 8) {
#pragma GCC unroll 8
      for (int l = 0; l < 32; l += kW) {
        const int is = l / 16;
        VI a = load_u8_i(ql + l), c = load_u8_i(ql + l + 32), h = load_u8_i(qh + l);
        VI q1 = sub_i(or_i(and_i(a, low4), and_i(shl_i<4>(h), hi2)), bias);
        VI q2 = sub_i(or_i(and_i(c, low4), and_i(shl_i<2>(h), hi2)), bias);
        VI q3 = sub_i(or_i(shr_i<4>(a), and_i(h, hi2)), bias);
        VI q4 = sub_i(or_i(shr_i<4>(c), and_i(shr_i<2>(h), hi2)), bias);
        sink(half + l, mul(set1(s[is + 0]), to_float(q1)));
        sink(half + l + 32, mul(set1(s[is + 2]), to_float(q2)));
        sink(half + l + 64, mul(set1(s[is + 4]), to_float(q3)));
        sink(half + l + 96, mul(set1(s[is + 6]), to_float(q4)));
      }
    }
  }
};

// One block, scales included (for code that visits blocks one at a time).
template <DType T, class Sink>
TC_INLINE void decode_block(const uint8_t* b, Sink&& sink) {
  float s[BlockDecoder<T>::kScales];
  BlockDecoder<T>::scales(b, s);
  BlockDecoder<T>::decode_scaled(b, s, sink);
}

}  // namespace tc::cpu

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
// Arithmetic follows the reference expression per element (Q4_1 and Q5_1 are d*q + m, Q4_K,
// Q5_K and Q2_K are (d*sc)*q - dmin*m, Q6_K and Q3_K are (d*sc)*q, the IQ4 types
// (d*sc)*kv[q]; tables hold that expression per code), so values equal tc::dequantize_row's
// up to FMA contraction of such an expression (at most one rounding, which GCC applies to both).
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

// s[0..8) = d * sc_j, s[8..16) = dmin * m_j for the 8 sub-blocks of a Q4_K or Q5_K
// super-block (both start with f16 d, f16 dmin and the same 12 bytes of packed scales).
TC_INLINE void k4_scales_mins(const uint8_t* b, float* s) {
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

template <>
struct BlockDecoder<DType::Q4_K> {
  // s[0..8) = d * sc_j, s[8..16) = dmin * m_j for sub-blocks j = 0..7.
  static constexpr int kElems = 256, kBytes = 144, kScales = 16;
  static constexpr bool kPrepassScales = true;
  TC_INLINE static void scales(const uint8_t* b, float* s) { k4_scales_mins(b, s); }
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

// --- 5-bit types. With AVX-512 a 5-bit code selects from two 16-entry tables (codes 0..15
// and 16..31): one shuffle from the low table, then a masked shuffle from the high table
// in the lanes whose 5th bit is set (the bits arrive as a lane mask). Elsewhere the code is
// assembled in int32 lanes and converted.

// Codes 16..31 as floats (iota() + 16, exact).
alignas(64) inline constexpr float kIota16To31[16] = {16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

// Q5_0 and Q5_1: qh (u32 at `qh_at`) bit j is the 5th bit of element j; the 16 bytes at
// `qs_at` hold elements 0..15 in their low nibbles, 16..31 in their high nibbles.
// Table(code) is the reference expression of a code 0..31, as a vector over 16 codes given
// as floats: Q5_0 d * (q - 16), Q5_1 d * q + m.
template <int qh_at, int qs_at, class Table, class Sink>
TC_INLINE void decode_q5_block(const uint8_t* b, Table&& table, Sink&& sink) {
  using namespace simd;
  uint32_t qh;
  std::memcpy(&qh, b + qh_at, 4);
  const uint8_t* q = b + qs_at;
#if defined(TC_SIMD_HAS_LUT16)
  const VF lo = table(iota()), hi = table(load(kIota16To31));
  const VI v = load_u8_i(q), vh = shr_i<4>(v);
  sink(0, lut16_masked(lut16(v, lo), qh & 0xFFFF, v, hi));
  sink(16, lut16_masked(lut16(vh, lo), qh >> 16, vh, hi));
#else
  const VI bits = set1_i(int32_t(qh)), one = set1_i(1), low4 = set1_i(0xF);
#pragma GCC unroll 2
  for (int j = 0; j < 16; j += kW) {
    const VI v = load_u8_i(q + j);
    const VI h0 = and_i(srlv_i(bits, add_i(iota_i(), set1_i(j))), one);       // 5th bit of element j + lane
    const VI h1 = and_i(srlv_i(bits, add_i(iota_i(), set1_i(j + 16))), one);  // ... of element 16 + j + lane
    sink(j, table(to_float(or_i(and_i(v, low4), shl_i<4>(h0)))));
    sink(j + 16, table(to_float(or_i(shr_i<4>(v), shl_i<4>(h1)))));
  }
#endif
}

template <>
struct BlockDecoder<DType::Q5_0> {
  static constexpr int kElems = 32, kBytes = 22, kScales = 1;  // d, qh[4], qs[16]
  static constexpr bool kPrepassScales = false;
  static void row_scales(const uint8_t* row, int64_t nb, float* s) { gather_f16_scales<1>(row, kBytes, nb, s); }
  TC_INLINE static void scales(const uint8_t* b, float* s) { s[0] = simd::f16_scalar(b); }
  template <class Sink>
  TC_INLINE static void decode_scaled(const uint8_t* b, const float* s, Sink&& sink) {
    using namespace simd;
    const VF d = set1(s[0]), bias = set1(16.0f);
    decode_q5_block<2, 6>(b, [&](VF q) { return mul(d, sub(q, bias)); }, sink);  // d * (q - 16)
  }
};

template <>
struct BlockDecoder<DType::Q5_1> {
  static constexpr int kElems = 32, kBytes = 24, kScales = 2;  // d, m, qh[4], qs[16]
  static constexpr bool kPrepassScales = false;
  static void row_scales(const uint8_t* row, int64_t nb, float* s) { gather_f16_scales<2>(row, kBytes, nb, s); }
  TC_INLINE static void scales(const uint8_t* b, float* s) {
    s[0] = simd::f16_scalar(b);
    s[1] = simd::f16_scalar(b + 2);
  }
  template <class Sink>
  TC_INLINE static void decode_scaled(const uint8_t* b, const float* s, Sink&& sink) {
    using namespace simd;
    const VF d = set1(s[0]), m = set1(s[1]);
    decode_q5_block<4, 8>(b, [&](VF q) { return add(mul(d, q), m); }, sink);  // d * q + m
  }
};

template <>
struct BlockDecoder<DType::Q5_K> {
  // d, dmin, scales[12] (as Q4_K), qh[32], qs[128]. Element 64g + l (l < 32): low nibble of
  // qs[32g + l] + 16 * bit 2g of qh[l]; element 64g + 32 + l: high nibble + 16 * bit 2g+1.
  static constexpr int kElems = 256, kBytes = 176, kScales = 16;  // as Q4_K
  static constexpr bool kPrepassScales = true;
  TC_INLINE static void scales(const uint8_t* b, float* s) { k4_scales_mins(b, s); }
  static void row_scales(const uint8_t* row, int64_t nb, float* s) {
    for (int64_t b = 0; b < nb; ++b) scales(row + b * kBytes, s + b * kScales);
  }
  template <class Sink>
  TC_INLINE static void decode_scaled(const uint8_t* b, const float* s, Sink&& sink) {
    using namespace simd;
    const uint8_t* qh = b + 16;
    const uint8_t* q = b + 48;
    for (int g = 0; g < 4; ++g, q += 32) {
      const VF d1 = set1(s[2 * g]), mn1 = set1(s[8 + 2 * g]), d2 = set1(s[2 * g + 1]), mn2 = set1(s[9 + 2 * g]);
#if defined(TC_SIMD_HAS_LUT16)
      const VF hi_codes = load(kIota16To31);
      const VF t1 = sub(mul(d1, iota()), mn1), t1h = sub(mul(d1, hi_codes), mn1);  // d1 * q - m1
      const VF t2 = sub(mul(d2, iota()), mn2), t2h = sub(mul(d2, hi_codes), mn2);
      const uint32_t h1 = byte_bits32(qh, 2 * g), h2 = byte_bits32(qh, 2 * g + 1);
#pragma GCC unroll 2
      for (int l = 0; l < 32; l += kW) {
        const VI v = load_u8_i(q + l), vh = shr_i<4>(v);
        sink(64 * g + l, lut16_masked(lut16(v, t1), h1 >> l, v, t1h));
        sink(64 * g + 32 + l, lut16_masked(lut16(vh, t2), h2 >> l, vh, t2h));
      }
#else
      const VI one = set1_i(1), low4 = set1_i(0xF);
#pragma GCC unroll 4
      for (int l = 0; l < 32; l += kW) {
        const VI v = load_u8_i(q + l), h = load_u8_i(qh + l);
        const VI q1 = or_i(and_i(v, low4), shl_i<4>(and_i(shr_n(h, 2 * g), one)));
        const VI q2 = or_i(shr_i<4>(v), shl_i<4>(and_i(shr_n(h, 2 * g + 1), one)));
        sink(64 * g + l, sub(mul(d1, to_float(q1)), mn1));
        sink(64 * g + 32 + l, sub(mul(d2, to_float(q2)), mn2));
      }
#endif
    }
  }
};

// --- 2- and 3-bit K-quants: 16 sub-blocks of 16 elements, each with its own scale. Element
// 128h + 32j + 16u + l (h, u < 2; j < 4; l < 16) is bits 2j..2j+1 of qs[32h + 16u + l] and
// uses sub-block scale 8h + 2j + u. With AVX-512 the per-sub-block table is indexed by the
// byte shifted right by 2j: the shuffle reads 4 index bits, so the table repeats its 4 (Q2_K)
// or 8 (Q3_K) entries and the bits above the code need no masking.

alignas(64) inline constexpr float kQ2Codes[16] = {0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3};
// Q3_K code (2 low bits | high bit << 2) -> value: the high bit set means +0, clear means -4.
alignas(64) inline constexpr float kQ3Codes[16] = {-4, -3, -2, -1, 0, 1, 2, 3, -4, -3, -2, -1, 0, 1, 2, 3};

template <>
struct BlockDecoder<DType::Q2_K> {
  // scales[16] (low nibble: scale, high nibble: min), qs[64], d, dmin.
  // s[0..16) = d * sc_i, s[16..32) = dmin * m_i.
  static constexpr int kElems = 256, kBytes = 84, kScales = 32;
  static constexpr bool kPrepassScales = true;
  TC_INLINE static void scales(const uint8_t* b, float* s) {
    using namespace simd;
    const VF d = set1(f16_scalar(b + 80)), dmin = set1(f16_scalar(b + 82));
#pragma GCC unroll 2
    for (int i = 0; i < 16; i += kW) {
      const VI sc = load_u8_i(b + i);
      store(s + i, mul(d, to_float(and_i(sc, set1_i(0xF)))));
      store(s + 16 + i, mul(dmin, to_float(shr_i<4>(sc))));
    }
  }
  static void row_scales(const uint8_t* row, int64_t nb, float* s) {
    for (int64_t b = 0; b < nb; ++b) scales(row + b * kBytes, s + b * kScales);
  }
  template <class Sink>
  TC_INLINE static void decode_scaled(const uint8_t* b, const float* s, Sink&& sink) {
    using namespace simd;
    const uint8_t* qs = b + 16;
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h)
#pragma GCC unroll 2
      for (int u = 0; u < 2; ++u)
#pragma GCC unroll 2
        for (int l = 0; l < 16; l += kW) {
          const VI v = load_u8_i(qs + 32 * h + 16 * u + l);
#pragma GCC unroll 4
          for (int j = 0; j < 4; ++j) {
            const int is = 8 * h + 2 * j + u;
            const VF dl = set1(s[is]), ml = set1(s[16 + is]);
#if defined(TC_SIMD_HAS_LUT16)
            sink(128 * h + 32 * j + 16 * u + l, lut16(shr_n(v, 2 * j), sub(mul(dl, load(kQ2Codes)), ml)));
#else
            sink(128 * h + 32 * j + 16 * u + l, sub(mul(dl, to_float(and_i(shr_n(v, 2 * j), set1_i(3)))), ml));
#endif
          }
        }
  }
};

template <>
struct BlockDecoder<DType::Q3_K> {
  // hmask[32], qs[64], scales[12], d. Bit 4h + j of hmask[16u + l] is the high bit of element
  // 128h + 32j + 16u + l. s[i] = d * (sc_i - 32).
  static constexpr int kElems = 256, kBytes = 110, kScales = 16;
  static constexpr bool kPrepassScales = true;
  TC_INLINE static void scales(const uint8_t* b, float* s) {
    using namespace simd;
    // 16 six-bit scales: low nibbles in bytes 0-7 (scales 0-7 low, 8-15 high nibble), the
    // top 2 bits in bytes 8-11 (scale i: bits 2*(i/4) of byte 8 + i%4), unpacked four at a time.
    uint32_t w[3];
    std::memcpy(w, b + 96, 12);
    const uint32_t low4 = 0x0F0F0F0Fu, top2 = 0x03030303u;
    const uint32_t words[4] = {(w[0] & low4) | ((w[2] & top2) << 4), (w[1] & low4) | (((w[2] >> 2) & top2) << 4),
                               ((w[0] >> 4) & low4) | (((w[2] >> 4) & top2) << 4),
                               ((w[1] >> 4) & low4) | (((w[2] >> 6) & top2) << 4)};
    uint8_t bytes[16];
    std::memcpy(bytes, words, 16);
    const VF d = set1(f16_scalar(b + 108));
#pragma GCC unroll 2
    for (int i = 0; i < 16; i += kW) store(s + i, mul(d, to_float(sub_i(load_u8_i(bytes + i), set1_i(32)))));
  }
  static void row_scales(const uint8_t* row, int64_t nb, float* s) {
    for (int64_t b = 0; b < nb; ++b) scales(row + b * kBytes, s + b * kScales);
  }
  template <class Sink>
  TC_INLINE static void decode_scaled(const uint8_t* b, const float* s, Sink&& sink) {
    using namespace simd;
    const uint8_t* hmask = b;
    const uint8_t* qs = b + 32;
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h)
#pragma GCC unroll 2
      for (int u = 0; u < 2; ++u)
#pragma GCC unroll 2
        for (int l = 0; l < 16; l += kW) {
          const VI v = load_u8_i(qs + 32 * h + 16 * u + l), hm = load_u8_i(hmask + 16 * u + l);
#if defined(TC_SIMD_HAS_LUT16)
          const VI hm4 = shl_i<2>(hm), bit2 = set1_i(4);  // high bit 4h+j of hm at bit 4h+j+2
#endif
#pragma GCC unroll 4
          for (int j = 0; j < 4; ++j) {
            const VF dl = set1(s[8 * h + 2 * j + u]);
#if defined(TC_SIMD_HAS_LUT16)
            const VI code = select_bits(bit2, shr_n(hm4, 4 * h + j), shr_n(v, 2 * j));  // bits 0-1 low, bit 2 high
            sink(128 * h + 32 * j + 16 * u + l, lut16(code, mul(dl, load(kQ3Codes))));
#else
            const VI low = and_i(shr_n(v, 2 * j), set1_i(3)), high = and_i(shr_n(hm, 4 * h + j), set1_i(1));
            sink(128 * h + 32 * j + 16 * u + l, mul(dl, to_float(sub_i(or_i(low, shl_i<2>(high)), set1_i(4)))));
#endif
          }
        }
  }
};

// --- IQ4_NL and IQ4_XS: 4-bit codes into a fixed non-linear table (GGML's kvalues_iq4nl),
// dequantised through a 16-entry table scale * value on every ISA (simd::lut16).

alignas(64) inline constexpr float kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                                        1,    13,   25,  38,  53,  69,  89,  113};

template <>
struct BlockDecoder<DType::IQ4_NL> {
  static constexpr int kElems = 32, kBytes = 18, kScales = 1;  // d, qs[16] (low nibbles 0..15, high 16..31)
  static constexpr bool kPrepassScales = false;
  static void row_scales(const uint8_t* row, int64_t nb, float* s) { gather_f16_scales<1>(row, kBytes, nb, s); }
  TC_INLINE static void scales(const uint8_t* b, float* s) { s[0] = simd::f16_scalar(b); }
  template <class Sink>
  TC_INLINE static void decode_scaled(const uint8_t* b, const float* s, Sink&& sink) {
    using namespace simd;
    const Lut16 table = lut16_table(s[0], kIq4nlValues);  // d * kv[q]
#pragma GCC unroll 2
    for (int j = 0; j < 16; j += kW) {
      const VI v = load_u8_i(b + 2 + j);
      sink(j, lut16(v, table));
      sink(j + 16, lut16(shr_i<4>(v), table));
    }
  }
};

template <>
struct BlockDecoder<DType::IQ4_XS> {
  // d, scales_h (u16), scales_l[4], qs[128]: 8 sub-blocks of 32 as IQ4_NL, each scaled by
  // d * (ls - 32), ls = nibble ib%2 of scales_l[ib/2] | bits 2ib..2ib+1 of scales_h << 4.
  static constexpr int kElems = 256, kBytes = 136, kScales = 8;
  static constexpr bool kPrepassScales = true;
  TC_INLINE static void scales(const uint8_t* b, float* s) {
    using namespace simd;
    // Lane ib < 8: the low nibble is bits 4ib..4ib+3 of scales_l (as a u32), the high bits are
    // bits 2ib..2ib+1 of scales_h (lanes 8 and up, if any, compute unused values).
    uint16_t scales_h;
    uint32_t scales_l;
    std::memcpy(&scales_h, b + 2, 2);
    std::memcpy(&scales_l, b + 4, 4);
    const VI ib = iota_i();
    const VI low = and_i(srlv_i(set1_i(int32_t(scales_l)), shl_i<2>(ib)), set1_i(0xF));
    const VI high = and_i(srlv_i(set1_i(scales_h), shl_i<1>(ib)), set1_i(3));
    store_first8(s, mul(set1(f16_scalar(b)), to_float(sub_i(or_i(low, shl_i<4>(high)), set1_i(32)))));
  }
  static void row_scales(const uint8_t* row, int64_t nb, float* s) {
    for (int64_t b = 0; b < nb; ++b) scales(row + b * kBytes, s + b * kScales);
  }
  template <class Sink>
  TC_INLINE static void decode_scaled(const uint8_t* b, const float* s, Sink&& sink) {
    using namespace simd;
    const uint8_t* qs = b + 8;
#pragma GCC unroll 8
    for (int ib = 0; ib < 8; ++ib) {
      const Lut16 table = lut16_table(s[ib], kIq4nlValues);
#pragma GCC unroll 2
      for (int j = 0; j < 16; j += kW) {
        const VI v = load_u8_i(qs + 16 * ib + j);
        sink(32 * ib + j, lut16(v, table));
        sink(32 * ib + 16 + j, lut16(shr_i<4>(v), table));
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

// Register-level decoders of the GGML block formats (layouts as in io/dequantize.cpp).
// BlockDecoder<T>::decode(block, sink) calls sink(j, w) for j = 0, kW, 2*kW, ... with w the
// kW dequantised weights block[j .. j+kW). The arithmetic follows the reference order (for
// example Q4_1 is d*q + m with a separate multiply and add, Q6_K is (d*scale)*q), so the
// values are bit-identical to tc::dequantize_row and to gguf-py's dequantize.
#pragma once

#include <cstdint>

#include "backend/cpu/simd.h"
#include "io/dtype.h"

namespace tc::cpu {

static_assert(16 % simd::kW == 0 || simd::kW == 16, "block decoders assume kW divides 16");

template <DType T>
struct BlockDecoder;

template <>
struct BlockDecoder<DType::Q8_0> {
  static constexpr int kElems = 32, kBytes = 34;
  template <class Sink>
  TC_INLINE static void decode(const uint8_t* b, Sink&& sink) {
    using namespace simd;
    const VF d = set1(f16_scalar(b));
    const int8_t* q = reinterpret_cast<const int8_t*>(b + 2);
#pragma GCC unroll 8
    for (int j = 0; j < 32; j += kW) sink(j, mul(d, load_i8(q + j)));
  }
};

template <>
struct BlockDecoder<DType::Q4_0> {
  static constexpr int kElems = 32, kBytes = 18;
  template <class Sink>
  TC_INLINE static void decode(const uint8_t* b, Sink&& sink) {
    using namespace simd;
    const VF d = set1(f16_scalar(b));
    const uint8_t* q = b + 2;
#pragma GCC unroll 8
    for (int j = 0; j < 16; j += kW) {
      VI v = load_u8_i(q + j);
      sink(j, mul(d, to_float(sub_i(and_i(v, set1_i(0xF)), set1_i(8)))));
      sink(j + 16, mul(d, to_float(sub_i(shr_i<4>(v), set1_i(8)))));
    }
  }
};

template <>
struct BlockDecoder<DType::Q4_1> {
  static constexpr int kElems = 32, kBytes = 20;
  template <class Sink>
  TC_INLINE static void decode(const uint8_t* b, Sink&& sink) {
    using namespace simd;
    const VF d = set1(f16_scalar(b)), m = set1(f16_scalar(b + 2));
    const uint8_t* q = b + 4;
#pragma GCC unroll 8
    for (int j = 0; j < 16; j += kW) {
      VI v = load_u8_i(q + j);
      sink(j, add(mul(d, to_float(and_i(v, set1_i(0xF)))), m));
      sink(j + 16, add(mul(d, to_float(shr_i<4>(v))), m));
    }
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
  static constexpr int kElems = 256, kBytes = 144;
  template <class Sink>
  TC_INLINE static void decode(const uint8_t* b, Sink&& sink) {
    using namespace simd;
    const float d = f16_scalar(b), dmin = f16_scalar(b + 2);
    const uint8_t* scales = b + 4;
    const uint8_t* q = b + 16;
    for (int g = 0; g < 4; ++g, q += 32) {  // 64 elements: 32 low nibbles, then 32 high nibbles
      int sc1, m1, sc2, m2;
      q4k_scale_min(2 * g, scales, &sc1, &m1);
      q4k_scale_min(2 * g + 1, scales, &sc2, &m2);
      const VF d1 = set1(d * float(sc1)), mn1 = set1(dmin * float(m1));
      const VF d2 = set1(d * float(sc2)), mn2 = set1(dmin * float(m2));
#pragma GCC unroll 8
      for (int l = 0; l < 32; l += kW) {
        VI v = load_u8_i(q + l);
        sink(64 * g + l, sub(mul(d1, to_float(and_i(v, set1_i(0xF)))), mn1));
        sink(64 * g + 32 + l, sub(mul(d2, to_float(shr_i<4>(v))), mn2));
      }
    }
  }
};

template <>
struct BlockDecoder<DType::Q6_K> {
  static constexpr int kElems = 256, kBytes = 210;
  template <class Sink>
  TC_INLINE static void decode(const uint8_t* b, Sink&& sink) {
    using namespace simd;
    const uint8_t* ql = b;        // [128] low 4 bits
    const uint8_t* qh = b + 128;  // [64]  high 2 bits, four elements per byte
    const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);  // [16] one per 16 elements
    const float d = f16_scalar(b + 208);
    const VI low4 = set1_i(0xF), two = set1_i(3), bias = set1_i(32);
    for (int half = 0; half < 256; half += 128, ql += 64, qh += 32, sc += 8) {
#pragma GCC unroll 8
      for (int l = 0; l < 32; l += kW) {
        const int is = l / 16;
        VI a = load_u8_i(ql + l), c = load_u8_i(ql + l + 32), h = load_u8_i(qh + l);
        VI q1 = sub_i(or_i(and_i(a, low4), shl_i<4>(and_i(h, two))), bias);
        VI q2 = sub_i(or_i(and_i(c, low4), shl_i<4>(and_i(shr_i<2>(h), two))), bias);
        VI q3 = sub_i(or_i(shr_i<4>(a), shl_i<4>(and_i(shr_i<4>(h), two))), bias);
        VI q4 = sub_i(or_i(shr_i<4>(c), shl_i<4>(shr_i<6>(h))), bias);
        sink(half + l, mul(set1(d * float(sc[is + 0])), to_float(q1)));
        sink(half + l + 32, mul(set1(d * float(sc[is + 2])), to_float(q2)));
        sink(half + l + 64, mul(set1(d * float(sc[is + 4])), to_float(q3)));
        sink(half + l + 96, mul(set1(d * float(sc[is + 6])), to_float(q4)));
      }
    }
  }
};

}  // namespace tc::cpu

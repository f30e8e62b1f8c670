// Reference dequantisation of every supported type (block layouts as in GGML). The SIMD
// kernels in backend/cpu are tested against these, and these against the `gguf` Python
// package's dequantize().
#include <cstring>

#include "io/tensor.h"
#include "util/error.h"
#include "util/half.h"

namespace tc {

namespace {

inline float load_f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}

// 6-bit scale and min of sub-block j (0..7) of a Q4_K super-block.
inline void q4k_scale_min(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// Code -> value table of IQ4_NL and IQ4_XS (GGML's kvalues_iq4nl).
constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// Q5_0 / Q5_1 quants 0..31 of a block: low nibbles are elements 0..15, high nibbles 16..31,
// bit j of the little-endian u32 qh is the 5th bit of element j.
inline void q5_quants(const uint8_t* qh_bytes, const uint8_t* qs, int* q) {
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, 4);
  for (int j = 0; j < 16; ++j) {
    q[j] = (qs[j] & 0xF) | int(((qh >> j) & 1) << 4);
    q[j + 16] = (qs[j] >> 4) | int(((qh >> (j + 16)) & 1) << 4);
  }
}

// The 16 six-bit scales of a Q3_K super-block, minus 32: the low 4 bits of scale i are
// nibble i/8 of byte i%8, its high 2 bits are bits 2*(i/4) of byte 8 + i%4.
inline void q3k_scales(const uint8_t* packed, int* sc) {
  for (int i = 0; i < 16; ++i) {
    int low = (packed[i % 8] >> (4 * (i / 8))) & 0xF;
    int high = (packed[8 + i % 4] >> (2 * (i / 4))) & 3;
    sc[i] = (low | (high << 4)) - 32;
  }
}

}  // namespace

std::string TensorView::shape_str() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

void dequantize_row(DType t, const void* src_v, float* y, int64_t n) {
  const uint8_t* src = static_cast<const uint8_t*>(src_v);
  const DTypeInfo& info = dtype_info(t);
  if (n % info.block_elems != 0) TC_THROW("dequantize_row: %lld is not a multiple of the %s block", (long long)n, info.name);
  int64_t nb = n / info.block_elems;
  switch (t) {
    case DType::F32:
      std::memcpy(y, src, size_t(n) * 4);
      return;
    case DType::F16:
      for (int64_t i = 0; i < n; ++i) y[i] = load_f16(src + 2 * i);
      return;
    case DType::BF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        y[i] = bf16_to_f32(h);
      }
      return;
    case DType::Q8_0:
      for (int64_t b = 0; b < nb; ++b, src += 34, y += 32) {
        float d = load_f16(src);
        const int8_t* q = reinterpret_cast<const int8_t*>(src + 2);
        for (int j = 0; j < 32; ++j) y[j] = d * q[j];
      }
      return;
    case DType::Q4_0:
      for (int64_t b = 0; b < nb; ++b, src += 18, y += 32) {
        float d = load_f16(src);
        const uint8_t* q = src + 2;
        for (int j = 0; j < 16; ++j) {
          y[j] = d * (int(q[j] & 0xF) - 8);
          y[j + 16] = d * (int(q[j] >> 4) - 8);
        }
      }
      return;
    case DType::Q4_1:
      for (int64_t b = 0; b < nb; ++b, src += 20, y += 32) {
        float d = load_f16(src), m = load_f16(src + 2);
        const uint8_t* q = src + 4;
        for (int j = 0; j < 16; ++j) {
          y[j] = d * (q[j] & 0xF) + m;
          y[j + 16] = d * (q[j] >> 4) + m;
        }
      }
      return;
    case DType::Q4_K:
      for (int64_t b = 0; b < nb; ++b, src += 144) {
        float d = load_f16(src), dmin = load_f16(src + 2);
        const uint8_t* scales = src + 4;
        const uint8_t* q = src + 16;
        int is = 0;
        for (int j = 0; j < 256; j += 64) {
          uint8_t sc, m;
          q4k_scale_min(is + 0, scales, &sc, &m);
          float d1 = d * sc, m1 = dmin * m;
          q4k_scale_min(is + 1, scales, &sc, &m);
          float d2 = d * sc, m2 = dmin * m;
          for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
          for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
          q += 32;
          is += 2;
        }
      }
      return;
    case DType::Q6_K:
      for (int64_t b = 0; b < nb; ++b, src += 210) {
        const uint8_t* ql = src;
        const uint8_t* qh = src + 128;
        const int8_t* sc = reinterpret_cast<const int8_t*>(src + 192);
        float d = load_f16(src + 208);
        for (int n128 = 0; n128 < 256; n128 += 128) {
          for (int l = 0; l < 32; ++l) {
            int is = l / 16;
            int q1 = int((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
            int q2 = int((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
            int q3 = int((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            int q4 = int((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l] = d * sc[is + 0] * q1;
            y[l + 32] = d * sc[is + 2] * q2;
            y[l + 64] = d * sc[is + 4] * q3;
            y[l + 96] = d * sc[is + 6] * q4;
          }
          y += 128;
          ql += 64;
          qh += 32;
          sc += 8;
        }
      }
      return;
    case DType::Q5_0:
      for (int64_t b = 0; b < nb; ++b, src += 22, y += 32) {
        float d = load_f16(src);
        int q[32];
        q5_quants(src + 2, src + 6, q);
        for (int j = 0; j < 32; ++j) y[j] = d * float(q[j] - 16);
      }
      return;
    case DType::Q5_1:
      for (int64_t b = 0; b < nb; ++b, src += 24, y += 32) {
        float d = load_f16(src), m = load_f16(src + 2);
        int q[32];
        q5_quants(src + 4, src + 8, q);
        for (int j = 0; j < 32; ++j) y[j] = d * float(q[j]) + m;
      }
      return;
    case DType::Q2_K:
      // scales[16] (low nibble scale, high nibble min, one per 16 elements), qs[64], d, dmin.
      // Element 128*h + 32*j + l (l < 32) is bits 2j..2j+1 of qs[32*h + l].
      for (int64_t b = 0; b < nb; ++b, src += 84, y += 256) {
        const uint8_t* scales = src;
        const uint8_t* qs = src + 16;
        float d = load_f16(src + 80), dmin = load_f16(src + 82);
        for (int e = 0; e < 256; ++e) {
          int h = e / 128, j = (e % 128) / 32, l = e % 32;
          int q = (qs[32 * h + l] >> (2 * j)) & 3;
          float dl = d * float(scales[e / 16] & 0xF), ml = dmin * float(scales[e / 16] >> 4);
          y[e] = dl * float(q) - ml;
        }
      }
      return;
    case DType::Q3_K:
      // hmask[32], qs[64], scales[12], d. Element 128*h + 32*j + l (l < 32): low 2 bits are bits
      // 2j..2j+1 of qs[32*h + l]; bit 4*h + j of hmask[l] set means +0, clear means -4.
      for (int64_t b = 0; b < nb; ++b, src += 110, y += 256) {
        const uint8_t* hmask = src;
        const uint8_t* qs = src + 32;
        float d = load_f16(src + 108);
        int sc[16];
        q3k_scales(src + 96, sc);
        for (int e = 0; e < 256; ++e) {
          int h = e / 128, j = (e % 128) / 32, l = e % 32;
          int q = ((qs[32 * h + l] >> (2 * j)) & 3) - (((hmask[l] >> (4 * h + j)) & 1) ? 0 : 4);
          float dl = d * float(sc[e / 16]);
          y[e] = dl * float(q);
        }
      }
      return;
    case DType::Q5_K:
      // d, dmin, 12 bytes of scales/mins as Q4_K, qh[32], qs[128]. Element 64*g + l (l < 32) is
      // the low nibble of qs[32*g + l] plus bit 2g of qh[l] as 16; element 64*g + 32 + l the high
      // nibble plus bit 2g+1.
      for (int64_t b = 0; b < nb; ++b, src += 176) {
        float d = load_f16(src), dmin = load_f16(src + 2);
        const uint8_t* scales = src + 4;
        const uint8_t* qh = src + 16;
        const uint8_t* ql = src + 48;
        for (int g = 0; g < 4; ++g, ql += 32) {
          uint8_t sc, m;
          q4k_scale_min(2 * g, scales, &sc, &m);
          float d1 = d * sc, m1 = dmin * m;
          q4k_scale_min(2 * g + 1, scales, &sc, &m);
          float d2 = d * sc, m2 = dmin * m;
          for (int l = 0; l < 32; ++l) *y++ = d1 * float((ql[l] & 0xF) | (((qh[l] >> (2 * g)) & 1) << 4)) - m1;
          for (int l = 0; l < 32; ++l) *y++ = d2 * float((ql[l] >> 4) | (((qh[l] >> (2 * g + 1)) & 1) << 4)) - m2;
        }
      }
      return;
    case DType::IQ4_NL:
      for (int64_t b = 0; b < nb; ++b, src += 18, y += 32) {
        float d = load_f16(src);
        const uint8_t* qs = src + 2;
        for (int j = 0; j < 16; ++j) {
          y[j] = d * float(kIq4nlValues[qs[j] & 0xF]);
          y[j + 16] = d * float(kIq4nlValues[qs[j] >> 4]);
        }
      }
      return;
    case DType::IQ4_XS:
      // d, scales_h (u16: bits 2i..2i+1 are the high bits of sub-block i's scale), scales_l[4]
      // (nibble i%2 of byte i/2: the low bits), qs[128]: 8 sub-blocks of 32 as IQ4_NL.
      for (int64_t b = 0; b < nb; ++b, src += 136) {
        float d = load_f16(src);
        uint16_t scales_h;
        std::memcpy(&scales_h, src + 2, 2);
        const uint8_t* scales_l = src + 4;
        const uint8_t* qs = src + 8;
        for (int ib = 0; ib < 8; ++ib, qs += 16, y += 32) {
          int ls = ((scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((scales_h >> (2 * ib)) & 3) << 4);
          float dl = d * float(ls - 32);
          for (int j = 0; j < 16; ++j) {
            y[j] = dl * float(kIq4nlValues[qs[j] & 0xF]);
            y[j + 16] = dl * float(kIq4nlValues[qs[j] >> 4]);
          }
        }
      }
      return;
    case DType::I32:
      for (int64_t i = 0; i < n; ++i) {
        int32_t v;
        std::memcpy(&v, src + 4 * i, 4);
        y[i] = float(v);
      }
      return;
    default:
      TC_THROW("dequantize_row: unsupported type %s", info.name);
  }
}

}  // namespace tc

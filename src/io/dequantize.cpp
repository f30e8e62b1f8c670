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

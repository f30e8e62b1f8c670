// Helpers shared by the CPU kernel tests: random but valid weight blocks of every dtype,
// random activations, and comparison with a tolerance that is stated per use.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "io/dtype.h"
#include "io/tensor.h"
#include "util/half.h"
#include "util/rng.h"

namespace tc::cpu::testing_util {

inline void put_f16(uint8_t* p, float v) {
  uint16_t h = f32_to_f16(v);
  std::memcpy(p, &h, 2);
}

inline float uniform(Rng& rng, float lo, float hi) { return lo + float(rng.uniform()) * (hi - lo); }

// Bytes of a [rows][cols] tensor of dtype t with random contents that are valid blocks:
// random f16 scales (both signs, small enough that values stay O(1)) and random quants.
inline std::vector<uint8_t> random_weights(DType t, int64_t rows, int64_t cols, Rng& rng) {
  const size_t row_bytes = dtype_row_bytes(t, cols);
  std::vector<uint8_t> out(row_bytes * rows);
  for (auto& b : out) b = uint8_t(rng.next_u64());  // every quant byte pattern is valid
  const DTypeInfo& info = dtype_info(t);
  const int64_t n_blocks = rows * cols / info.block_elems;
  uint8_t* p = out.data();
  for (int64_t b = 0; b < n_blocks; ++b, p += info.block_bytes) {
    switch (t) {
      case DType::F32: {
        float v = float(rng.normal() * 0.5);
        std::memcpy(p, &v, 4);
        break;
      }
      case DType::F16: put_f16(p, float(rng.normal() * 0.5)); break;
      case DType::BF16: {
        uint16_t h = f32_to_bf16(float(rng.normal() * 0.5));
        std::memcpy(p, &h, 2);
        break;
      }
      case DType::Q8_0: put_f16(p, uniform(rng, -0.01f, 0.01f)); break;
      case DType::Q4_0: put_f16(p, uniform(rng, -0.1f, 0.1f)); break;
      case DType::Q4_1:
        put_f16(p, uniform(rng, 0.0f, 0.1f));
        put_f16(p + 2, uniform(rng, -0.8f, 0.0f));
        break;
      case DType::Q4_K:  // d, dmin, then 12 bytes of packed 6-bit scales/mins (random) and quants
        put_f16(p, uniform(rng, 0.0f, 0.004f));
        put_f16(p + 2, uniform(rng, 0.0f, 0.01f));
        break;
      case DType::Q6_K: {  // ql, qh random; int8 scales random; d last
        put_f16(p + 208, uniform(rng, -0.002f, 0.002f));
        break;
      }
      case DType::Q5_0: put_f16(p, uniform(rng, -0.05f, 0.05f)); break;  // d, then qh and nibbles
      case DType::Q5_1:
        put_f16(p, uniform(rng, 0.0f, 0.05f));
        put_f16(p + 2, uniform(rng, -0.8f, 0.0f));
        break;
      case DType::Q2_K:  // scales/mins nibbles and quants random; d, dmin last
        put_f16(p + 80, uniform(rng, 0.0f, 0.02f));
        put_f16(p + 82, uniform(rng, 0.0f, 0.02f));
        break;
      case DType::Q3_K: put_f16(p + 108, uniform(rng, -0.004f, 0.004f)); break;  // hmask, qs, scales random; d
      case DType::Q5_K:  // as Q4_K: d, dmin, 12 bytes of scales/mins; qh and quants random
        put_f16(p, uniform(rng, 0.0f, 0.002f));
        put_f16(p + 2, uniform(rng, 0.0f, 0.01f));
        break;
      case DType::IQ4_NL: put_f16(p, uniform(rng, -0.005f, 0.005f)); break;
      case DType::IQ4_XS: put_f16(p, uniform(rng, -0.0002f, 0.0002f)); break;  // d, then scale bits and codes
      default: break;
    }
  }
  return out;
}

inline TensorView view_of(DType t, int64_t rows, int64_t cols, const std::vector<uint8_t>& bytes) {
  TensorView v;
  v.name = "test";
  v.dtype = t;
  v.shape = {rows, cols};
  v.data = bytes.data();
  v.nbytes = bytes.size();
  return v;
}

inline std::vector<float> random_floats(size_t n, Rng& rng, double sd = 1.0) {
  std::vector<float> v(n);
  for (auto& x : v) x = float(rng.normal() * sd);
  return v;
}

// Largest |a[i] - b[i]| / (abs_tol + rel_tol * |b[i]|); <= 1 means within tolerance.
inline double worst_error(const float* a, const float* b, size_t n, double abs_tol, double rel_tol) {
  double worst = 0;
  for (size_t i = 0; i < n; ++i) {
    double e = std::fabs(double(a[i]) - double(b[i])) / (abs_tol + rel_tol * std::fabs(double(b[i])));
    if (std::isnan(e)) return INFINITY;
    worst = std::max(worst, e);
  }
  return worst;
}

}  // namespace tc::cpu::testing_util

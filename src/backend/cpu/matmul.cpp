// y[n][out] = x[n][in] · W[out][in]^T for every weight dtype, f32 activations.
//
// Two regimes:
//  * few tokens (decode, n <= kFusedMaxTokens = 8): a fused kernel walks R weight rows block by
//    block, decodes each block in registers and multiplies it into the T token vectors.
//    Every weight byte is read once per call, and the next rows are prefetched while the
//    current ones are consumed, so decode streams at the decoder's compute rate or DRAM's.
//  * prefill: each thread dequantises a panel of rows once (cpu::dequantize_row, the
//    reference's values) and multiplies it with all n tokens through the register-tiled f32
//    product (gemm.h), reading x transposed so the tokens sit in the vector lanes. The
//    decode cost of a block is paid once per call, not once per token.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "backend/cpu/gemm.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/ops_ref.h"
#include "backend/cpu/quant_blocks.h"
#include "util/error.h"

namespace tc::cpu {

namespace {

using namespace simd;

// Up to this many tokens the fused kernel beats dequantising a panel (measured: at n = 8 the
// fused kernel runs ~1.5x the panel path's GFLOP/s, at n = 16 the panel path wins).
constexpr int kFusedMaxTokens = 8;

// Rows per fused group for T tokens: R*T accumulators must fit the register file.
#if defined(TC_SIMD_AVX512)
constexpr int rows_per_group(int t) { return t <= 4 ? 4 : 2; }
#else
constexpr int rows_per_group(int t) { return t <= 2 ? 4 : t <= 4 ? 2 : 1; }
#endif

// --- fused kernels: out[t * ldo + r] = dot(W row r, x[t]) for r < R, t < T

// Scratch that lives as long as its thread, grown on demand (no allocation per call).
float* scratch(std::vector<float>& buf, size_t n) {
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

template <DType D, int R, int T>
void fused_quant(const uint8_t* w, size_t row_bytes, int64_t K, const float* x, int64_t ldx, float* out, int64_t ldo,
                 const uint8_t* prefetch_end) {
  using Dec = BlockDecoder<D>;
  const int64_t nb = K / Dec::kElems;
  // sc: [R][nb][kScales] the rows' block scales in f32, converted up front.
  float* sc = nullptr;
  if constexpr (Dec::kPrepassScales) {
    thread_local std::vector<float> sc_buf;
    sc = scratch(sc_buf, size_t(R) * nb * Dec::kScales);
    for (int r = 0; r < R; ++r) Dec::row_scales(w + r * row_bytes, nb, sc + r * nb * Dec::kScales);
  }
  VF acc[R][T];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) acc[r][t] = zero();
  // The rows after this group are read next: touch them at the rate this group is consumed,
  // so DRAM streams ahead even though the group interleaves R short rows.
  const uint8_t* pf = w + R * row_bytes;
  for (int64_t b = 0; b < nb; ++b) {
    const float* xb = x + b * Dec::kElems;
    const uint8_t* wb = w + b * Dec::kBytes;
    for (int i = 0; i < R * Dec::kBytes && pf < prefetch_end; i += 64, pf += 64) __builtin_prefetch(pf);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      auto sink = [&](int j, VF wv) {
#pragma GCC unroll 8
        for (int t = 0; t < T; ++t) acc[r][t] = fma(wv, load(xb + t * ldx + j), acc[r][t]);
      };
      if constexpr (Dec::kPrepassScales) {
        Dec::decode_scaled(wb + r * row_bytes, sc + (r * nb + b) * Dec::kScales, sink);
      } else {
        float s[Dec::kScales];
        Dec::scales(wb + r * row_bytes, s);
        Dec::decode_scaled(wb + r * row_bytes, s, sink);
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) out[t * ldo + r] = reduce_add(acc[r][t]);
}

// Plain types: kW elements at a time, then a zero-padded tail.
template <DType D>
TC_INLINE VF load_plain(const uint8_t* row, int64_t i) {
  if constexpr (D == DType::F32) return load(reinterpret_cast<const float*>(row) + i);
  if constexpr (D == DType::F16) return load_f16(reinterpret_cast<const uint16_t*>(row) + i);
  if constexpr (D == DType::BF16) return load_bf16(reinterpret_cast<const uint16_t*>(row) + i);
}
template <DType D>
TC_INLINE VF load_plain_partial(const uint8_t* row, int64_t i, int n) {
  if constexpr (D == DType::F32) return load_partial(reinterpret_cast<const float*>(row) + i, n);
  if constexpr (D == DType::F16) return load_f16_partial(reinterpret_cast<const uint16_t*>(row) + i, n);
  if constexpr (D == DType::BF16) return load_bf16_partial(reinterpret_cast<const uint16_t*>(row) + i, n);
}

template <DType D, int R, int T>
void fused_plain(const uint8_t* w, size_t row_bytes, int64_t K, const float* x, int64_t ldx, float* out, int64_t ldo,
                 const uint8_t* prefetch_end) {
  // Two accumulators per (row, token) so the FMA chains overlap even for one row.
  VF acc[R][T][2];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) acc[r][t][0] = acc[r][t][1] = zero();
  // Prefetch the next group's rows at the rate this one is consumed (see fused_quant).
  constexpr int kStepBytes = 2 * kW * (D == DType::F32 ? 4 : 2);
  const uint8_t* pf = w + R * row_bytes;
  int64_t i = 0;
  for (; i + 2 * kW <= K; i += 2 * kW) {
    for (int j = 0; j < R * kStepBytes && pf < prefetch_end; j += 64, pf += 64) __builtin_prefetch(pf);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      VF w0 = load_plain<D>(w + r * row_bytes, i), w1 = load_plain<D>(w + r * row_bytes, i + kW);
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) {
        acc[r][t][0] = fma(w0, load(x + t * ldx + i), acc[r][t][0]);
        acc[r][t][1] = fma(w1, load(x + t * ldx + i + kW), acc[r][t][1]);
      }
    }
  }
  for (; i < K; i += kW) {
    const int n = K - i < kW ? int(K - i) : kW;
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      VF wv = n == kW ? load_plain<D>(w + r * row_bytes, i) : load_plain_partial<D>(w + r * row_bytes, i, n);
#pragma GCC unroll 8
      for (int t = 0; t < T; ++t) {
        VF xv = n == kW ? load(x + t * ldx + i) : load_partial(x + t * ldx + i, n);
        acc[r][t][0] = fma(wv, xv, acc[r][t][0]);
      }
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int t = 0; t < T; ++t) out[t * ldo + r] = reduce_add(add(acc[r][t][0], acc[r][t][1]));
}

template <DType D, int R, int T>
void fused(const uint8_t* w, size_t row_bytes, int64_t K, const float* x, int64_t ldx, float* out, int64_t ldo,
           const uint8_t* prefetch_end) {
  if constexpr (D == DType::F32 || D == DType::F16 || D == DType::BF16)
    fused_plain<D, R, T>(w, row_bytes, K, x, ldx, out, ldo, prefetch_end);
  else
    fused_quant<D, R, T>(w, row_bytes, K, x, ldx, out, ldo, prefetch_end);
}

// Bytes of weights worth one parallel chunk: below this the pool's hand-off costs more
// than the work it spreads.
constexpr int64_t kMinChunkBytes = 24 * 1024;

template <DType D, int T>
void matmul_fused(const TensorView& w, const float* x, float* y, ThreadPool& pool) {
  constexpr int R = rows_per_group(T);
  const int64_t out = w.rows(), K = w.cols();
  const size_t row_bytes = w.row_bytes();
  const uint8_t* base = static_cast<const uint8_t*>(w.data);
  const int64_t groups = (out + R - 1) / R;
  const int64_t grain = std::max<int64_t>(1, kMinChunkBytes / int64_t(R * row_bytes));
  pool.parallel_for(groups, [&](int64_t g0, int64_t g1, int) {
    int64_t r = g0 * R;
    const int64_t r_end = std::min(out, g1 * R);
    const uint8_t* end = base + r_end * row_bytes;
    for (; r + R <= r_end; r += R) fused<D, R, T>(base + r * row_bytes, row_bytes, K, x, K, y + r, out, end);
    for (; r < r_end; ++r) fused<D, 1, T>(base + r * row_bytes, row_bytes, K, x, K, y + r, out, end);
  }, grain);
}

// --- prefill: panel dequantisation + register-tiled product

void matmul_panel(const TensorView& w, const float* x, float* y, int n, ThreadPool& pool) {
  const int64_t out = w.rows(), K = w.cols();
  const size_t row_bytes = w.row_bytes();
  const uint8_t* base = static_cast<const uint8_t*>(w.data);
  const int nv = (n + kW - 1) / kW, n_pad = nv * kW;
  // xt: x transposed so tokens sit in vector lanes, packed in groups of kGemmGroupVecs
  // vectors: group g is [K][width_g] contiguous, so a register tile reads B sequentially
  // (with one strided [K][n_pad] array, n = 512 ran 3-5x slower: x^T outgrew L2 and the
  // 2 KiB stride defeated the prefetchers).
  constexpr int kGroup = kGemmGroupVecs * kW;
  const int n_groups = (n_pad + kGroup - 1) / kGroup;
  auto group_width = [&](int g) { return std::min(kGroup, n_pad - g * kGroup); };
  thread_local std::vector<float> xt_buf;
  float* xt = scratch(xt_buf, size_t(K) * n_pad);
  pool.parallel_for(K, [&](int64_t k0, int64_t k1, int) {
    for (int g = 0; g < n_groups; ++g) {
      const int width = group_width(g), t0 = g * kGroup;
      float* dst = xt + size_t(K) * t0;
      for (int64_t k = k0; k < k1; ++k)
        for (int j = 0; j < width; ++j) dst[k * width + j] = t0 + j < n ? x[size_t(t0 + j) * K + k] : 0.0f;
    }
  }, 64);

  // Rows per panel: the dequantised panel [rows][K] should stay in L2 (<= 256 KiB).
  const int64_t panel_rows = std::clamp<int64_t>(65536 / K / 12 * 12, 12, 96);
  const bool direct = w.dtype == DType::F32;  // f32 rows are already a panel
  pool.parallel_for(out, [&](int64_t o0, int64_t o1, int) {
    thread_local std::vector<float> panel_buf, yt_buf;
    float* yt = scratch(yt_buf, size_t(panel_rows) * kGroup);  // yt: [panel_rows][kGroup], one token group
    float* panel = direct ? nullptr : scratch(panel_buf, size_t(panel_rows) * K);  // [panel_rows][K]
    for (int64_t p0 = o0; p0 < o1; p0 += panel_rows) {
      const int rows = int(std::min<int64_t>(panel_rows, o1 - p0));
      const float* a = reinterpret_cast<const float*>(base + p0 * row_bytes);
      if (!direct) {
        for (int r = 0; r < rows; ++r) cpu::dequantize_row(w.dtype, base + (p0 + r) * row_bytes, panel + r * K, K);
        a = panel;
      }
      for (int g = 0; g < n_groups; ++g) {
        const int width = group_width(g), t0 = g * kGroup, t1 = std::min(n, t0 + width);
        gemm_bcast_a(rows, width / kW, int(K), a, K, 1, xt + size_t(K) * t0, width, yt, width, false);
        for (int t = t0; t < t1; ++t) {
          float* yrow = y + size_t(t) * out + p0;
          for (int r = 0; r < rows; ++r) yrow[r] = yt[r * width + (t - t0)];
        }
      }
    }
  }, std::min<int64_t>(panel_rows, 16));
}

template <DType D>
void matmul_dtype(const TensorView& w, const float* x, float* y, int n, ThreadPool& pool) {
  switch (n) {
    case 1: return matmul_fused<D, 1>(w, x, y, pool);
    case 2: return matmul_fused<D, 2>(w, x, y, pool);
    case 3: return matmul_fused<D, 3>(w, x, y, pool);
    case 4: return matmul_fused<D, 4>(w, x, y, pool);
    case 5: return matmul_fused<D, 5>(w, x, y, pool);
    case 6: return matmul_fused<D, 6>(w, x, y, pool);
    case 7: return matmul_fused<D, 7>(w, x, y, pool);
    case 8: return matmul_fused<D, 8>(w, x, y, pool);
    default: return matmul_panel(w, x, y, n, pool);
  }
}

}  // namespace

void matmul(const TensorView& w, const float* x, float* y, int n, ThreadPool& pool) {
  static_assert(kFusedMaxTokens == 8, "matmul_dtype dispatches n = 1..8 to the fused kernels");
  TC_CHECK_ARG(n >= 0, "matmul: negative token count %d", n);
  if (n == 0 || w.rows() == 0) return;
  switch (w.dtype) {
    case DType::F32: return matmul_dtype<DType::F32>(w, x, y, n, pool);
    case DType::F16: return matmul_dtype<DType::F16>(w, x, y, n, pool);
    case DType::BF16: return matmul_dtype<DType::BF16>(w, x, y, n, pool);
    case DType::Q8_0: return matmul_dtype<DType::Q8_0>(w, x, y, n, pool);
    case DType::Q4_0: return matmul_dtype<DType::Q4_0>(w, x, y, n, pool);
    case DType::Q4_1: return matmul_dtype<DType::Q4_1>(w, x, y, n, pool);
    case DType::Q4_K: return matmul_dtype<DType::Q4_K>(w, x, y, n, pool);
    case DType::Q6_K: return matmul_dtype<DType::Q6_K>(w, x, y, n, pool);
    case DType::Q5_0: return matmul_dtype<DType::Q5_0>(w, x, y, n, pool);
    case DType::Q5_1: return matmul_dtype<DType::Q5_1>(w, x, y, n, pool);
    case DType::Q2_K: return matmul_dtype<DType::Q2_K>(w, x, y, n, pool);
    case DType::Q3_K: return matmul_dtype<DType::Q3_K>(w, x, y, n, pool);
    case DType::Q5_K: return matmul_dtype<DType::Q5_K>(w, x, y, n, pool);
    case DType::IQ4_NL: return matmul_dtype<DType::IQ4_NL>(w, x, y, n, pool);
    case DType::IQ4_XS: return matmul_dtype<DType::IQ4_XS>(w, x, y, n, pool);
    default: return ref::matmul(w, x, y, n, pool);  // I32 and any future type
  }
}

}  // namespace tc::cpu

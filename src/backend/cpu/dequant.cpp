// Fast dequantisation of a run of blocks to f32 (the SIMD twin of tc::dequantize_row, same
// per-element expression): used by embedding_row and by the prefill matmul's weight panels.
#include <cstring>

#include "backend/cpu/ops.h"
#include "backend/cpu/quant_blocks.h"
#include "util/error.h"

namespace tc::cpu {

namespace {

using namespace simd;

template <DType D>
void dequantize_blocks(const uint8_t* src, float* dst, int64_t n) {
  using Dec = BlockDecoder<D>;
  const int64_t nb = n / Dec::kElems;
  for (int64_t b = 0; b < nb; ++b, src += Dec::kBytes, dst += Dec::kElems)
    decode_block<D>(src, [dst](int j, VF w) { store(dst + j, w); });
}

template <VF (*Load)(const uint16_t*), VF (*LoadPartial)(const uint16_t*, int)>
void convert_halves(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + kW <= n; i += kW) store(dst + i, Load(src + i));
  if (i < n) store_partial(dst + i, LoadPartial(src + i, int(n - i)), int(n - i));
}

}  // namespace

void dequantize_row(DType t, const void* src_v, float* dst, int64_t n) {
  const uint8_t* src = static_cast<const uint8_t*>(src_v);
  const DTypeInfo& info = dtype_info(t);
  if (n % info.block_elems != 0)
    TC_THROW("dequantize_row: %lld is not a multiple of the %s block", (long long)n, info.name);
  switch (t) {
    case DType::F32: std::memcpy(dst, src, size_t(n) * 4); return;
    case DType::F16: convert_halves<load_f16, load_f16_partial>(reinterpret_cast<const uint16_t*>(src), dst, n); return;
    case DType::BF16: convert_halves<load_bf16, load_bf16_partial>(reinterpret_cast<const uint16_t*>(src), dst, n); return;
    case DType::Q8_0: dequantize_blocks<DType::Q8_0>(src, dst, n); return;
    case DType::Q4_0: dequantize_blocks<DType::Q4_0>(src, dst, n); return;
    case DType::Q4_1: dequantize_blocks<DType::Q4_1>(src, dst, n); return;
    case DType::Q4_K: dequantize_blocks<DType::Q4_K>(src, dst, n); return;
    case DType::Q6_K: dequantize_blocks<DType::Q6_K>(src, dst, n); return;
    case DType::Q5_0: dequantize_blocks<DType::Q5_0>(src, dst, n); return;
    case DType::Q5_1: dequantize_blocks<DType::Q5_1>(src, dst, n); return;
    case DType::Q2_K: dequantize_blocks<DType::Q2_K>(src, dst, n); return;
    case DType::Q3_K: dequantize_blocks<DType::Q3_K>(src, dst, n); return;
    case DType::Q5_K: dequantize_blocks<DType::Q5_K>(src, dst, n); return;
    case DType::IQ4_NL: dequantize_blocks<DType::IQ4_NL>(src, dst, n); return;
    case DType::IQ4_XS: dequantize_blocks<DType::IQ4_XS>(src, dst, n); return;
    default: tc::dequantize_row(t, src, dst, n); return;  // I32 and future types: the reference
  }
}

}  // namespace tc::cpu

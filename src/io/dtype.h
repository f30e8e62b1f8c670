// Element types of weight tensors and their block layouts (GGML-compatible for the
// quantised ones). A row of `n` elements of a block type takes n / block_elems blocks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tc {

enum class DType : uint8_t {
  F32,
  F16,
  BF16,
  Q8_0,  // 32 elems: f16 scale d, int8 q[32]; x = d*q
  Q4_0,  // 32 elems: f16 d, 16 bytes of nibbles; x = d*(q-8)
  Q4_1,  // 32 elems: f16 d, f16 m, 16 bytes of nibbles; x = d*q + m
  Q4_K,  // 256 elems: super-block with 8 sub-blocks of 32, 6-bit scales and mins
  Q6_K,  // 256 elems: 6-bit quants, 16 sub-blocks with int8 scales
  Q5_0,  // 32 elems: f16 d, u32 of 5th bits, 16 bytes of nibbles; x = d*(q-16)
  Q5_1,  // 32 elems: f16 d, f16 m, u32 of 5th bits, 16 bytes of nibbles; x = d*q + m
  Q2_K,  // 256 elems: 16 sub-blocks of 16 with 4-bit scale and min; x = (d*sc)*q - dmin*m, q 2-bit
  Q3_K,  // 256 elems: 16 sub-blocks of 16 with 6-bit scales; x = (d*(sc-32))*q, q 3-bit signed
  Q5_K,  // 256 elems: as Q4_K with a 5th bit per quant
  IQ4_NL,  // 32 elems: f16 d, 16 bytes of nibbles indexing a fixed non-linear table; x = d*kv[q]
  IQ4_XS,  // 256 elems: IQ4_NL's table, 8 sub-blocks of 32 with 6-bit scales; x = (d*(ls-32))*kv[q]
  I32,
  Count
};

struct DTypeInfo {
  const char* name;
  int block_elems;   // elements per block (1 for plain types)
  int block_bytes;   // bytes per block
  bool quantized;
};

const DTypeInfo& dtype_info(DType t);
inline const char* dtype_name(DType t) { return dtype_info(t).name; }
// Bytes of a row of n elements; throws if n is not a multiple of the block size.
size_t dtype_row_bytes(DType t, int64_t n);
// Parses "f32", "F16", "bf16", "q8_0", ... (case-insensitive); throws naming the text.
DType dtype_from_name(const std::string& name);

}  // namespace tc

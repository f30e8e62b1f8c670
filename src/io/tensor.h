// A read-only view of a weight tensor living in a mapped file.
// Shape is row-major, outermost first: a linear layer's weight is [out_features,
// in_features] whether it came from safetensors or GGUF (GGUF lists dims innermost first;
// the reader reverses them).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/dtype.h"

namespace tc {

struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;  // outermost first
  const void* data = nullptr;
  size_t nbytes = 0;

  int64_t numel() const {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
  int64_t rows() const { return shape.empty() ? 1 : numel() / shape.back(); }
  int64_t cols() const { return shape.empty() ? 1 : shape.back(); }
  size_t row_bytes() const { return dtype_row_bytes(dtype, cols()); }
  const uint8_t* row(int64_t r) const { return static_cast<const uint8_t*>(data) + size_t(r) * row_bytes(); }
  std::string shape_str() const;
};

// Dequantises/converts `n` consecutive elements starting at the beginning of `src` (which
// must be at a block boundary) into f32. Reference (scalar) implementation.
void dequantize_row(DType t, const void* src, float* dst, int64_t n);

}  // namespace tc

// Writes and reads NumPy .npy files (float32 / int32, C order), for the parity tools.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tc {

void npy_write_f32(const std::string& path, const float* data, const std::vector<int64_t>& shape);
void npy_write_i32(const std::string& path, const int32_t* data, const std::vector<int64_t>& shape);

struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<float> data;  // converted to float32
};
// Reads a little-endian '<f4', '<f8', '<i4' or '<i8' C-order array.
NpyArray npy_read(const std::string& path);

}  // namespace tc

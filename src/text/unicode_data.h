// The generated Unicode tables (src/text/unicode_data.cpp, from tools/gen_unicode_tables.py).
// Use the functions in text/unicode.h rather than these arrays.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tc::unicode_data {

struct CombiningClass {
  uint32_t cp;
  uint32_t ccc;
};
struct Decomposition {
  uint32_t cp;
  uint32_t first;
  uint32_t second;  // 0 for a singleton decomposition
};
struct Composition {
  uint32_t first;
  uint32_t second;
  uint32_t composite;
};

extern const uint16_t kCategoryStage1[0x110000 / 256];  // [cp >> 8] -> block
extern const uint8_t kCategoryStage2[];                 // [block][cp & 255] -> UnicodeCategory
extern const CombiningClass kCombiningClasses[];
extern const size_t kCombiningClassCount;
extern const Decomposition kDecompositions[];
extern const size_t kDecompositionCount;
extern const Composition kCompositions[];
extern const size_t kCompositionCount;

}  // namespace tc::unicode_data

#include "io/dtype.h"

#include <algorithm>
#include <cctype>

#include "util/error.h"

namespace tc {

namespace {
const DTypeInfo kInfos[] = {
    {"F32", 1, 4, false},        {"F16", 1, 2, false},   {"BF16", 1, 2, false},
    {"Q8_0", 32, 34, true},      {"Q4_0", 32, 18, true}, {"Q4_1", 32, 20, true},
    {"Q4_K", 256, 144, true},    {"Q6_K", 256, 210, true}, {"Q5_0", 32, 22, true},
    {"Q5_1", 32, 24, true},      {"Q2_K", 256, 84, true},  {"Q3_K", 256, 110, true},
    {"Q5_K", 256, 176, true},    {"IQ4_NL", 32, 18, true}, {"IQ4_XS", 256, 136, true},
    {"I32", 1, 4, false},
};
static_assert(sizeof(kInfos) / sizeof(kInfos[0]) == size_t(DType::Count));
}  // namespace

const DTypeInfo& dtype_info(DType t) {
  TC_ASSERT(t < DType::Count);
  return kInfos[size_t(t)];
}

size_t dtype_row_bytes(DType t, int64_t n) {
  const DTypeInfo& info = dtype_info(t);
  if (n % info.block_elems != 0)
    TC_THROW("a row of %lld elements is not a multiple of the %s block size %d", (long long)n, info.name, info.block_elems);
  return size_t(n / info.block_elems) * size_t(info.block_bytes);
}

DType dtype_from_name(const std::string& name) {
  std::string up = name;
  std::transform(up.begin(), up.end(), up.begin(), [](unsigned char c) { return std::toupper(c); });
  for (size_t i = 0; i < size_t(DType::Count); ++i)
    if (up == kInfos[i].name) return DType(i);
  TC_THROW("unknown tensor type \"%s\"", name.c_str());
}

}  // namespace tc

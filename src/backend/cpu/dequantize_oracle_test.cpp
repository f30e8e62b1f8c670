// Dequantisation against the gguf package's values (the independent oracle for the block
// formats). The data comes from tests/py/test_dequantize.py, which writes a manifest, raw
// blocks (or names rows of a real GGUF) and gguf.quants.dequantize's output, then runs this
// test with TC_DEQUANT_ORACLE_DIR pointing at them. Run directly (no variable) it has nothing
// to compare and says so; the Python test checks that it reported every case.
//
// Tolerance: gguf-py computes d*q + m with two roundings; GCC contracts our d*q + m into one
// FMA, which can differ by half an ulp of d*q. So |ours - gguf| <= 2^-23 * max|row| (any
// layout or scale error is orders of magnitude larger).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "backend/cpu/ops.h"
#include "io/gguf.h"
#include "util/json.h"
#include "util/mapped_file.h"
#include "util/npy.h"
#include "util/testing.h"

using namespace tc;

namespace {

std::vector<uint8_t> read_bytes(const std::string& path) {
  MappedFile f(path);
  const uint8_t* p = f.data();
  return std::vector<uint8_t>(p, p + f.size());
}

}  // namespace

TC_TEST(cpu_dequantize_matches_gguf_oracle) {
  const char* env = std::getenv("TC_DEQUANT_ORACLE_DIR");
  if (!env || !*env) {
    std::printf("  (TC_DEQUANT_ORACLE_DIR not set: tests/py/test_dequantize.py runs this test with data)\n");
    return;
  }
  const std::string dir = env;
  const Json manifest = Json::parse_file(dir + "/manifest.json");
  int n_cases = 0;
  int64_t n_values = 0;
  for (const Json& c : manifest.at("cases").as_array()) {
    const std::string name = c.at("name").as_string();
    const DType dt = dtype_from_name(c.at("dtype").as_string());
    const int64_t rows = c.at("rows").as_int(), cols = c.at("cols").as_int();
    const size_t row_bytes = dtype_row_bytes(dt, cols);
    std::vector<uint8_t> raw;
    if (c.contains("gguf")) {  // rows of a real file, read through our GGUF reader
      GgufFile file(c.at("gguf").as_string());
      TensorView t = file.tensor(c.at("tensor").as_string());
      TC_REQUIRE(t.dtype == dt && t.cols() == cols);
      const int64_t begin = c.at("row_begin").as_int();
      TC_REQUIRE(begin + rows <= t.rows());
      raw.assign(t.row(begin), t.row(begin) + rows * row_bytes);
    } else {
      raw = read_bytes(dir + "/" + c.at("raw").as_string());
    }
    TC_REQUIRE(raw.size() == size_t(rows) * row_bytes);
    const NpyArray expected = npy_read(dir + "/" + c.at("expected").as_string());
    TC_REQUIRE(expected.shape.size() == 2 && expected.shape[0] == rows && expected.shape[1] == cols);

    std::vector<float> ref(cols), fast(cols);
    int bad = 0;
    for (int64_t r = 0; r < rows; ++r) {
      const float* want = expected.data.data() + r * cols;
      dequantize_row(dt, raw.data() + r * row_bytes, ref.data(), cols);
      cpu::dequantize_row(dt, raw.data() + r * row_bytes, fast.data(), cols);
      double row_max = 0;
      for (int64_t i = 0; i < cols; ++i) row_max = std::max(row_max, std::fabs(double(want[i])));
      const double tol = row_max * std::ldexp(1.0, -23);
      for (int64_t i = 0; i < cols && bad < 5; ++i) {
        if (!(std::fabs(double(ref[i]) - want[i]) <= tol) || !(std::fabs(double(fast[i]) - want[i]) <= tol)) {
          ++bad;
          std::fprintf(stderr, "    %s row %lld col %lld: gguf %.9g, reference %.9g, simd %.9g\n", name.c_str(),
                       (long long)r, (long long)i, want[i], ref[i], fast[i]);
          TC_EXPECT(false);
        }
      }
      n_values += cols;
    }
    ++n_cases;
  }
  std::printf("  dequantize oracle: compared %d cases, %lld values\n", n_cases, (long long)n_values);
}

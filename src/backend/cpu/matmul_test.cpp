// matmul and dequantize_row (fast) against the reference: tc::dequantize_row of each weight
// row, then a dot product in double (ref::matmul). Weights are random valid blocks of every
// dtype; shapes have rows that are not multiples of the row group (4) or the thread count
// (3), plain-type widths that are not multiples of the vector width, and token counts on
// both sides of the fused/panel switch.
#include <cmath>
#include <cstring>
#include <iterator>
#include <string>
#include <vector>

#include "backend/cpu/kernel_test_util.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/ops_ref.h"
#include "util/error.h"
#include "util/testing.h"

using namespace tc;
using namespace tc::cpu::testing_util;

namespace {

const DType kAllWeightTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q8_0,   DType::Q5_0,
                                 DType::Q5_1, DType::Q4_0, DType::Q4_1, DType::IQ4_NL, DType::Q2_K,
                                 DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K,   DType::IQ4_XS};
static_assert(std::size(kAllWeightTypes) == size_t(DType::Count) - 1, "every weight dtype (all but I32)");

// Widths to try for a dtype: block multiples for quantised types, odd ones for plain types.
std::vector<int64_t> widths_for(DType t) {
  switch (t) {
    case DType::F32: case DType::F16: case DType::BF16: return {1, 13, 64, 577};
    default:  // one block, an odd number of blocks (vector tails in the row loop), a longer row
      return dtype_info(t).block_elems == 256 ? std::vector<int64_t>{256, 768} : std::vector<int64_t>{32, 96, 576};
  }
}

// Checks y against the double-precision reference. Tolerance per output: f32 accumulation
// of K products, bounded by 1e-5 * sum_i |w_i x_i| (the f32 dot's error is about
// (K / lanes + log2 lanes) * 2^-24 times that sum, well under 1e-5 for K <= 8192).
void expect_matmul_close(const TensorView& w, const std::vector<float>& x, int n, const std::vector<float>& y,
                         const char* what) {
  const int64_t out = w.rows(), K = w.cols();
  std::vector<float> y_ref(size_t(n) * out), row(K);
  ThreadPool one(1);
  cpu::ref::matmul(w, x.data(), y_ref.data(), n, one);
  int bad = 0;
  for (int64_t o = 0; o < out && bad < 3; ++o) {
    dequantize_row(w.dtype, w.row(o), row.data(), K);
    for (int t = 0; t < n && bad < 3; ++t) {
      double mag = 0;
      for (int64_t i = 0; i < K; ++i) mag += std::fabs(double(row[i]) * x[size_t(t) * K + i]);
      const double got = y[size_t(t) * out + o], want = y_ref[size_t(t) * out + o];
      if (!(std::fabs(got - want) <= 1e-5 * mag + 1e-30)) {
        ++bad;
        TC_EXPECT_NEAR(got, want, 1e-5 * mag);
        std::fprintf(stderr, "    (%s %s [%lld x %lld] n=%d: row %lld token %d)\n", what, dtype_name(w.dtype),
                     (long long)out, (long long)K, n, (long long)o, t);
      }
    }
  }
}

}  // namespace

TC_TEST(cpu_dequantize_row_matches_reference) {
  // Same operation order as tc::dequantize_row (and gguf-py), so identical bits: we allow no
  // difference beyond one ulp, which only an FMA-contracting compiler could introduce.
  Rng rng(11);
  for (DType t : kAllWeightTypes) {
    for (int64_t cols : widths_for(t)) {
      auto bytes = random_weights(t, 3, cols, rng);
      TensorView w = view_of(t, 3, cols, bytes);
      std::vector<float> want(3 * cols), got(3 * cols + 1, 12345.0f);  // sentinel past the end
      for (int r = 0; r < 3; ++r) {
        dequantize_row(t, w.row(r), want.data() + r * cols, cols);
        cpu::dequantize_row(t, w.row(r), got.data() + r * cols, cols);
      }
      TC_EXPECT(worst_error(got.data(), want.data(), want.size(), 1e-30, 1.2e-7) <= 1.0);
      TC_EXPECT_EQ(got[3 * cols], 12345.0f);
    }
  }
  std::vector<float> out(40);
  std::vector<uint8_t> blk(34 * 2);
  TC_EXPECT_THROWS(cpu::dequantize_row(DType::Q8_0, blk.data(), out.data(), 40), "not a multiple");
}

TC_TEST(cpu_matmul_matches_dequantize_dot_reference) {
  Rng rng(7);
  ThreadPool one(1), three(3);
  const int token_counts[] = {1, 2, 3, 4, 5, 7, 8, 9, 17, 64};  // fused up to 8, panel from 9
  const int64_t row_counts[] = {1, 7, 37, 130};
  for (DType t : kAllWeightTypes) {
    for (int64_t K : widths_for(t)) {
      for (int64_t rows : row_counts) {
        auto bytes = random_weights(t, rows, K, rng);
        TensorView w = view_of(t, rows, K, bytes);
        for (int n : token_counts) {
          if (rows * K * n > 600000) continue;  // keep the double reference quick
          auto x = random_floats(size_t(n) * K, rng);
          for (ThreadPool* pool : {&one, &three}) {
            std::vector<float> y(size_t(n) * rows + 1, NAN);
            y[size_t(n) * rows] = 777.0f;  // must stay untouched
            cpu::matmul(w, x.data(), y.data(), n, *pool);
            TC_EXPECT_EQ(y[size_t(n) * rows], 777.0f);
            y.pop_back();
            expect_matmul_close(w, x, n, y, pool == &one ? "1 thread" : "3 threads");
          }
        }
      }
    }
  }
}

TC_TEST(cpu_matmul_prefill_uses_every_token_independently) {
  // Token t of a batched call equals the single-token (decode) result for x[t]: the panel
  // path and the fused path agree to f32 rounding, for a shape with several panels.
  Rng rng(3);
  ThreadPool two(2);
  const int64_t rows = 300, K = 512;
  auto bytes = random_weights(DType::Q4_1, rows, K, rng);
  TensorView w = view_of(DType::Q4_1, rows, K, bytes);
  const int n = 40;
  auto x = random_floats(size_t(n) * K, rng);
  std::vector<float> y(size_t(n) * rows), y1(rows);
  cpu::matmul(w, x.data(), y.data(), n, two);
  for (int t = 0; t < n; t += 13) {
    cpu::matmul(w, x.data() + size_t(t) * K, y1.data(), 1, two);
    TC_EXPECT(worst_error(y.data() + size_t(t) * rows, y1.data(), rows, 1e-4, 1e-5) <= 1.0);
  }
}

TC_TEST(cpu_embedding_row_matches_reference_and_rejects_bad_ids) {
  Rng rng(5);
  for (DType t : kAllWeightTypes) {
    const int64_t cols = widths_for(t).back();
    auto bytes = random_weights(t, 9, cols, rng);
    TensorView table = view_of(t, 9, cols, bytes);
    std::vector<float> got(cols), want(cols);
    for (int64_t r : {0, 4, 8}) {
      cpu::embedding_row(table, r, got.data());
      cpu::ref::embedding_row(table, r, want.data());
      TC_EXPECT(worst_error(got.data(), want.data(), cols, 1e-30, 1.2e-7) <= 1.0);
    }
    TC_EXPECT_THROWS(cpu::embedding_row(table, 9, got.data()), "outside the vocabulary");
    TC_EXPECT_THROWS(cpu::embedding_row(table, -1, got.data()), "outside the vocabulary");
  }
}

TC_TEST(cpu_kernels_run_the_vector_path_this_binary_was_built_for) {
  // thinkcache_tests runs the widest path the host compiler targets; the
  // thinkcache_kernel_tests_<variant> binaries the narrower ones (see CMakeLists.txt).
  const std::string isa = cpu::cpu_isa_name();
  std::printf("  kernel vector path: %s\n", isa.c_str());
#if defined(TC_KERNEL_VARIANT)
  if (std::string(TC_KERNEL_VARIANT) == "scalar") TC_EXPECT_EQ(isa, std::string("scalar"));
  else TC_EXPECT(isa != "avx512");
#endif
}

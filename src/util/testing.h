// A minimal test framework: TC_TEST(suite_name) registers a test; TC_EXPECT* record
// failures and continue; TC_REQUIRE* stop the test. `thinkcache_tests [filter]` runs the
// tests whose name contains the filter and ends with "N passed, N failed[, N skipped]".
// Tests that need an asset (a real model, a tokenizer) call TC_SKIP when it is absent;
// CI installs every asset, and TC_REQUIRE_ASSETS=1 turns those skips into failures.
#pragma once

#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

namespace tc::testing {

struct TestCase {
  std::string name;
  std::function<void()> fn;
};

std::vector<TestCase>& registry();

struct Registrar {
  Registrar(const char* name, std::function<void()> fn) { registry().push_back({name, std::move(fn)}); }
};

struct SkipTest {
  std::string reason;
};

void record_failure(const char* file, int line, const std::string& message);

// Prints a value for a failure message: streamable values as they are, enums as numbers.
template <typename T>
std::string show(const T& v) {
  std::ostringstream os;
  if constexpr (requires { os << v; }) {
    os << v;
  } else if constexpr (std::is_enum_v<T>) {
    os << static_cast<long long>(v);
  } else {
    os << "<value>";
  }
  return os.str();
}
int current_failures();

// Root of the source tree (for test data) and of fetched assets ($TC_ASSETS or <src>/assets).
std::string source_dir();
std::string assets_dir();
// Returns the path of an asset relative to assets_dir(), or skips the test if it is missing.
std::string require_asset(const std::string& relative);
// A fresh temporary directory for this test.
std::string temp_dir();

}  // namespace tc::testing

#define TC_TEST_CAT2(a, b) a##b
#define TC_TEST_CAT(a, b) TC_TEST_CAT2(a, b)
#define TC_TEST(name)                                                                      \
  static void TC_TEST_CAT(tc_test_fn_, name)();                                            \
  static ::tc::testing::Registrar TC_TEST_CAT(tc_test_reg_, name)(#name, TC_TEST_CAT(tc_test_fn_, name)); \
  static void TC_TEST_CAT(tc_test_fn_, name)()

#define TC_EXPECT(cond)                                                                    \
  do {                                                                                     \
    if (!(cond)) ::tc::testing::record_failure(__FILE__, __LINE__, "expected: " #cond);    \
  } while (0)

#define TC_REQUIRE(cond)                                                                   \
  do {                                                                                     \
    if (!(cond)) {                                                                         \
      ::tc::testing::record_failure(__FILE__, __LINE__, "required: " #cond);               \
      return;                                                                              \
    }                                                                                      \
  } while (0)

#define TC_EXPECT_EQ(a, b)                                                                 \
  do {                                                                                     \
    auto&& tc_a_ = (a);                                                                    \
    auto&& tc_b_ = (b);                                                                    \
    if (!(tc_a_ == tc_b_)) {                                                               \
      std::ostringstream tc_os_;                                                           \
      tc_os_ << "expected " #a " == " #b ", got " << ::tc::testing::show(tc_a_) << " vs " << ::tc::testing::show(tc_b_);             \
      ::tc::testing::record_failure(__FILE__, __LINE__, tc_os_.str());                     \
    }                                                                                      \
  } while (0)

#define TC_EXPECT_NEAR(a, b, tol)                                                          \
  do {                                                                                     \
    double tc_a_ = double(a), tc_b_ = double(b), tc_t_ = double(tol);                      \
    if (!(std::fabs(tc_a_ - tc_b_) <= tc_t_)) {                                            \
      std::ostringstream tc_os_;                                                           \
      tc_os_.precision(9);                                                                 \
      tc_os_ << "expected |" #a " - " #b "| <= " << tc_t_ << ", got " << tc_a_ << " vs " << tc_b_; \
      ::tc::testing::record_failure(__FILE__, __LINE__, tc_os_.str());                     \
    }                                                                                      \
  } while (0)

// Expects `stmt` to throw tc::Error whose message contains `substr`.
#define TC_EXPECT_THROWS(stmt, substr)                                                     \
  do {                                                                                     \
    bool tc_threw_ = false;                                                                \
    try {                                                                                  \
      stmt;                                                                                \
    } catch (const ::tc::Error& tc_e_) {                                                   \
      tc_threw_ = true;                                                                    \
      if (std::string(tc_e_.what()).find(substr) == std::string::npos)                     \
        ::tc::testing::record_failure(__FILE__, __LINE__,                                  \
                                      std::string("error message \"") + tc_e_.what() +     \
                                          "\" does not contain \"" + (substr) + "\"");     \
    }                                                                                      \
    if (!tc_threw_) ::tc::testing::record_failure(__FILE__, __LINE__, "expected " #stmt " to throw tc::Error"); \
  } while (0)

#define TC_SKIP(reason) throw ::tc::testing::SkipTest{reason}

// Runner for every TC_TEST linked into thinkcache_tests.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "util/error.h"
#include "util/testing.h"

namespace tc::testing {

namespace {
int g_failures = 0;
int g_failures_in_test = 0;
std::string g_current;
int g_temp_counter = 0;
}  // namespace

std::vector<TestCase>& registry() {
  static std::vector<TestCase> tests;
  return tests;
}

void record_failure(const char* file, int line, const std::string& message) {
  ++g_failures;
  if (++g_failures_in_test <= 10) std::fprintf(stderr, "  FAIL %s:%d: %s\n", file, line, message.c_str());
  if (g_failures_in_test == 10) std::fprintf(stderr, "  (further failures of this test not shown)\n");
}

int current_failures() { return g_failures; }

std::string source_dir() {
#ifdef TC_SOURCE_DIR
  return TC_SOURCE_DIR;
#else
  return ".";
#endif
}

std::string assets_dir() {
  const char* env = std::getenv("TC_ASSETS");
  if (env && *env) return env;
  return source_dir() + "/assets";
}

std::string require_asset(const std::string& relative) {
  std::string path = assets_dir() + "/" + relative;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw SkipTest{"asset missing: " + path + " (run scripts/setup.sh)"};
  return path;
}

std::string temp_dir() {
  std::string base = "/tmp/thinkcache_tests_" + std::to_string(::getpid());
  ::mkdir(base.c_str(), 0755);
  std::string dir = base + "/" + g_current + "_" + std::to_string(g_temp_counter++);
  ::mkdir(dir.c_str(), 0755);
  return dir;
}

}  // namespace tc::testing

int main(int argc, char** argv) {
  using namespace tc::testing;
  const char* filter = argc > 1 ? argv[1] : "";
  bool list = filter && std::strcmp(filter, "--list") == 0;
  bool require_assets = std::getenv("TC_REQUIRE_ASSETS") && std::strcmp(std::getenv("TC_REQUIRE_ASSETS"), "1") == 0;
  int passed = 0, failed = 0, skipped = 0;
  for (auto& t : registry()) {
    if (list) {
      std::printf("%s\n", t.name.c_str());
      continue;
    }
    if (*filter && t.name.find(filter) == std::string::npos) continue;
    g_current = t.name;
    g_failures_in_test = 0;
    int before = current_failures();
    auto start = std::chrono::steady_clock::now();
    bool skip = false;
    std::string skip_reason;
    try {
      t.fn();
    } catch (const SkipTest& s) {
      skip = true;
      skip_reason = s.reason;
    } catch (const std::exception& e) {
      record_failure(t.name.c_str(), 0, std::string("uncaught exception: ") + e.what());
    }
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (skip && require_assets) {
      record_failure(t.name.c_str(), 0, "skipped while TC_REQUIRE_ASSETS=1: " + skip_reason);
      skip = false;
    }
    if (skip) {
      ++skipped;
      std::printf("[ SKIP ] %s (%s)\n", t.name.c_str(), skip_reason.c_str());
    } else if (current_failures() == before) {
      ++passed;
      std::printf("[  OK  ] %s (%.0f ms)\n", t.name.c_str(), ms);
    } else {
      ++failed;
      std::printf("[ FAIL ] %s (%.0f ms)\n", t.name.c_str(), ms);
    }
    std::fflush(stdout);
  }
  if (list) return 0;
  std::printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
  return failed == 0 ? 0 : 1;
}

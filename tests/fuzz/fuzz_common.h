// Shared by the libFuzzer targets: the readers take paths (they memory-map), so each input is
// written to a per-process scratch file first. Any tc::Error is an accepted outcome; a crash,
// a sanitizer report, a hang or any other exception is a bug.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

inline std::string fuzz_scratch_path(const char* name) {
  return "/tmp/thinkcache-fuzz-" + std::to_string(getpid()) + "-" + name;
}

inline void fuzz_write_file(const std::string& path, const uint8_t* data, size_t size) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) __builtin_trap();
  if (size) std::fwrite(data, 1, size, f);
  std::fclose(f);
}

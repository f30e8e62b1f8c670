// GGUF reader tests on files written byte by byte here, so each corruption is exact.
#include "io/gguf.h"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "util/error.h"
#include "util/half.h"
#include "util/testing.h"

using namespace tc;

namespace {
struct Bytes {
  std::string b;
  template <typename T>
  void put(T v) { b.append(reinterpret_cast<const char*>(&v), sizeof(T)); }
  void str(const std::string& s) { put<uint64_t>(s.size()); b += s; }
};

// A v3 file with two metadata keys and one 2x32 Q8_0 tensor plus one F32 vector.
std::string make_gguf(uint32_t version = 3) {
  Bytes f;
  f.put<uint32_t>(0x46554747);
  f.put<uint32_t>(version);
  f.put<uint64_t>(2);  // tensors
  f.put<uint64_t>(3);  // kv
  f.str("general.architecture");
  f.put<uint32_t>(8);
  f.str("llama");
  f.str("llama.block_count");
  f.put<uint32_t>(4);
  f.put<uint32_t>(30);
  f.str("tokenizer.ggml.tokens");
  f.put<uint32_t>(9);
  f.put<uint32_t>(8);
  f.put<uint64_t>(2);
  f.str("a");
  f.str("bc");
  // tensor infos
  f.str("w");
  f.put<uint32_t>(2);
  f.put<uint64_t>(32);  // ne0 (columns)
  f.put<uint64_t>(2);   // ne1 (rows)
  f.put<uint32_t>(8);   // Q8_0
  f.put<uint64_t>(0);
  f.str("b");
  f.put<uint32_t>(1);
  f.put<uint64_t>(4);
  f.put<uint32_t>(0);  // F32
  f.put<uint64_t>(96);  // after 68 bytes of w, aligned to 32
  while (f.b.size() % 32) f.b += '\0';
  for (int r = 0; r < 2; ++r) {
    f.put<uint16_t>(f32_to_f16(0.5f * (r + 1)));
    for (int j = 0; j < 32; ++j) f.put<int8_t>(int8_t(j - 16));
  }
  while (f.b.size() % 32) f.b += '\0';
  for (int i = 0; i < 4; ++i) f.put<float>(float(i) + 0.25f);
  return f.b;
}

std::string write_temp(const std::string& bytes) {
  std::string path = tc::testing::temp_dir() + "/m.gguf";
  FILE* fp = std::fopen(path.c_str(), "wb");
  std::fwrite(bytes.data(), 1, bytes.size(), fp);
  std::fclose(fp);
  return path;
}
}  // namespace

TC_TEST(gguf_reads_metadata_and_tensors) {
  GgufFile g(write_temp(make_gguf()));
  TC_EXPECT_EQ(g.version(), 3u);
  TC_EXPECT_EQ(g.get_string("general.architecture"), std::string("llama"));
  TC_EXPECT_EQ(g.get_int("llama.block_count"), 30);
  TC_EXPECT_EQ(g.get_string_array("tokenizer.ggml.tokens").size(), size_t(2));
  TensorView w = g.tensor("w");
  TC_EXPECT_EQ(w.dtype, DType::Q8_0);
  TC_EXPECT_EQ(w.rows(), 2);
  TC_EXPECT_EQ(w.cols(), 32);
  std::vector<float> row(32);
  dequantize_row(w.dtype, w.row(1), row.data(), 32);
  TC_EXPECT_NEAR(row[0], -16.0, 1e-6);
  TC_EXPECT_NEAR(row[31], 15.0, 1e-6);
  TensorView b = g.tensor("b");
  TC_EXPECT_NEAR(static_cast<const float*>(b.data)[3], 3.25, 0);
  TC_EXPECT_THROWS(g.tensor("nope"), "missing tensor nope");
  TC_EXPECT_THROWS(g.get_int("general.architecture"), "not an integer");
}

TC_TEST(gguf_rejects_corrupt_files_with_a_reason) {
  std::string good = make_gguf();
  std::string bad_magic = good;
  bad_magic[0] = 'X';
  TC_EXPECT_THROWS(GgufFile(write_temp(bad_magic)), "wrong magic");
  std::string bad_version = good;
  bad_version[4] = 1;
  TC_EXPECT_THROWS(GgufFile(write_temp(bad_version)), "unsupported GGUF version 1");
  // Every truncation point gives a clean error.
  for (size_t cut = 0; cut < good.size(); cut += 7) {
    bool threw = false;
    try {
      GgufFile g(write_temp(good.substr(0, cut)));
    } catch (const Error& e) {
      threw = true;
    }
    TC_EXPECT(threw);
  }
}

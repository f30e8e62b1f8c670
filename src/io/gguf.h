// GGUF v2/v3 reader over a memory map: metadata key/values, tensor infos, and tensor
// data views. Every length, count and offset is checked against the file size, so a
// truncated or corrupt file produces an error naming what is wrong, never a crash.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/tensor.h"
#include "util/mapped_file.h"

namespace tc {

enum class GgufType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};

struct GgufValue {
  GgufType type = GgufType::U8;
  GgufType array_type = GgufType::U8;  // element type when type == ARRAY
  int64_t i = 0;                       // integer and bool scalars (U64 stored bitwise)
  double f = 0;                        // float scalars
  std::string s;                       // string scalar
  std::vector<std::string> strings;    // array of strings
  std::vector<int64_t> ints;           // array of integers / bools
  std::vector<double> floats;          // array of floats

  bool is_array() const { return type == GgufType::ARRAY; }
  size_t array_size() const { return strings.size() + ints.size() + floats.size(); }
  std::string to_string(size_t max_items = 8) const;  // for `inspect`
};

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> shape;  // outermost first (reversed from the file's order)
  uint32_t ggml_type = 0;
  std::optional<DType> dtype;  // empty when the type is not supported by thinkcache
  uint64_t offset = 0;         // relative to the data section
  size_t nbytes = 0;
};

class GgufFile {
 public:
  explicit GgufFile(const std::string& path);  // throws tc::Error naming path and cause

  const std::string& path() const { return file_.path(); }
  uint32_t version() const { return version_; }
  size_t alignment() const { return alignment_; }

  const std::map<std::string, GgufValue>& metadata() const { return metadata_; }
  const GgufValue* find(const std::string& key) const;
  bool has(const std::string& key) const { return find(key) != nullptr; }
  // Typed getters: throw naming the key when absent (without default) or of the wrong type.
  std::string get_string(const std::string& key) const;
  std::string get_string(const std::string& key, const std::string& def) const;
  int64_t get_int(const std::string& key) const;
  int64_t get_int(const std::string& key, int64_t def) const;
  double get_float(const std::string& key) const;
  double get_float(const std::string& key, double def) const;
  bool get_bool(const std::string& key, bool def) const;
  const std::vector<std::string>& get_string_array(const std::string& key) const;
  const std::vector<int64_t>& get_int_array(const std::string& key) const;
  const std::vector<double>& get_float_array(const std::string& key) const;

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(const std::string& name) const;
  // A view of the tensor's data; throws if missing or of an unsupported type.
  TensorView tensor(const std::string& name) const;

  static const char* ggml_type_name(uint32_t ggml_type);

 private:
  MappedFile file_;
  uint32_t version_ = 0;
  size_t alignment_ = 32;
  size_t data_offset_ = 0;
  std::map<std::string, GgufValue> metadata_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

// True when the file starts with the GGUF magic.
bool is_gguf_file(const std::string& path);

}  // namespace tc

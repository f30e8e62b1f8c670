// safetensors reader (single file or sharded with model.safetensors.index.json) over
// memory maps. Header JSON, dtypes and offsets are validated against the file size.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/tensor.h"
#include "util/json.h"
#include "util/mapped_file.h"

namespace tc {

class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);

  const std::string& path() const { return file_.path(); }
  std::vector<std::string> names() const;
  bool has(const std::string& name) const { return entries_.count(name) != 0; }
  TensorView tensor(const std::string& name) const;  // throws if missing or unsupported dtype
  const Json& metadata() const { return metadata_; }

 private:
  struct Entry {
    std::string dtype_name;
    std::optional<DType> dtype;
    std::vector<int64_t> shape;
    size_t begin = 0, end = 0;
  };
  MappedFile file_;
  size_t data_offset_ = 0;
  std::map<std::string, Entry> entries_;
  Json metadata_;
};

// All tensors of an HF model folder: model.safetensors, or the shards listed in
// model.safetensors.index.json.
class SafetensorsModel {
 public:
  explicit SafetensorsModel(const std::string& folder);
  std::vector<std::string> names() const;
  bool has(const std::string& name) const { return where_.count(name) != 0; }
  TensorView tensor(const std::string& name) const;

 private:
  std::string folder_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, size_t> where_;
};

}  // namespace tc

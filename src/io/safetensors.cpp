#include "io/safetensors.h"

#include <cstring>

#include "util/error.h"

namespace tc {

namespace {
std::optional<DType> dtype_from_safetensors(const std::string& s) {
  if (s == "F32") return DType::F32;
  if (s == "F16") return DType::F16;
  if (s == "BF16") return DType::BF16;
  if (s == "I32") return DType::I32;
  return std::nullopt;
}
size_t safetensors_elem_size(const std::string& s) {
  if (s == "F64" || s == "I64" || s == "U64") return 8;
  if (s == "F32" || s == "I32" || s == "U32") return 4;
  if (s == "F16" || s == "BF16" || s == "I16" || s == "U16") return 2;
  if (s == "I8" || s == "U8" || s == "BOOL" || s == "F8_E4M3" || s == "F8_E5M2") return 1;
  return 0;
}
}  // namespace

SafetensorsFile::SafetensorsFile(const std::string& path) : file_(path) {
  if (file_.size() < 8) TC_THROW("%s: truncated safetensors file (%zu bytes)", path.c_str(), file_.size());
  uint64_t header_len;
  std::memcpy(&header_len, file_.data(), 8);
  if (header_len > file_.size() - 8)
    TC_THROW("%s: corrupt or truncated safetensors file: header length %llu exceeds the file size %zu", path.c_str(),
             (unsigned long long)header_len, file_.size());
  std::string_view header(reinterpret_cast<const char*>(file_.data() + 8), size_t(header_len));
  Json j = Json::parse(header, path + ": safetensors header");
  if (!j.is_object()) TC_THROW("%s: safetensors header is not a JSON object", path.c_str());
  data_offset_ = 8 + size_t(header_len);
  size_t data_size = file_.size() - data_offset_;
  for (auto& [name, info] : j.as_object()) {
    if (name == "__metadata__") {
      metadata_ = info;
      continue;
    }
    if (!info.is_object()) TC_THROW("%s: tensor %s: header entry is not an object", path.c_str(), name.c_str());
    Entry e;
    try {
      e.dtype_name = info.at("dtype").as_string();
      for (auto& d : info.at("shape").as_array()) {
        int64_t v = d.as_int();
        if (v < 0) TC_THROW("negative dimension");
        e.shape.push_back(v);
      }
      const auto& off = info.at("data_offsets").as_array();
      if (off.size() != 2) TC_THROW("data_offsets must have two entries");
      int64_t b = off[0].as_int(), en = off[1].as_int();
      if (b < 0 || en < b) TC_THROW("invalid data_offsets");
      e.begin = size_t(b);
      e.end = size_t(en);
    } catch (const Error& err) {
      TC_THROW("%s: tensor %s: malformed header entry: %s", path.c_str(), name.c_str(), err.what());
    }
    size_t es = safetensors_elem_size(e.dtype_name);
    if (es == 0) TC_THROW("%s: tensor %s has unknown dtype %s", path.c_str(), name.c_str(), e.dtype_name.c_str());
    uint64_t numel = 1;
    for (auto d : e.shape) numel *= uint64_t(d);
    if (numel * es != e.end - e.begin)
      TC_THROW("%s: tensor %s: shape and dtype need %llu bytes but data_offsets span %zu", path.c_str(), name.c_str(),
               (unsigned long long)(numel * es), e.end - e.begin);
    if (e.end > data_size)
      TC_THROW("%s: truncated safetensors file: tensor %s ends at byte %zu of a %zu-byte data section", path.c_str(),
               name.c_str(), e.end, data_size);
    e.dtype = dtype_from_safetensors(e.dtype_name);
    entries_[name] = std::move(e);
  }
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  for (auto& kv : entries_) out.push_back(kv.first);
  return out;
}

TensorView SafetensorsFile::tensor(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) TC_THROW("%s: missing tensor %s", path().c_str(), name.c_str());
  const Entry& e = it->second;
  if (!e.dtype)
    TC_THROW("%s: tensor %s has dtype %s; thinkcache reads F32, F16 and BF16 weights", path().c_str(), name.c_str(),
             e.dtype_name.c_str());
  TensorView v;
  v.name = name;
  v.dtype = *e.dtype;
  v.shape = e.shape;
  v.data = file_.data() + data_offset_ + e.begin;
  v.nbytes = e.end - e.begin;
  return v;
}

SafetensorsModel::SafetensorsModel(const std::string& folder) : folder_(folder) {
  std::string single = folder + "/model.safetensors";
  std::string index = folder + "/model.safetensors.index.json";
  if (file_exists(index)) {
    Json j = Json::parse_file(index);
    const Json* map = j.find("weight_map");
    if (!map || !map->is_object()) TC_THROW("%s: missing \"weight_map\" object", index.c_str());
    std::map<std::string, size_t> shard_ids;
    for (auto& [name, shard] : map->as_object()) {
      const std::string& file = shard.as_string();
      if (file.find('/') != std::string::npos || file.find("..") != std::string::npos)
        TC_THROW("%s: shard name \"%s\" must be a plain file name", index.c_str(), file.c_str());
      auto it = shard_ids.find(file);
      if (it == shard_ids.end()) {
        files_.push_back(std::make_unique<SafetensorsFile>(folder + "/" + file));
        it = shard_ids.emplace(file, files_.size() - 1).first;
      }
      if (!files_[it->second]->has(name))
        TC_THROW("%s: index lists tensor %s in %s, but that shard does not contain it", index.c_str(), name.c_str(), file.c_str());
      where_[name] = it->second;
    }
  } else if (file_exists(single)) {
    files_.push_back(std::make_unique<SafetensorsFile>(single));
    for (auto& n : files_[0]->names()) where_[n] = 0;
  } else {
    TC_THROW("%s: no model.safetensors or model.safetensors.index.json found", folder.c_str());
  }
}

std::vector<std::string> SafetensorsModel::names() const {
  std::vector<std::string> out;
  for (auto& kv : where_) out.push_back(kv.first);
  return out;
}

TensorView SafetensorsModel::tensor(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) TC_THROW("%s: missing tensor %s", folder_.c_str(), name.c_str());
  return files_[it->second]->tensor(name);
}

}  // namespace tc

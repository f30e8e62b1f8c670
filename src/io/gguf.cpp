#include "io/gguf.h"

#include <cstring>
#include <fstream>

#include "util/error.h"

namespace tc {

namespace {

constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" little-endian

// Maps GGML type ids to thinkcache dtypes (absent = unsupported).
std::optional<DType> dtype_from_ggml(uint32_t t) {
  switch (t) {
    case 0: return DType::F32;
    case 1: return DType::F16;
    case 2: return DType::Q4_0;
    case 3: return DType::Q4_1;
    case 6: return DType::Q5_0;
    case 7: return DType::Q5_1;
    case 8: return DType::Q8_0;
    case 10: return DType::Q2_K;
    case 11: return DType::Q3_K;
    case 12: return DType::Q4_K;
    case 13: return DType::Q5_K;
    case 14: return DType::Q6_K;
    case 20: return DType::IQ4_NL;
    case 23: return DType::IQ4_XS;
    case 26: return DType::I32;
    case 30: return DType::BF16;
    default: return std::nullopt;
  }
}

// Block geometry of every GGML type, so sizes of unsupported tensors are still checked.
bool ggml_block(uint32_t t, int* elems, int* bytes) {
  static const struct { uint32_t id; int elems, bytes; } kTable[] = {
      {0, 1, 4},      {1, 1, 2},      {2, 32, 18},    {3, 32, 20},    {6, 32, 22},   {7, 32, 24},
      {8, 32, 34},    {9, 32, 36},    {10, 256, 84},  {11, 256, 110}, {12, 256, 144}, {13, 256, 176},
      {14, 256, 210}, {15, 256, 292}, {16, 256, 66},  {17, 256, 74},  {18, 256, 98},  {19, 256, 50},
      {20, 32, 18},   {21, 256, 110}, {22, 256, 82},  {23, 256, 136}, {24, 1, 1},     {25, 1, 2},
      {26, 1, 4},     {27, 1, 8},     {28, 1, 8},     {29, 256, 56},  {30, 1, 2},     {34, 256, 54},
      {35, 256, 66},  {39, 32, 17},
  };
  for (auto& e : kTable) {
    if (e.id == t) {
      *elems = e.elems;
      *bytes = e.bytes;
      return true;
    }
  }
  return false;
}

class Reader {
 public:
  Reader(const uint8_t* data, size_t size, const std::string& path) : p_(data), size_(size), path_(path) {}
  size_t pos() const { return pos_; }
  void need(size_t n, const char* what) {
    if (n > size_ - pos_)
      TC_THROW("%s: truncated GGUF file: %s at byte %zu needs %zu bytes, file has %zu", path_.c_str(), what, pos_, n, size_);
  }
  template <typename T>
  T read(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  std::string read_string(const char* what) {
    uint64_t n = read<uint64_t>(what);
    if (n > size_) TC_THROW("%s: corrupt GGUF file: %s has length %llu, larger than the file", path_.c_str(), what, (unsigned long long)n);
    need(size_t(n), what);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), size_t(n));
    pos_ += size_t(n);
    return s;
  }

 private:
  const uint8_t* p_;
  size_t size_;
  size_t pos_ = 0;
  std::string path_;
};

size_t gguf_scalar_size(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::BOOL: return 1;
    case GgufType::U16: case GgufType::I16: return 2;
    case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
    case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
    default: return 0;
  }
}

void read_scalar(Reader& r, GgufType t, int64_t* i, double* f, const std::string& key) {
  const char* what = "metadata value";
  switch (t) {
    case GgufType::U8: *i = r.read<uint8_t>(what); break;
    case GgufType::I8: *i = r.read<int8_t>(what); break;
    case GgufType::U16: *i = r.read<uint16_t>(what); break;
    case GgufType::I16: *i = r.read<int16_t>(what); break;
    case GgufType::U32: *i = r.read<uint32_t>(what); break;
    case GgufType::I32: *i = r.read<int32_t>(what); break;
    case GgufType::U64: *i = int64_t(r.read<uint64_t>(what)); break;
    case GgufType::I64: *i = r.read<int64_t>(what); break;
    case GgufType::BOOL: *i = r.read<uint8_t>(what) != 0; break;
    case GgufType::F32: *f = r.read<float>(what); break;
    case GgufType::F64: *f = r.read<double>(what); break;
    default: TC_THROW("metadata key %s: invalid value type %u", key.c_str(), unsigned(t));
  }
}

bool is_float_type(GgufType t) { return t == GgufType::F32 || t == GgufType::F64; }

}  // namespace

const char* GgufFile::ggml_type_name(uint32_t t) {
  static const char* kNames[] = {"F32",  "F16",  "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q5_0", "Q5_1", "Q8_0", "Q8_1",
                                 "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS",
                                 "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS", "I8", "I16", "I32", "I64", "F64",
                                 "IQ1_M", "BF16", "Q4_0_4_4", "Q4_0_4_8", "Q4_0_8_8", "TQ1_0", "TQ2_0"};
  if (t < sizeof(kNames) / sizeof(kNames[0])) return kNames[t];
  return "unknown";
}

std::string GgufValue::to_string(size_t max_items) const {
  auto scalar = [&](GgufType t, int64_t iv, double fv, const std::string& sv) -> std::string {
    if (t == GgufType::STRING) return "\"" + sv + "\"";
    if (t == GgufType::BOOL) return iv ? "true" : "false";
    if (is_float_type(t)) return str_printf("%g", fv);
    if (t == GgufType::U64) return std::to_string(uint64_t(iv));
    return std::to_string(iv);
  };
  if (type != GgufType::ARRAY) return scalar(type, i, f, s);
  std::string out = "[";
  size_t n = array_size();
  for (size_t k = 0; k < n && k < max_items; ++k) {
    if (k) out += ", ";
    if (array_type == GgufType::STRING) out += "\"" + strings[k] + "\"";
    else if (is_float_type(array_type)) out += str_printf("%g", floats[k]);
    else out += std::to_string(ints[k]);
  }
  if (n > max_items) out += str_printf(", ... (%zu items)", n);
  return out + "]";
}

GgufFile::GgufFile(const std::string& path) : file_(path) {
  Reader r(file_.data(), file_.size(), path);
  if (file_.size() < 4) TC_THROW("%s: not a GGUF file (only %zu bytes)", path.c_str(), file_.size());
  uint32_t magic = r.read<uint32_t>("magic");
  if (magic != kGgufMagic) TC_THROW("%s: not a GGUF file (wrong magic 0x%08x)", path.c_str(), magic);
  version_ = r.read<uint32_t>("version");
  if (version_ != 2 && version_ != 3)
    TC_THROW("%s: unsupported GGUF version %u (thinkcache reads versions 2 and 3)", path.c_str(), version_);
  uint64_t n_tensors = r.read<uint64_t>("tensor count");
  uint64_t n_kv = r.read<uint64_t>("metadata count");
  // Each entry takes at least 8 bytes, which bounds believable counts by the file size.
  if (n_tensors > file_.size() / 8 || n_kv > file_.size() / 8)
    TC_THROW("%s: corrupt GGUF header (%llu tensors, %llu metadata entries)", path.c_str(),
             (unsigned long long)n_tensors, (unsigned long long)n_kv);

  for (uint64_t k = 0; k < n_kv; ++k) {
    std::string key = r.read_string("metadata key");
    GgufValue v;
    v.type = GgufType(r.read<uint32_t>("metadata type"));
    if (v.type == GgufType::STRING) {
      v.s = r.read_string(("value of " + key).c_str());
    } else if (v.type == GgufType::ARRAY) {
      v.array_type = GgufType(r.read<uint32_t>("array type"));
      uint64_t count = r.read<uint64_t>("array length");
      if (v.array_type == GgufType::ARRAY) TC_THROW("%s: metadata key %s: nested arrays are not supported", path.c_str(), key.c_str());
      size_t elem = v.array_type == GgufType::STRING ? 8 : gguf_scalar_size(v.array_type);
      if (elem == 0) TC_THROW("%s: metadata key %s: invalid array element type %u", path.c_str(), key.c_str(), unsigned(v.array_type));
      if (count > (file_.size() - r.pos()) / elem)
        TC_THROW("%s: truncated GGUF file: array %s claims %llu items", path.c_str(), key.c_str(), (unsigned long long)count);
      if (v.array_type == GgufType::STRING) {
        v.strings.reserve(size_t(count));
        for (uint64_t j = 0; j < count; ++j) v.strings.push_back(r.read_string(key.c_str()));
      } else if (is_float_type(v.array_type)) {
        v.floats.resize(size_t(count));
        for (uint64_t j = 0; j < count; ++j) {
          int64_t dummy;
          read_scalar(r, v.array_type, &dummy, &v.floats[j], key);
        }
      } else {
        v.ints.resize(size_t(count));
        for (uint64_t j = 0; j < count; ++j) {
          double dummy;
          read_scalar(r, v.array_type, &v.ints[j], &dummy, key);
        }
      }
    } else {
      if (gguf_scalar_size(v.type) == 0)
        TC_THROW("%s: metadata key %s has invalid value type %u", path.c_str(), key.c_str(), unsigned(v.type));
      read_scalar(r, v.type, &v.i, &v.f, key);
    }
    metadata_[key] = std::move(v);
  }

  if (auto* a = find("general.alignment")) {
    if (a->type == GgufType::ARRAY || a->i <= 0 || (a->i & (a->i - 1)) != 0)
      TC_THROW("%s: general.alignment must be a positive power of two", path.c_str());
    alignment_ = size_t(a->i);
  }

  tensors_.reserve(size_t(n_tensors));
  for (uint64_t k = 0; k < n_tensors; ++k) {
    GgufTensorInfo t;
    t.name = r.read_string("tensor name");
    uint32_t n_dims = r.read<uint32_t>("tensor dims");
    if (n_dims == 0 || n_dims > 4) TC_THROW("%s: tensor %s has %u dimensions (1-4 allowed)", path.c_str(), t.name.c_str(), n_dims);
    std::vector<int64_t> dims(n_dims);
    uint64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t v = r.read<uint64_t>("tensor dim");
      if (v == 0 || v > (uint64_t(1) << 40) || numel > (uint64_t(1) << 48) / v)
        TC_THROW("%s: tensor %s has an invalid dimension %llu", path.c_str(), t.name.c_str(), (unsigned long long)v);
      dims[d] = int64_t(v);
      numel *= v;
    }
    t.shape.assign(dims.rbegin(), dims.rend());
    t.ggml_type = r.read<uint32_t>("tensor type");
    t.offset = r.read<uint64_t>("tensor offset");
    t.dtype = dtype_from_ggml(t.ggml_type);
    int be, bb;
    if (!ggml_block(t.ggml_type, &be, &bb))
      TC_THROW("%s: tensor %s has unknown tensor type id %u", path.c_str(), t.name.c_str(), t.ggml_type);
    if (dims[0] % be != 0)
      TC_THROW("%s: tensor %s: row length %lld is not a multiple of the %s block size", path.c_str(), t.name.c_str(),
               (long long)dims[0], ggml_type_name(t.ggml_type));
    t.nbytes = size_t(numel / be) * size_t(bb);
    if (tensor_index_.count(t.name)) TC_THROW("%s: duplicate tensor %s", path.c_str(), t.name.c_str());
    tensor_index_[t.name] = tensors_.size();
    tensors_.push_back(std::move(t));
  }

  data_offset_ = (r.pos() + alignment_ - 1) / alignment_ * alignment_;
  for (auto& t : tensors_) {
    if (t.offset % alignment_ != 0)
      TC_THROW("%s: tensor %s is not aligned to %zu bytes", path.c_str(), t.name.c_str(), alignment_);
    if (data_offset_ > file_.size() || t.offset > file_.size() - data_offset_ ||
        t.nbytes > file_.size() - data_offset_ - t.offset)
      TC_THROW("%s: truncated GGUF file: tensor %s (%zu bytes at offset %llu) extends past the end of the file (%zu bytes)",
               path.c_str(), t.name.c_str(), t.nbytes, (unsigned long long)(data_offset_ + t.offset), file_.size());
  }
}

const GgufValue* GgufFile::find(const std::string& key) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

std::string GgufFile::get_string(const std::string& key) const {
  auto* v = find(key);
  if (!v) TC_THROW("%s: missing metadata key %s", path().c_str(), key.c_str());
  if (v->type != GgufType::STRING) TC_THROW("%s: metadata key %s is not a string", path().c_str(), key.c_str());
  return v->s;
}
std::string GgufFile::get_string(const std::string& key, const std::string& def) const {
  return has(key) ? get_string(key) : def;
}
int64_t GgufFile::get_int(const std::string& key) const {
  auto* v = find(key);
  if (!v) TC_THROW("%s: missing metadata key %s", path().c_str(), key.c_str());
  if (v->type == GgufType::ARRAY || v->type == GgufType::STRING || is_float_type(v->type))
    TC_THROW("%s: metadata key %s is not an integer", path().c_str(), key.c_str());
  return v->i;
}
int64_t GgufFile::get_int(const std::string& key, int64_t def) const { return has(key) ? get_int(key) : def; }
double GgufFile::get_float(const std::string& key) const {
  auto* v = find(key);
  if (!v) TC_THROW("%s: missing metadata key %s", path().c_str(), key.c_str());
  if (is_float_type(v->type)) return v->f;
  if (v->type == GgufType::ARRAY || v->type == GgufType::STRING)
    TC_THROW("%s: metadata key %s is not a number", path().c_str(), key.c_str());
  return double(v->i);
}
double GgufFile::get_float(const std::string& key, double def) const { return has(key) ? get_float(key) : def; }
bool GgufFile::get_bool(const std::string& key, bool def) const {
  auto* v = find(key);
  if (!v) return def;
  if (v->type == GgufType::ARRAY || v->type == GgufType::STRING || is_float_type(v->type))
    TC_THROW("%s: metadata key %s is not a boolean", path().c_str(), key.c_str());
  return v->i != 0;
}
const std::vector<std::string>& GgufFile::get_string_array(const std::string& key) const {
  auto* v = find(key);
  if (!v) TC_THROW("%s: missing metadata key %s", path().c_str(), key.c_str());
  if (v->type != GgufType::ARRAY || v->array_type != GgufType::STRING)
    TC_THROW("%s: metadata key %s is not an array of strings", path().c_str(), key.c_str());
  return v->strings;
}
const std::vector<int64_t>& GgufFile::get_int_array(const std::string& key) const {
  auto* v = find(key);
  if (!v) TC_THROW("%s: missing metadata key %s", path().c_str(), key.c_str());
  if (v->type != GgufType::ARRAY || v->array_type == GgufType::STRING || is_float_type(v->array_type))
    TC_THROW("%s: metadata key %s is not an array of integers", path().c_str(), key.c_str());
  return v->ints;
}
const std::vector<double>& GgufFile::get_float_array(const std::string& key) const {
  auto* v = find(key);
  if (!v) TC_THROW("%s: missing metadata key %s", path().c_str(), key.c_str());
  if (v->type != GgufType::ARRAY || !is_float_type(v->array_type))
    TC_THROW("%s: metadata key %s is not an array of floats", path().c_str(), key.c_str());
  return v->floats;
}

const GgufTensorInfo* GgufFile::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

TensorView GgufFile::tensor(const std::string& name) const {
  auto* t = find_tensor(name);
  if (!t) TC_THROW("%s: missing tensor %s", path().c_str(), name.c_str());
  if (!t->dtype)
    TC_THROW("%s: tensor %s has type %s, which thinkcache does not support (supported: F32, F16, BF16, Q8_0, "
             "Q5_0, Q5_1, Q4_0, Q4_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS)",
             path().c_str(), name.c_str(), ggml_type_name(t->ggml_type));
  TensorView v;
  v.name = t->name;
  v.dtype = *t->dtype;
  v.shape = t->shape;
  v.data = file_.data() + data_offset_ + t->offset;
  v.nbytes = t->nbytes;
  return v;
}

bool is_gguf_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char magic[4] = {};
  f.read(magic, 4);
  return f.gcount() == 4 && std::memcmp(magic, "GGUF", 4) == 0;
}

}  // namespace tc

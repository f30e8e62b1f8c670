#include "io/model_source.h"

#include <cstring>

#include "util/error.h"
#include "util/mapped_file.h"

namespace tc {

namespace {

struct NameRule {
  const char* hf;         // suffix after "model.layers.N." (layer rules) or a whole name
  const char* canonical;  // suffix after "blk.N."
};

// Per-layer HF module names and their canonical spelling (without .weight / .bias).
const NameRule kLayerRules[] = {
    {"input_layernorm", "attn_norm"},       {"self_attn.q_proj", "attn_q"},
    {"self_attn.k_proj", "attn_k"},         {"self_attn.v_proj", "attn_v"},
    {"self_attn.o_proj", "attn_output"},    {"self_attn.q_norm", "attn_q_norm"},
    {"self_attn.k_norm", "attn_k_norm"},    {"post_attention_layernorm", "ffn_norm"},
    {"mlp.gate_proj", "ffn_gate"},          {"mlp.up_proj", "ffn_up"},
    {"mlp.down_proj", "ffn_down"},
};

const NameRule kGlobalRules[] = {
    {"model.embed_tokens.weight", "token_embd.weight"},
    {"model.norm.weight", "output_norm.weight"},
    {"lm_head.weight", "output.weight"},
};

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// Splits "<prefix>N.<rest>" into N and rest; false when `name` does not have that form.
bool split_layer(const std::string& name, const char* prefix, int* layer, std::string* rest) {
  if (!starts_with(name, prefix)) return false;
  size_t p = std::strlen(prefix), dot = name.find('.', p);
  if (dot == std::string::npos || dot == p || dot - p > 6) return false;
  int n = 0;
  for (size_t i = p; i < dot; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    n = n * 10 + (name[i] - '0');
  }
  *layer = n;
  *rest = name.substr(dot + 1);
  return true;
}

}  // namespace

std::string canonical_from_hf_name(const std::string& hf_name) {
  for (auto& r : kGlobalRules)
    if (hf_name == r.hf) return r.canonical;
  int layer;
  std::string rest;
  if (!split_layer(hf_name, "model.layers.", &layer, &rest)) return hf_name;
  for (auto& r : kLayerRules) {
    std::string module = r.hf;
    for (const char* kind : {".weight", ".bias"})
      if (rest == module + kind) return "blk." + std::to_string(layer) + "." + r.canonical + kind;
  }
  return hf_name;
}

std::string hf_name_from_canonical(const std::string& canonical) {
  for (auto& r : kGlobalRules)
    if (canonical == r.canonical) return r.hf;
  int layer;
  std::string rest;
  if (!split_layer(canonical, "blk.", &layer, &rest)) return canonical;
  for (auto& r : kLayerRules) {
    std::string module = r.canonical;
    for (const char* kind : {".weight", ".bias"})
      if (rest == module + kind) return "model.layers." + std::to_string(layer) + "." + r.hf + kind;
  }
  return canonical;
}

std::unique_ptr<ModelSource> ModelSource::open(const std::string& path) {
  std::unique_ptr<ModelSource> src(new ModelSource());
  src->path_ = path;
  if (is_directory(path)) {
    src->format_ = ModelFormat::HfFolder;
    std::string config = path + "/config.json";
    if (!file_exists(config))
      TC_THROW("%s: not a model folder: config.json is missing (a model is a .gguf file or an HF folder)", path.c_str());
    src->hf_config_ = std::make_unique<Json>(Json::parse_file(config));
    if (!src->hf_config_->is_object()) TC_THROW("%s: top level is not a JSON object", config.c_str());
    std::string gen = path + "/generation_config.json";
    if (file_exists(gen)) src->hf_generation_config_ = std::make_unique<Json>(Json::parse_file(gen));
    src->safetensors_ = std::make_unique<SafetensorsModel>(path);
    for (auto& name : src->safetensors_->names()) {
      std::string canonical = canonical_from_hf_name(name);
      if (src->file_name_.count(canonical))
        TC_THROW("%s: tensors %s and %s both map to %s", path.c_str(), src->file_name_[canonical].c_str(), name.c_str(),
                 canonical.c_str());
      src->file_name_[canonical] = name;
    }
    return src;
  }
  if (!file_exists(path)) TC_THROW("%s: no such file or folder", path.c_str());
  if (!is_gguf_file(path))
    TC_THROW("%s: not a model: expected a GGUF file (magic \"GGUF\") or an HF model folder", path.c_str());
  src->format_ = ModelFormat::Gguf;
  src->gguf_ = std::make_unique<GgufFile>(path);
  for (auto& t : src->gguf_->tensors()) src->file_name_[t.name] = t.name;
  return src;
}

std::string ModelSource::file_name_of(const std::string& canonical) const {
  auto it = file_name_.find(canonical);
  if (it != file_name_.end()) return it->second;
  return format_ == ModelFormat::Gguf ? canonical : hf_name_from_canonical(canonical);
}

std::optional<TensorView> ModelSource::find(const std::string& canonical) const {
  auto it = file_name_.find(canonical);
  if (it == file_name_.end()) return std::nullopt;
  TensorView v = gguf_ ? gguf_->tensor(it->second) : safetensors_->tensor(it->second);
  v.name = canonical;
  return v;
}

TensorView ModelSource::tensor(const std::string& canonical) const {
  auto v = find(canonical);
  if (!v) {
    std::string spelled = file_name_of(canonical);
    if (spelled == canonical) TC_THROW("%s: missing tensor %s", path_.c_str(), canonical.c_str());
    TC_THROW("%s: missing tensor %s (%s)", path_.c_str(), spelled.c_str(), canonical.c_str());
  }
  return *v;
}

std::vector<ModelTensorInfo> ModelSource::tensor_infos() const {
  std::vector<ModelTensorInfo> out;
  if (gguf_) {
    for (auto& t : gguf_->tensors()) {
      ModelTensorInfo info;
      info.name = info.file_name = t.name;
      info.type_name = GgufFile::ggml_type_name(t.ggml_type);
      info.supported = t.dtype.has_value();
      info.shape = t.shape;
      info.nbytes = t.nbytes;
      out.push_back(std::move(info));
    }
    return out;
  }
  for (auto& [canonical, file_name] : file_name_) {
    ModelTensorInfo info;
    info.name = canonical;
    info.file_name = file_name;
    try {
      TensorView v = safetensors_->tensor(file_name);
      info.type_name = dtype_name(v.dtype);
      info.shape = v.shape;
      info.nbytes = v.nbytes;
    } catch (const Error&) {
      info.type_name = "unsupported";
      info.supported = false;
    }
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace tc

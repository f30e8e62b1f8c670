// A model on disk, whatever its format: a GGUF file or an HF model folder (config.json +
// model.safetensors or a sharded index). It gives the raw metadata of its format and its
// tensors under one canonical naming, so the model layer never sees format-specific names.
//
// Canonical tensor names (the GGUF convention, which is the shorter one):
//   token_embd.weight, output_norm.weight, output.weight, rope_freqs.weight,
//   blk.N.{attn_norm, attn_q, attn_k, attn_v, attn_output, attn_q_norm, attn_k_norm,
//          ffn_norm, ffn_gate, ffn_up, ffn_down}.{weight, bias}
// HF names (model.embed_tokens, model.layers.N.self_attn.q_proj, lm_head, ...) are mapped
// to these when the folder is opened; a name with no mapping keeps its HF spelling.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "io/safetensors.h"
#include "io/tensor.h"
#include "util/json.h"

namespace tc {

enum class ModelFormat : uint8_t { Gguf, HfFolder };

// One tensor as listed by the source (for `inspect`), before any type check.
struct ModelTensorInfo {
  std::string name;         // canonical
  std::string file_name;    // as spelled in the file
  std::string type_name;    // "Q4_1", "BF16", ...
  bool supported = true;    // thinkcache can read this type
  std::vector<int64_t> shape;  // outermost first
  size_t nbytes = 0;
};

class ModelSource {
 public:
  // `path`: a .gguf file or a folder with config.json. Throws tc::Error naming the path.
  static std::unique_ptr<ModelSource> open(const std::string& path);

  ModelFormat format() const { return format_; }
  const std::string& path() const { return path_; }
  const char* format_name() const { return format_ == ModelFormat::Gguf ? "GGUF" : "HF safetensors folder"; }

  // Format metadata: exactly one is non-null.
  const GgufFile* gguf() const { return gguf_.get(); }
  const Json* hf_config() const { return hf_config_.get(); }
  // generation_config.json of an HF folder (null when absent).
  const Json* hf_generation_config() const { return hf_generation_config_.get(); }

  bool has(const std::string& canonical) const { return file_name_.count(canonical) != 0; }
  // Throws "missing tensor <canonical> (<file name>)" when absent, or naming the
  // unsupported type.
  TensorView tensor(const std::string& canonical) const;
  std::optional<TensorView> find(const std::string& canonical) const;
  std::vector<ModelTensorInfo> tensor_infos() const;
  // The name a canonical tensor has (or would have) in this format, for error messages.
  std::string file_name_of(const std::string& canonical) const;

 private:
  ModelSource() = default;

  ModelFormat format_ = ModelFormat::Gguf;
  std::string path_;
  std::unique_ptr<GgufFile> gguf_;
  std::unique_ptr<SafetensorsModel> safetensors_;
  std::unique_ptr<Json> hf_config_;
  std::unique_ptr<Json> hf_generation_config_;
  std::map<std::string, std::string> file_name_;  // canonical -> name in the file
};

// Maps one HF tensor name to the canonical name (unchanged when no rule applies).
std::string canonical_from_hf_name(const std::string& hf_name);
// The HF spelling of a canonical name (best effort, for messages).
std::string hf_name_from_canonical(const std::string& canonical);

}  // namespace tc

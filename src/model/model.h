// An immutable loaded model: the source file(s) mapped in memory, the config, views of every
// weight tensor (shapes validated against the config), and optionally the tokenizer.
// Many Sessions (each with its own KvCache) can share one Model.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "io/model_source.h"
#include "io/tensor.h"
#include "model/model_config.h"

namespace tc {

class Tokenizer;

// A linear layer y = x W^T + b.
struct Linear {
  TensorView w;             // w: [out][in], file dtype (quantised blocks stay as they are)
  std::vector<float> bias;  // bias: [out] f32, empty when the layer has none
};

struct LayerWeights {
  std::vector<float> attn_norm;  // [hidden]
  Linear q, k, v, o;             // q: [n_heads*head_dim][hidden], k/v: [n_kv_heads*head_dim][hidden], o: [hidden][n_heads*head_dim]
  std::vector<float> q_norm;     // [head_dim] (Qwen3), else empty
  std::vector<float> k_norm;     // [head_dim] (Qwen3), else empty
  std::vector<float> ffn_norm;   // [hidden]
  Linear gate, up, down;         // gate/up: [ffn][hidden], down: [hidden][ffn]
};

struct ModelWeights {
  TensorView token_embd;           // [vocab][hidden]
  std::vector<LayerWeights> layers;
  std::vector<float> output_norm;  // [hidden]
  TensorView output;               // [vocab][hidden]; the token_embd view when tied
  std::vector<float> rope_freqs;   // [head_dim/2] GGUF Llama-3 frequency divisors, else empty
};

struct ModelLoadOptions {
  bool load_tokenizer = true;  // false for id-only use (`logits --ids`, tests)
};

class Model {
 public:
  // Opens a GGUF file or an HF folder. Throws tc::Error naming the file, key or tensor.
  static std::unique_ptr<Model> load(const std::string& path, const ModelLoadOptions& options = {});
  ~Model();

  const std::string& path() const { return source_->path(); }
  const ModelSource& source() const { return *source_; }
  const ModelConfig& config() const { return config_; }
  const ModelWeights& weights() const { return weights_; }
  // [rope_dim/2] rotary inverse frequencies with scaling applied.
  const std::vector<float>& rope_inv_freq() const { return inv_freq_; }
  // Null when loaded without a tokenizer.
  const Tokenizer* tokenizer() const { return tokenizer_.get(); }
  // Throws naming the model when there is no tokenizer.
  const Tokenizer& require_tokenizer() const;
  // EOS ids: the metadata's, plus the tokenizer's when it is loaded.
  const std::vector<int32_t>& eos_ids() const { return eos_ids_; }

  // Bytes of weights one decode step reads: every matrix once, norms, biases, one embedding row.
  size_t weight_bytes_per_token() const { return weight_bytes_per_token_; }
  // Total bytes of all weight tensors used by the graph, and the parameter count.
  size_t weight_bytes() const { return weight_bytes_; }
  int64_t parameter_count() const { return parameter_count_; }

 private:
  Model() = default;

  std::unique_ptr<ModelSource> source_;
  ModelConfig config_;
  ModelWeights weights_;
  std::vector<float> inv_freq_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::vector<int32_t> eos_ids_;
  size_t weight_bytes_per_token_ = 0;
  size_t weight_bytes_ = 0;
  int64_t parameter_count_ = 0;
};

// Loads and validates the weights against `config` (used by Model::load; exposed for tests).
ModelWeights load_model_weights(const ModelSource& source, const ModelConfig& config);

}  // namespace tc

// Hyperparameters of a decoder-only transformer of the Llama family (Llama / SmolLM2,
// Qwen2, Qwen3), read from GGUF metadata or an HF config.json. One graph serves all three;
// the differences are the flags below.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend/cpu/ops.h"

namespace tc {

class ModelSource;

enum class Architecture : uint8_t { Llama, Qwen2, Qwen3 };
const char* architecture_name(Architecture arch);

enum class RopeScaling : uint8_t {
  None,
  Linear,  // positions divided by factor (inv_freq / factor)
  Llama3,  // Llama-3.1 frequency-dependent scaling (factor, low/high_freq_factor, original context)
};

struct ModelConfig {
  Architecture arch = Architecture::Llama;
  std::string arch_name;  // as spelled in the file ("llama", "qwen2", "LlamaForCausalLM", ...)

  int n_layers = 0;
  int hidden = 0;        // d_model
  int n_heads = 0;       // query heads
  int n_kv_heads = 0;    // key/value heads (GQA: n_heads % n_kv_heads == 0)
  int head_dim = 0;      // may differ from hidden / n_heads (Qwen3)
  int ffn_hidden = 0;    // intermediate size of the SwiGLU MLP
  int vocab = 0;
  int context_length = 0;  // trained context (max_position_embeddings)
  float rms_eps = 1e-6f;

  // Rotary embedding.
  cpu::RopeStyle rope_style = cpu::RopeStyle::Neox;
  double rope_theta = 10000.0;
  int rope_dim = 0;  // rotated dims per head (== head_dim for these families)
  RopeScaling rope_scaling = RopeScaling::None;
  double rope_factor = 1.0;
  double rope_low_freq_factor = 1.0;
  double rope_high_freq_factor = 4.0;
  int rope_original_context = 0;

  // Graph flags.
  bool attn_qkv_bias = false;   // Qwen2; Llama with attention_bias
  bool attn_out_bias = false;   // Llama with attention_bias
  bool mlp_bias = false;        // Llama with mlp_bias
  bool qk_norm = false;         // Qwen3: RMSNorm over each head of q and k before RoPE
  bool tied_embeddings = false; // lm_head reuses token_embd

  // Special tokens from the model's metadata (the tokenizer may add more EOS ids).
  int32_t bos_id = -1;
  std::vector<int32_t> eos_ids;

  int q_dim() const { return n_heads * head_dim; }
  int kv_dim() const { return n_kv_heads * head_dim; }
  // K+V bytes one token takes in a cache of `kv_dtype_bytes` per element (all layers).
  size_t kv_bytes_per_token(size_t kv_dtype_bytes) const {
    return size_t(2) * n_layers * n_kv_heads * head_dim * kv_dtype_bytes;
  }
  std::string describe() const;  // one line for logs and `inspect`
};

// Reads the config from the source's metadata (GGUF keys or config.json) and checks it for
// consistency. Throws tc::Error naming the key at fault, or the unknown architecture.
ModelConfig model_config_from_source(const ModelSource& source);

// inv_freq[i] for i < rope_dim / 2, including any scaling (as HF computes it, in float).
// `freq_factors` (GGUF rope_freqs.weight, may be null) divide the frequencies.
std::vector<float> rope_inv_freq(const ModelConfig& config, const float* freq_factors = nullptr);

}  // namespace tc

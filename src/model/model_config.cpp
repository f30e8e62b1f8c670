#include "model/model_config.h"

#include <algorithm>
#include <cmath>

#include "io/model_source.h"
#include "util/error.h"

namespace tc {

const char* architecture_name(Architecture arch) {
  switch (arch) {
    case Architecture::Llama: return "llama";
    case Architecture::Qwen2: return "qwen2";
    case Architecture::Qwen3: return "qwen3";
  }
  return "?";
}

std::string ModelConfig::describe() const {
  std::string rope = rope_scaling == RopeScaling::None ? "none"
                     : rope_scaling == RopeScaling::Linear ? str_printf("linear x%g", rope_factor)
                                                           : str_printf("llama3 x%g (orig ctx %d)", rope_factor, rope_original_context);
  return str_printf(
      "%s: %d layers, hidden %d, %d heads / %d KV heads, head_dim %d, ffn %d, vocab %d, context %d, rope theta %g "
      "(%s, %s), rms_eps %g%s%s%s%s%s",
      architecture_name(arch), n_layers, hidden, n_heads, n_kv_heads, head_dim, ffn_hidden, vocab, context_length,
      rope_theta, rope_style == cpu::RopeStyle::Neox ? "neox" : "interleaved", rope.c_str(), double(rms_eps),
      attn_qkv_bias ? ", qkv bias" : "", attn_out_bias ? ", out bias" : "", mlp_bias ? ", mlp bias" : "",
      qk_norm ? ", q/k norm" : "", tied_embeddings ? ", tied embeddings" : "");
}

namespace {

void validate(ModelConfig& c, const std::string& where) {
  auto positive = [&](int v, const char* what) {
    TC_CHECK_ARG(v > 0, "%s: %s must be positive, got %d", where.c_str(), what, v);
  };
  positive(c.n_layers, "layer count");
  positive(c.hidden, "hidden size");
  positive(c.n_heads, "attention head count");
  positive(c.n_kv_heads, "KV head count");
  positive(c.head_dim, "head_dim");
  positive(c.ffn_hidden, "feed-forward size");
  positive(c.vocab, "vocabulary size");
  positive(c.context_length, "context length");
  TC_CHECK_ARG(c.n_heads % c.n_kv_heads == 0, "%s: %d attention heads is not a multiple of %d KV heads", where.c_str(),
               c.n_heads, c.n_kv_heads);
  TC_CHECK_ARG(c.head_dim % 2 == 0, "%s: head_dim %d must be even for rotary embeddings", where.c_str(), c.head_dim);
  if (c.rope_dim == 0) c.rope_dim = c.head_dim;
  TC_CHECK_ARG(c.rope_dim == c.head_dim, "%s: partial rotary embeddings (%d of %d dims) are not supported",
               where.c_str(), c.rope_dim, c.head_dim);
  TC_CHECK_ARG(c.rope_theta > 0, "%s: rope theta must be positive", where.c_str());
  TC_CHECK_ARG(c.rms_eps > 0, "%s: RMS norm epsilon must be positive", where.c_str());
  if (c.rope_scaling != RopeScaling::None)
    TC_CHECK_ARG(c.rope_factor > 0, "%s: rope scaling factor must be positive", where.c_str());
  if (c.rope_scaling == RopeScaling::Llama3) {
    TC_CHECK_ARG(c.rope_original_context > 0, "%s: llama3 rope scaling needs original_max_position_embeddings",
                 where.c_str());
    TC_CHECK_ARG(c.rope_high_freq_factor != c.rope_low_freq_factor,
                 "%s: llama3 rope scaling needs high_freq_factor != low_freq_factor", where.c_str());
  }
}

// ---- GGUF

ModelConfig config_from_gguf(const ModelSource& source) {
  const GgufFile& g = *source.gguf();
  ModelConfig c;
  c.arch_name = g.get_string("general.architecture");
  if (c.arch_name == "llama") {
    c.arch = Architecture::Llama;
    // convert_hf_to_gguf permutes the Q/K rows of llama so adjacent pairs rotate together.
    c.rope_style = cpu::RopeStyle::Interleaved;
  } else if (c.arch_name == "qwen2") {
    c.arch = Architecture::Qwen2;
    c.rope_style = cpu::RopeStyle::Neox;
  } else if (c.arch_name == "qwen3") {
    c.arch = Architecture::Qwen3;
    c.rope_style = cpu::RopeStyle::Neox;
  } else {
    TC_THROW("%s: unknown architecture \"%s\" (thinkcache supports llama, qwen2, qwen3)", g.path().c_str(),
             c.arch_name.c_str());
  }
  const std::string a = c.arch_name + ".";
  auto get_int = [&](const std::string& key) -> int {
    int64_t v = g.get_int(key);
    TC_CHECK_ARG(v > 0 && v < (int64_t(1) << 31), "%s: metadata key %s has an invalid value %lld", g.path().c_str(),
                 key.c_str(), (long long)v);
    return int(v);
  };
  c.n_layers = get_int(a + "block_count");
  c.hidden = get_int(a + "embedding_length");
  c.ffn_hidden = get_int(a + "feed_forward_length");
  c.n_heads = get_int(a + "attention.head_count");
  c.n_kv_heads = g.has(a + "attention.head_count_kv") ? get_int(a + "attention.head_count_kv") : c.n_heads;
  c.head_dim = g.has(a + "attention.key_length") ? get_int(a + "attention.key_length") : c.hidden / c.n_heads;
  if (g.has(a + "attention.value_length"))
    TC_CHECK_ARG(get_int(a + "attention.value_length") == c.head_dim, "%s: key_length != value_length is not supported",
                 g.path().c_str());
  c.context_length = get_int(a + "context_length");
  c.rms_eps = float(g.get_float(a + "attention.layer_norm_rms_epsilon"));
  c.rope_theta = g.get_float(a + "rope.freq_base", 10000.0);
  c.rope_dim = g.has(a + "rope.dimension_count") ? get_int(a + "rope.dimension_count") : c.head_dim;
  std::string scaling = g.get_string(a + "rope.scaling.type", "none");
  if (scaling == "linear") {
    c.rope_scaling = RopeScaling::Linear;
    c.rope_factor = g.get_float(a + "rope.scaling.factor");
  } else if (scaling != "none") {
    TC_THROW("%s: rope scaling type \"%s\" is not supported (none, linear, or llama3 via rope_freqs)",
             g.path().c_str(), scaling.c_str());
  }
  // Llama-3 scaling is stored as a rope_freqs.weight tensor of per-frequency divisors.
  if (g.has("tokenizer.ggml.tokens")) c.vocab = int(g.get_string_array("tokenizer.ggml.tokens").size());
  if (g.has(a + "vocab_size")) c.vocab = get_int(a + "vocab_size");
  if (c.vocab == 0) {
    const GgufTensorInfo* emb = g.find_tensor("token_embd.weight");
    if (emb && emb->shape.size() == 2) c.vocab = int(emb->shape[0]);
  }
  c.attn_qkv_bias = source.has("blk.0.attn_q.bias");
  c.attn_out_bias = source.has("blk.0.attn_output.bias");
  c.mlp_bias = source.has("blk.0.ffn_up.bias");
  c.qk_norm = c.arch == Architecture::Qwen3 || source.has("blk.0.attn_q_norm.weight");
  c.tied_embeddings = !source.has("output.weight");
  c.bos_id = int32_t(g.get_int("tokenizer.ggml.bos_token_id", -1));
  for (const char* key : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"}) {
    int64_t id = g.get_int(key, -1);
    if (id >= 0 && std::find(c.eos_ids.begin(), c.eos_ids.end(), int32_t(id)) == c.eos_ids.end())
      c.eos_ids.push_back(int32_t(id));
  }
  validate(c, g.path());
  return c;
}

// ---- HF config.json

struct HfReader {
  const Json& j;
  std::string path;

  const Json* find(const char* key) const {
    const Json* v = j.find(key);
    return v && !v->is_null() ? v : nullptr;
  }
  int get_int(const char* key) const {
    const Json* v = find(key);
    if (!v) TC_THROW("%s: missing key \"%s\"", path.c_str(), key);
    return to_int(*v, key);
  }
  int get_int(const char* key, int def) const { return find(key) ? get_int(key) : def; }
  double get_double(const Json& obj, const char* key, double def) const {
    const Json* v = obj.find(key);
    if (!v || v->is_null()) return def;
    if (!v->is_number()) TC_THROW("%s: \"%s\" must be a number", path.c_str(), key);
    return v->as_double();
  }
  bool get_bool(const char* key, bool def) const {
    const Json* v = find(key);
    if (!v) return def;
    if (!v->is_bool()) TC_THROW("%s: \"%s\" must be true or false", path.c_str(), key);
    return v->as_bool();
  }
  int to_int(const Json& v, const char* key) const {
    if (!v.is_number()) TC_THROW("%s: \"%s\" must be an integer", path.c_str(), key);
    double d = v.as_double();
    if (d != std::floor(d) || d < -2147483648.0 || d > 2147483647.0)
      TC_THROW("%s: \"%s\" must be an integer, got %g", path.c_str(), key, d);
    return int(d);
  }
  // An int or a list of ints (eos_token_id).
  void ids(const Json* v, const char* key, std::vector<int32_t>* out) const {
    if (!v || v->is_null()) return;
    auto add = [&](const Json& x) {
      int id = to_int(x, key);
      if (id >= 0 && std::find(out->begin(), out->end(), id) == out->end()) out->push_back(id);
    };
    if (v->is_array()) {
      for (auto& x : v->as_array()) add(x);
    } else {
      add(*v);
    }
  }
};

ModelConfig config_from_hf(const ModelSource& source) {
  const Json& j = *source.hf_config();
  HfReader r{j, source.path() + "/config.json"};
  ModelConfig c;
  c.rope_style = cpu::RopeStyle::Neox;
  std::string model_type = j.get_string("model_type", "");
  if (model_type.empty()) {
    if (const Json* archs = r.find("architectures"); archs && archs->is_array() && archs->size() > 0 &&
                                                     (*archs)[0].is_string()) {
      const std::string& a = (*archs)[0].as_string();
      model_type = a == "LlamaForCausalLM" ? "llama" : a == "Qwen2ForCausalLM" ? "qwen2" : a == "Qwen3ForCausalLM" ? "qwen3" : a;
    }
  }
  c.arch_name = model_type;
  if (model_type == "llama") c.arch = Architecture::Llama;
  else if (model_type == "qwen2") c.arch = Architecture::Qwen2;
  else if (model_type == "qwen3") c.arch = Architecture::Qwen3;
  else if (model_type.empty()) TC_THROW("%s: no \"model_type\" or \"architectures\" to tell the architecture", r.path.c_str());
  else TC_THROW("%s: unknown architecture \"%s\" (thinkcache supports llama, qwen2, qwen3)", r.path.c_str(), model_type.c_str());

  std::string act = j.get_string("hidden_act", "silu");
  TC_CHECK_ARG(act == "silu", "%s: hidden_act \"%s\" is not supported (silu only)", r.path.c_str(), act.c_str());
  if (c.arch != Architecture::Llama)
    TC_CHECK_ARG(!r.get_bool("use_sliding_window", false), "%s: sliding-window attention is not supported", r.path.c_str());

  c.n_layers = r.get_int("num_hidden_layers");
  c.hidden = r.get_int("hidden_size");
  c.ffn_hidden = r.get_int("intermediate_size");
  c.n_heads = r.get_int("num_attention_heads");
  c.n_kv_heads = r.get_int("num_key_value_heads", c.n_heads);
  TC_CHECK_ARG(c.n_heads > 0, "%s: num_attention_heads must be positive", r.path.c_str());
  c.head_dim = r.get_int("head_dim", c.hidden / c.n_heads);
  c.vocab = r.get_int("vocab_size");
  c.context_length = r.get_int("max_position_embeddings");
  c.rms_eps = float(r.get_double(j, "rms_norm_eps", 1e-6));

  // transformers 5 writes "rope_parameters" (theta inside); 4.x wrote rope_theta + rope_scaling.
  c.rope_theta = r.get_double(j, "rope_theta", 10000.0);
  const Json* rope = r.find("rope_parameters");
  if (!rope) rope = r.find("rope_scaling");
  if (rope) {
    TC_CHECK_ARG(rope->is_object(), "%s: rope parameters must be an object", r.path.c_str());
    c.rope_theta = r.get_double(*rope, "rope_theta", c.rope_theta);
    std::string type = rope->get_string("rope_type", rope->get_string("type", "default"));
    if (type == "default") {
      c.rope_scaling = RopeScaling::None;
    } else if (type == "linear") {
      c.rope_scaling = RopeScaling::Linear;
      c.rope_factor = r.get_double(*rope, "factor", 1.0);
    } else if (type == "llama3") {
      c.rope_scaling = RopeScaling::Llama3;
      c.rope_factor = r.get_double(*rope, "factor", 8.0);
      c.rope_low_freq_factor = r.get_double(*rope, "low_freq_factor", 1.0);
      c.rope_high_freq_factor = r.get_double(*rope, "high_freq_factor", 4.0);
      c.rope_original_context = int(r.get_double(*rope, "original_max_position_embeddings", 8192));
    } else {
      TC_THROW("%s: rope type \"%s\" is not supported (default, linear, llama3)", r.path.c_str(), type.c_str());
    }
    if (const Json* partial = rope->find("partial_rotary_factor"); partial && !partial->is_null())
      TC_CHECK_ARG(partial->as_double() == 1.0, "%s: partial rotary embeddings are not supported", r.path.c_str());
  }

  bool attention_bias = r.get_bool("attention_bias", false);
  c.attn_qkv_bias = c.arch == Architecture::Qwen2 || attention_bias;  // Qwen2 always has q/k/v bias
  c.attn_out_bias = c.arch != Architecture::Qwen2 && attention_bias;
  c.mlp_bias = c.arch == Architecture::Llama && r.get_bool("mlp_bias", false);
  c.qk_norm = c.arch == Architecture::Qwen3;
  c.tied_embeddings = r.get_bool("tie_word_embeddings", false);

  c.bos_id = r.find("bos_token_id") ? r.get_int("bos_token_id") : -1;
  r.ids(r.find("eos_token_id"), "eos_token_id", &c.eos_ids);
  if (const Json* gen = source.hf_generation_config(); gen && gen->is_object()) {
    HfReader gr{*gen, source.path() + "/generation_config.json"};
    gr.ids(gr.find("eos_token_id"), "eos_token_id", &c.eos_ids);
  }
  validate(c, r.path);
  return c;
}

}  // namespace

ModelConfig model_config_from_source(const ModelSource& source) {
  return source.format() == ModelFormat::Gguf ? config_from_gguf(source) : config_from_hf(source);
}

std::vector<float> rope_inv_freq(const ModelConfig& c, const float* freq_factors) {
  const int half = c.rope_dim / 2;
  std::vector<float> inv(static_cast<size_t>(half));
  for (int i = 0; i < half; ++i) {
    // HF: 1 / base ** (arange(0, dim, 2) / dim), in float32.
    float exponent = float(2 * i) / float(c.rope_dim);
    float f = float(1.0 / std::pow(c.rope_theta, double(exponent)));
    switch (c.rope_scaling) {
      case RopeScaling::None: break;
      case RopeScaling::Linear: f = float(f / c.rope_factor); break;
      case RopeScaling::Llama3: {
        // transformers _compute_llama3_parameters: long wavelengths are divided by the factor,
        // short ones kept, and the band between is interpolated.
        const double low_wavelen = c.rope_original_context / c.rope_low_freq_factor;
        const double high_wavelen = c.rope_original_context / c.rope_high_freq_factor;
        const double wavelen = 2 * M_PI / f;
        if (wavelen > low_wavelen) {
          f = float(f / c.rope_factor);
        } else if (wavelen >= high_wavelen) {
          double smooth = (c.rope_original_context / wavelen - c.rope_low_freq_factor) /
                          (c.rope_high_freq_factor - c.rope_low_freq_factor);
          f = float((1 - smooth) * f / c.rope_factor + smooth * f);
        }
        break;
      }
    }
    if (freq_factors) f = f / freq_factors[i];
    inv[i] = f;
  }
  return inv;
}

}  // namespace tc

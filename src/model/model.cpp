#include "model/model.h"

#include <algorithm>

#include "text/tokenizer.h"
#include "util/error.h"

namespace tc {

namespace {

class WeightLoader {
 public:
  WeightLoader(const ModelSource& source) : source_(source) {}

  // A matrix [rows][cols] in any supported dtype.
  TensorView matrix(const std::string& name, int64_t rows, int64_t cols) {
    TensorView t = source_.tensor(name);
    if (t.shape.size() != 2 || t.shape[0] != rows || t.shape[1] != cols)
      TC_THROW("%s: tensor %s has shape %s, expected [%lld, %lld] from the config", source_.path().c_str(),
               source_.file_name_of(name).c_str(), shape_str(t.shape).c_str(), (long long)rows, (long long)cols);
    TC_CHECK_ARG(t.dtype != DType::I32, "%s: tensor %s has integer type I32, expected floating point or quantised",
                 source_.path().c_str(), source_.file_name_of(name).c_str());
    return t;
  }

  // A vector [n] converted to f32 (norm weights and biases are tiny).
  std::vector<float> vector(const std::string& name, int64_t n) {
    TensorView t = source_.tensor(name);
    if (t.numel() != n || t.shape.size() > 2 || (t.shape.size() == 2 && t.shape[0] != 1))
      TC_THROW("%s: tensor %s has shape %s, expected [%lld] from the config", source_.path().c_str(),
               source_.file_name_of(name).c_str(), shape_str(t.shape).c_str(), (long long)n);
    if (dtype_info(t.dtype).block_elems != 1 && n % dtype_info(t.dtype).block_elems != 0)
      TC_THROW("%s: tensor %s: %lld elements do not fill whole %s blocks", source_.path().c_str(), name.c_str(),
               (long long)n, dtype_name(t.dtype));
    TC_CHECK_ARG(t.dtype != DType::I32, "%s: tensor %s has integer type I32, expected floating point",
                 source_.path().c_str(), source_.file_name_of(name).c_str());
    std::vector<float> out(static_cast<size_t>(n));
    dequantize_row(t.dtype, t.data, out.data(), n);
    return out;
  }

  Linear linear(const std::string& base, int64_t out, int64_t in, bool bias) {
    Linear l;
    l.w = matrix(base + ".weight", out, in);
    if (bias) l.bias = vector(base + ".bias", out);
    return l;
  }

 private:
  static std::string shape_str(const std::vector<int64_t>& s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + "]";
  }
  const ModelSource& source_;
};

}  // namespace

ModelWeights load_model_weights(const ModelSource& source, const ModelConfig& c) {
  WeightLoader load(source);
  ModelWeights w;
  w.token_embd = load.matrix("token_embd.weight", c.vocab, c.hidden);
  w.layers.resize(size_t(c.n_layers));
  for (int l = 0; l < c.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    LayerWeights& L = w.layers[size_t(l)];
    L.attn_norm = load.vector(p + "attn_norm.weight", c.hidden);
    L.q = load.linear(p + "attn_q", c.q_dim(), c.hidden, c.attn_qkv_bias);
    L.k = load.linear(p + "attn_k", c.kv_dim(), c.hidden, c.attn_qkv_bias);
    L.v = load.linear(p + "attn_v", c.kv_dim(), c.hidden, c.attn_qkv_bias);
    L.o = load.linear(p + "attn_output", c.hidden, c.q_dim(), c.attn_out_bias);
    if (c.qk_norm) {
      L.q_norm = load.vector(p + "attn_q_norm.weight", c.head_dim);
      L.k_norm = load.vector(p + "attn_k_norm.weight", c.head_dim);
    }
    L.ffn_norm = load.vector(p + "ffn_norm.weight", c.hidden);
    L.gate = load.linear(p + "ffn_gate", c.ffn_hidden, c.hidden, c.mlp_bias);
    L.up = load.linear(p + "ffn_up", c.ffn_hidden, c.hidden, c.mlp_bias);
    L.down = load.linear(p + "ffn_down", c.hidden, c.ffn_hidden, c.mlp_bias);
  }
  w.output_norm = load.vector("output_norm.weight", c.hidden);
  w.output = c.tied_embeddings ? w.token_embd : load.matrix("output.weight", c.vocab, c.hidden);
  if (source.format() == ModelFormat::Gguf && source.has("rope_freqs.weight"))
    w.rope_freqs = load.vector("rope_freqs.weight", c.rope_dim / 2);
  return w;
}

std::unique_ptr<Model> Model::load(const std::string& path, const ModelLoadOptions& options) {
  std::unique_ptr<Model> m(new Model());
  m->source_ = ModelSource::open(path);
  m->config_ = model_config_from_source(*m->source_);
  m->weights_ = load_model_weights(*m->source_, m->config_);
  m->inv_freq_ = tc::rope_inv_freq(m->config_, m->weights_.rope_freqs.empty() ? nullptr : m->weights_.rope_freqs.data());

  // Byte and parameter accounting.
  const ModelWeights& w = m->weights_;
  size_t vec_bytes = w.output_norm.size() * 4, mat_bytes = 0;
  int64_t params = int64_t(w.output_norm.size());
  auto add_linear = [&](const Linear& l) {
    mat_bytes += l.w.nbytes;
    vec_bytes += l.bias.size() * 4;
    params += l.w.numel() + int64_t(l.bias.size());
  };
  for (const LayerWeights& L : w.layers) {
    for (const Linear* l : {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down}) add_linear(*l);
    for (const auto* v : {&L.attn_norm, &L.q_norm, &L.k_norm, &L.ffn_norm}) {
      vec_bytes += v->size() * 4;
      params += int64_t(v->size());
    }
  }
  params += w.token_embd.numel() + (m->config_.tied_embeddings ? 0 : w.output.numel());
  m->parameter_count_ = params;
  m->weight_bytes_ = mat_bytes + vec_bytes + w.token_embd.nbytes + (m->config_.tied_embeddings ? 0 : w.output.nbytes);
  m->weight_bytes_per_token_ = mat_bytes + vec_bytes + w.output.nbytes + w.token_embd.row_bytes();

  m->eos_ids_ = m->config_.eos_ids;
  if (options.load_tokenizer) {
    m->tokenizer_ = m->source_->format() == ModelFormat::Gguf ? Tokenizer::from_gguf(*m->source_->gguf())
                                                               : Tokenizer::from_hf_folder(path);
    for (int32_t id : m->tokenizer_->eos_ids())
      if (std::find(m->eos_ids_.begin(), m->eos_ids_.end(), id) == m->eos_ids_.end()) m->eos_ids_.push_back(id);
  }
  return m;
}

Model::~Model() = default;

const Tokenizer& Model::require_tokenizer() const {
  if (!tokenizer_) TC_THROW("%s: the model was loaded without a tokenizer", path().c_str());
  return *tokenizer_;
}

}  // namespace tc

// `thinkcache inspect`: what a model file is — architecture, shapes, tensor types, parameter
// count, weight bytes and KV bytes per token. Loads and validates every weight (so a broken
// file fails here with the same message as at generation time).
#include <cstdio>
#include <map>

#include "cli/args.h"
#include "engine/generate.h"
#include "model/model.h"
#include "util/error.h"
#include "util/json.h"

namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

TC_COMMAND(inspect, "PATH [--tensors] [--json]\n\n"
                    "PATH is a .gguf file or an HF model folder. --tensors lists every tensor.",
           "show a model's architecture, shapes, tensor types and KV bytes per token") {
  auto path = args.positional();
  if (!path) path = args.value("model");
  TC_CHECK_ARG(path.has_value(), "inspect: missing the model PATH");
  const bool list_tensors = args.flag("tensors");
  const bool json = args.flag("json");
  args.finish();

  tc::ModelLoadOptions load;
  load.load_tokenizer = false;
  auto model = tc::Model::load(*path, load);
  const tc::ModelConfig& c = model->config();
  const auto infos = model->source().tensor_infos();
  std::map<std::string, std::pair<int, size_t>> by_type;  // type -> (count, bytes)
  for (auto& t : infos) {
    by_type[t.type_name].first += 1;
    by_type[t.type_name].second += t.nbytes;
  }
  const size_t kv_f16 = c.kv_bytes_per_token(2), kv_f32 = c.kv_bytes_per_token(4);

  if (json) {
    tc::Json out = tc::Json::object();
    out.set("path", *path);
    out.set("format", model->source().format_name());
    out.set("architecture", tc::architecture_name(c.arch));
    out.set("n_layers", c.n_layers);
    out.set("hidden", c.hidden);
    out.set("n_heads", c.n_heads);
    out.set("n_kv_heads", c.n_kv_heads);
    out.set("head_dim", c.head_dim);
    out.set("ffn_hidden", c.ffn_hidden);
    out.set("vocab", c.vocab);
    out.set("context_length", c.context_length);
    out.set("rope_theta", c.rope_theta);
    out.set("rope_style", c.rope_style == tc::cpu::RopeStyle::Neox ? "neox" : "interleaved");
    out.set("qkv_bias", c.attn_qkv_bias);
    out.set("qk_norm", c.qk_norm);
    out.set("tied_embeddings", c.tied_embeddings);
    out.set("parameters", tc::Json(model->parameter_count()));
    out.set("weight_bytes", tc::Json(uint64_t(model->weight_bytes())));
    out.set("weight_bytes_per_token", tc::Json(uint64_t(model->weight_bytes_per_token())));
    out.set("kv_bytes_per_token_f16", tc::Json(uint64_t(kv_f16)));
    out.set("kv_bytes_per_token_f32", tc::Json(uint64_t(kv_f32)));
    tc::Json types = tc::Json::object();
    for (auto& [type, cb] : by_type) types.set(type, cb.first);
    out.set("tensor_types", std::move(types));
    if (list_tensors) {
      tc::Json list = tc::Json::array();
      for (auto& t : infos) {
        tc::Json e = tc::Json::object();
        e.set("name", t.name);
        e.set("type", t.type_name);
        tc::Json shape = tc::Json::array();
        for (auto d : t.shape) shape.push(tc::Json(d));
        e.set("shape", std::move(shape));
        e.set("bytes", tc::Json(uint64_t(t.nbytes)));
        list.push(std::move(e));
      }
      out.set("tensors", std::move(list));
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }

  std::printf("model:        %s (%s)\n", path->c_str(), model->source().format_name());
  std::printf("architecture: %s\n", c.describe().c_str());
  std::printf("parameters:   %lld (%.1f M)\n", (long long)model->parameter_count(), double(model->parameter_count()) / 1e6);
  std::printf("weights:      %.2f MiB; one decode step reads %.2f MiB of weights\n", double(model->weight_bytes()) / 1048576.0,
              double(model->weight_bytes_per_token()) / 1048576.0);
  std::printf("KV per token: %zu bytes at f16/bf16, %zu at f32 (%.2f MiB for the full %d-token context at f16)\n", kv_f16,
              kv_f32, double(kv_f16) * c.context_length / 1048576.0, c.context_length);
  std::printf("tensors:      %zu:", infos.size());
  for (auto& [type, cb] : by_type) std::printf(" %d %s (%.2f MiB)", cb.first, type.c_str(), double(cb.second) / 1048576.0);
  std::printf("\n");
  if (!c.eos_ids.empty()) {
    std::printf("eos ids:     ");
    for (int32_t id : c.eos_ids) std::printf(" %d", id);
    std::printf("\n");
  }
  if (list_tensors)
    for (auto& t : infos)
      std::printf("  %-40s %-8s %-18s %10zu bytes\n", t.name.c_str(), t.type_name.c_str(), shape_text(t.shape).c_str(), t.nbytes);
  return 0;
}

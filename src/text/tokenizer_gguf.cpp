// Loading a tokenizer from a GGUF file's tokenizer.ggml.* metadata (as written by llama.cpp's
// convert_hf_to_gguf.py): tokens (byte-level strings), merges ("a b"), token types, the
// pre-tokenizer name, special token ids and the chat template.
#include <algorithm>
#include <map>

#include "io/gguf.h"
#include "text/bpe_tokenizer.h"
#include "util/error.h"

namespace tc {

namespace {

// GGUF token types (llama.cpp's llama_token_type).
enum : int64_t { kTypeNormal = 1, kTypeUnknown = 2, kTypeControl = 3, kTypeUserDefined = 4, kTypeUnused = 5, kTypeByte = 6 };

struct PreConfig {
  std::vector<PreTokenizeStep> steps;
  bool nfc = false;
  bool llama3 = false;  // ignore_merges and add_bos default, as llama.cpp
};

PreTokenizeStep split_step(RegexScanner s) {
  PreTokenizeStep step;
  step.kind = PreTokenizeStep::Kind::Split;
  step.scanner = s;
  return step;
}
PreTokenizeStep digits_step() {
  PreTokenizeStep step;
  step.kind = PreTokenizeStep::Kind::Digits;
  step.individual_digits = true;
  return step;
}

// tokenizer.ggml.pre names -> the pre-tokenizer of the HF tokenizer they were converted from.
// The alias lists follow llama.cpp's llama-vocab.cpp (names sharing a regex).
const std::map<std::string, std::string>& pre_aliases() {
  static const std::map<std::string, std::string> m = {
      {"qwen2", "qwen2"}, {"deepseek-r1-qwen", "qwen2"}, {"stablelm2", "qwen2-nonfc"}, {"megrez", "qwen2-nonfc"},
      {"llama3", "llama3"}, {"llama-v3", "llama3"}, {"llama-bpe", "llama3"}, {"falcon3", "llama3"},
      {"falcon-h1", "llama3"}, {"pixtral", "llama3"}, {"midm-2.0", "llama3"}, {"lfm2", "llama3"},
      {"gpt-2", "gpt2"}, {"gpt2", "gpt2"}, {"phi-2", "gpt2"}, {"jina-es", "gpt2"}, {"jina-de", "gpt2"},
      {"jina-v2-es", "gpt2"}, {"jina-v2-de", "gpt2"}, {"jina-v2-code", "gpt2"}, {"mpt", "gpt2"},
      {"olmo", "gpt2"}, {"jais", "gpt2"},
      {"smollm", "digits+gpt2"}, {"starcoder", "digits+gpt2"}, {"refact", "digits+gpt2"},
      {"command-r", "digits+gpt2"}, {"codeshell", "digits+gpt2"}, {"exaone", "digits+gpt2"},
      {"minerva", "digits+gpt2"},
  };
  return m;
}

PreConfig pre_config(const std::string& pre, const std::string& path) {
  auto it = pre_aliases().find(pre);
  if (it == pre_aliases().end()) {
    std::string known;
    for (const auto& [name, kind] : pre_aliases()) known += (known.empty() ? "" : ", ") + name;
    TC_THROW("%s: unknown pre-tokenizer tokenizer.ggml.pre='%s' (known: %s)", path.c_str(), pre.c_str(), known.c_str());
  }
  PreConfig c;
  PreTokenizeStep byte_level;
  byte_level.kind = PreTokenizeStep::Kind::ByteLevel;
  const std::string& kind = it->second;
  if (kind == "qwen2" || kind == "qwen2-nonfc") {
    // Qwen2/Qwen3 (and the R1 Qwen distills) declare an NFC normalizer in tokenizer.json.
    c.nfc = kind == "qwen2";
    c.steps = {split_step(RegexScanner::Qwen2), byte_level};
  } else if (kind == "llama3") {
    c.llama3 = true;
    c.steps = {split_step(RegexScanner::Llama3), byte_level};
  } else if (kind == "gpt2") {
    byte_level.use_regex = true;
    c.steps = {byte_level};
  } else {  // digits+gpt2: Digits(individual_digits) then ByteLevel(use_regex)
    byte_level.use_regex = true;
    c.steps = {digits_step(), byte_level};
  }
  return c;
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const GgufFile& gguf) {
  const std::string& path = gguf.path();
  if (!gguf.has("tokenizer.ggml.model")) TC_THROW("%s: GGUF file has no tokenizer (tokenizer.ggml.model is missing)", path.c_str());
  std::string model = gguf.get_string("tokenizer.ggml.model");
  if (model != "gpt2") TC_THROW("%s: tokenizer.ggml.model='%s' is not supported (thinkcache supports byte-level BPE, 'gpt2')", path.c_str(), model.c_str());
  if (!gguf.has("tokenizer.ggml.tokens")) TC_THROW("%s: GGUF file has no vocabulary (tokenizer.ggml.tokens is missing)", path.c_str());
  if (!gguf.has("tokenizer.ggml.merges")) TC_THROW("%s: GGUF file has no BPE merges (tokenizer.ggml.merges is missing)", path.c_str());
  const auto& tokens = gguf.get_string_array("tokenizer.ggml.tokens");
  const auto& merges = gguf.get_string_array("tokenizer.ggml.merges");
  if (tokens.empty()) TC_THROW("%s: tokenizer.ggml.tokens is empty", path.c_str());
  std::vector<int64_t> types;
  if (gguf.has("tokenizer.ggml.token_type")) {
    types = gguf.get_int_array("tokenizer.ggml.token_type");
    if (types.size() != tokens.size())
      TC_THROW("%s: tokenizer.ggml.token_type has %zu entries for %zu tokens", path.c_str(), types.size(), tokens.size());
  }
  std::string pre = gguf.get_string("tokenizer.ggml.pre", "default");
  PreConfig pc = pre_config(pre, path);

  BpeTokenizerSpec spec;
  spec.source = path;
  spec.vocab = tokens;
  spec.nfc = pc.nfc;
  spec.pre_steps = pc.steps;
  spec.ignore_merges = pc.llama3;
  spec.merges.reserve(merges.size());
  for (size_t k = 0; k < merges.size(); ++k) {
    const std::string& m = merges[k];
    size_t sp = m.find(' ');
    if (sp == std::string::npos || sp == 0 || sp + 1 == m.size())
      TC_THROW("%s: tokenizer.ggml.merges[%zu] = '%s' is not of the form \"a b\"", path.c_str(), k, m.c_str());
    spec.merges.emplace_back(m.substr(0, sp), m.substr(sp + 1));
  }
  for (size_t id = 0; id < types.size(); ++id) {
    if (types[id] != kTypeControl && types[id] != kTypeUserDefined) continue;
    AddedToken t;
    t.id = int32_t(id);
    t.content = tokens[id];
    t.special = types[id] == kTypeControl;
    spec.added.push_back(std::move(t));
  }
  auto special_id = [&](const char* key) -> int32_t {
    if (!gguf.has(key)) return -1;
    int64_t id = gguf.get_int(key);
    if (id < 0 || id >= int64_t(tokens.size())) TC_THROW("%s: %s = %lld is outside the vocabulary (%zu tokens)", path.c_str(), key, (long long)id, tokens.size());
    return int32_t(id);
  };
  spec.bos_id = special_id("tokenizer.ggml.bos_token_id");
  for (const char* key : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"}) {
    if (int32_t id = special_id(key); id >= 0) spec.eos_ids.push_back(id);
  }
  spec.add_bos = gguf.get_bool("tokenizer.ggml.add_bos_token", pc.llama3) && spec.bos_id >= 0;
  spec.chat_template = gguf.get_string("tokenizer.chat_template", "");
  add_end_of_turn_eos(spec);
  return std::make_unique<BpeTokenizer>(std::move(spec));
}

}  // namespace tc

// Loading a tokenizer from an HF model folder: tokenizer.json (the source of truth for the
// vocabulary, merges, added tokens, normalizer and pre-tokenizer) plus, when present,
// tokenizer_config.json (bos/eos names, add_bos_token, chat_template), chat_template.jinja
// and generation_config.json (eos ids).
#include <filesystem>
#include <fstream>
#include <sstream>

#include "text/bpe_tokenizer.h"
#include "util/error.h"
#include "util/json.h"

namespace tc {

namespace fs = std::filesystem;

namespace {

std::string read_text_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) TC_THROW("cannot open %s", path.c_str());
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A string member that may be absent or null ("" then).
std::string optional_string(const Json& obj, const char* key) {
  const Json* v = obj.find(key);
  return v && !v->is_null() ? v->as_string() : std::string();
}
bool optional_bool(const Json& obj, const char* key) {
  const Json* v = obj.find(key);
  return v && !v->is_null() && v->as_bool();
}

// A `Regex` / `String` pattern object of a Split pre-tokenizer.
std::string split_pattern(const Json& pattern, const std::string& where) {
  if (const Json* r = pattern.find("Regex")) return r->as_string();
  if (const Json* s = pattern.find("String")) {
    TC_THROW("%s: Split with a plain string pattern '%s' is not supported (only the GPT-2, "
             "Qwen2 and Llama-3 regexes are)", where.c_str(), s->as_string().c_str());
  }
  TC_THROW("%s: Split pre-tokenizer without a Regex pattern", where.c_str());
}

void parse_pre_tokenizer(const Json& pt, const std::string& where, std::vector<PreTokenizeStep>& steps) {
  if (pt.is_null()) return;
  std::string type = pt.get_string("type");
  if (type == "Sequence") {
    for (const Json& sub : pt.at("pretokenizers").as_array()) parse_pre_tokenizer(sub, where, steps);
    return;
  }
  PreTokenizeStep step;
  if (type == "ByteLevel") {
    step.kind = PreTokenizeStep::Kind::ByteLevel;
    step.add_prefix_space = pt.get_bool("add_prefix_space", true);
    step.use_regex = pt.get_bool("use_regex", true);
  } else if (type == "Split") {
    step.kind = PreTokenizeStep::Kind::Split;
    std::string pattern = split_pattern(pt.at("pattern"), where);
    auto scanner = regex_scanner_for_pattern(pattern);
    if (!scanner) TC_THROW("%s: unsupported Split regex '%s' (supported: the GPT-2, Qwen2 and Llama-3 patterns)", where.c_str(), pattern.c_str());
    step.scanner = *scanner;
    std::string behavior = pt.get_string("behavior", "Isolated");
    if (behavior != "Isolated") TC_THROW("%s: unsupported Split behavior '%s' (supported: Isolated)", where.c_str(), behavior.c_str());
    if (pt.get_bool("invert", false)) TC_THROW("%s: unsupported Split with invert=true", where.c_str());
  } else if (type == "Digits") {
    step.kind = PreTokenizeStep::Kind::Digits;
    step.individual_digits = pt.get_bool("individual_digits", false);
  } else {
    TC_THROW("%s: unsupported pre-tokenizer type '%s' (supported: ByteLevel, Split, Digits, Sequence)", where.c_str(), type.c_str());
  }
  steps.push_back(step);
}

bool parse_normalizer(const Json& n, const std::string& where) {
  if (n.is_null()) return false;
  std::string type = n.get_string("type");
  if (type == "NFC") return true;
  if (type == "Sequence") {
    bool nfc = false;
    for (const Json& sub : n.at("normalizers").as_array()) nfc = parse_normalizer(sub, where) || nfc;
    return nfc;
  }
  TC_THROW("%s: unsupported normalizer type '%s' (supported: NFC)", where.c_str(), type.c_str());
}

void check_decoder(const Json& d, const std::string& where) {
  if (d.is_null()) return;
  std::string type = d.get_string("type");
  if (type == "ByteLevel") return;
  if (type == "Sequence") {
    for (const Json& sub : d.at("decoders").as_array()) check_decoder(sub, where);
    return;
  }
  TC_THROW("%s: unsupported decoder type '%s' (a byte-level BPE tokenizer decodes with ByteLevel)", where.c_str(), type.c_str());
}

// True when the post-processor starts a single sequence with a special token (adds BOS).
bool post_processor_adds_prefix(const Json& p) {
  if (p.is_null()) return false;
  std::string type = p.get_string("type");
  if (type == "Sequence") {
    for (const Json& sub : p.at("processors").as_array()) {
      if (post_processor_adds_prefix(sub)) return true;
    }
    return false;
  }
  if (type != "TemplateProcessing") return false;
  const Json* single = p.find("single");
  if (!single || !single->is_array() || single->size() == 0) return false;
  return (*single)[0].contains("SpecialToken");
}

// A token named in tokenizer_config.json: a string or {"content": ...}.
std::string config_token(const Json& config, const char* key) {
  const Json* v = config.find(key);
  if (!v || v->is_null()) return "";
  if (v->is_string()) return v->as_string();
  if (v->is_object()) return v->get_string("content");
  return "";
}

std::string config_chat_template(const Json& config) {
  const Json* t = config.find("chat_template");
  if (!t || t->is_null()) return "";
  if (t->is_string()) return t->as_string();
  if (t->is_array()) {  // [{"name": ..., "template": ...}]: the default one
    for (const Json& e : t->as_array()) {
      if (e.get_string("name") == "default") return e.get_string("template");
    }
  }
  return "";
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_hf_folder(const std::string& folder) {
  fs::path dir(folder);
  std::string path = (dir / "tokenizer.json").string();
  if (!fs::exists(path)) TC_THROW("%s: no tokenizer.json in this folder (a model folder needs tokenizer.json, or pass a GGUF file)", folder.c_str());
  Json j = Json::parse_file(path);
  if (!j.is_object()) TC_THROW("%s: not a tokenizer.json (expected a JSON object)", path.c_str());
  BpeTokenizerSpec spec;
  spec.source = path;
  try {
    const Json& model = j.at("model");
    std::string type = model.get_string("type", "BPE");
    if (type != "BPE") TC_THROW("model type '%s' is not supported (thinkcache supports byte-level BPE)", type.c_str());
    if (const Json* d = model.find("dropout"); d && !d->is_null() && d->as_double() != 0) TC_THROW("BPE dropout is not supported");
    if (!optional_string(model, "continuing_subword_prefix").empty()) TC_THROW("continuing_subword_prefix is not supported");
    if (!optional_string(model, "end_of_word_suffix").empty()) TC_THROW("end_of_word_suffix is not supported");
    if (optional_bool(model, "byte_fallback")) TC_THROW("byte_fallback BPE is not supported (not a byte-level vocabulary)");
    spec.ignore_merges = optional_bool(model, "ignore_merges");

    const Json::Object& vocab = model.at("vocab").as_object();
    int64_t max_id = -1;
    for (const auto& [token, id] : vocab) max_id = std::max(max_id, id.as_int());
    if (max_id >= (int64_t(1) << 30)) TC_THROW("vocabulary id %lld is too large", (long long)max_id);
    spec.vocab.resize(size_t(max_id + 1));
    for (const auto& [token, id] : vocab) {
      if (id.as_int() < 0) TC_THROW("vocabulary entry '%s' has a negative id", token.c_str());
      spec.vocab[size_t(id.as_int())] = token;
    }
    const Json::Array& merges = model.at("merges").as_array();
    spec.merges.reserve(merges.size());
    for (const Json& m : merges) {
      if (m.is_string()) {
        const std::string& s = m.as_string();
        size_t sp = s.find(' ');
        if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos) TC_THROW("malformed merge '%s' (expected \"a b\")", s.c_str());
        spec.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
      } else {
        if (!m.is_array() || m.size() != 2) TC_THROW("malformed merge (expected \"a b\" or [\"a\", \"b\"])");
        spec.merges.emplace_back(m[0].as_string(), m[1].as_string());
      }
    }
    if (const Json* added = j.find("added_tokens"); added && !added->is_null()) {
      for (const Json& a : added->as_array()) {
        AddedToken t;
        t.id = int32_t(a.at("id").as_int());
        t.content = a.at("content").as_string();
        t.special = a.get_bool("special", false);
        t.lstrip = a.get_bool("lstrip", false);
        t.rstrip = a.get_bool("rstrip", false);
        t.normalized = a.get_bool("normalized", !t.special);
        t.single_word = a.get_bool("single_word", false);
        spec.added.push_back(std::move(t));
      }
    }
    spec.nfc = parse_normalizer(j.contains("normalizer") ? j.at("normalizer") : Json(), path);
    parse_pre_tokenizer(j.contains("pre_tokenizer") ? j.at("pre_tokenizer") : Json(), path, spec.pre_steps);
    bool byte_level = false;
    for (const PreTokenizeStep& s : spec.pre_steps) byte_level |= s.kind == PreTokenizeStep::Kind::ByteLevel;
    if (!byte_level) TC_THROW("no ByteLevel pre-tokenizer: not a byte-level BPE tokenizer");
    check_decoder(j.contains("decoder") ? j.at("decoder") : Json(), path);
    spec.add_bos = post_processor_adds_prefix(j.contains("post_processor") ? j.at("post_processor") : Json());
  } catch (const Error& e) {
    std::string msg = e.what();
    if (msg.rfind(path, 0) == 0) throw;
    TC_THROW("%s: %s", path.c_str(), msg.c_str());
  }

  auto id_of = [&](const std::string& token) -> int32_t {
    for (const AddedToken& t : spec.added) {
      if (t.content == token) return t.id;
    }
    for (size_t id = 0; id < spec.vocab.size(); ++id) {
      if (spec.vocab[id] == token) return int32_t(id);
    }
    return -1;
  };
  std::string config_path = (dir / "tokenizer_config.json").string();
  std::string bos_name;
  if (fs::exists(config_path)) {
    Json config = Json::parse_file(config_path);
    try {
      bos_name = config_token(config, "bos_token");
      std::string eos_name = config_token(config, "eos_token");
      if (!eos_name.empty()) {
        int32_t eos = id_of(eos_name);
        if (eos < 0) TC_THROW("eos_token '%s' is not in the vocabulary", eos_name.c_str());
        spec.eos_ids.push_back(eos);
      }
      if (const Json* v = config.find("add_bos_token"); v && v->is_bool()) spec.add_bos = v->as_bool();
      spec.chat_template = config_chat_template(config);
    } catch (const Error& e) {
      TC_THROW("%s: %s", config_path.c_str(), e.what());
    }
  }
  if (!bos_name.empty()) {
    spec.bos_id = id_of(bos_name);
    if (spec.bos_id < 0) TC_THROW("%s: bos_token '%s' is not in the vocabulary", config_path.c_str(), bos_name.c_str());
  } else if (spec.add_bos) {
    // BOS named only by the post-processor's template.
    const Json& p = j.at("post_processor");
    std::vector<const Json*> stack{&p};
    while (!stack.empty() && spec.bos_id < 0) {
      const Json* q = stack.back();
      stack.pop_back();
      if (q->get_string("type") == "Sequence") {
        for (const Json& sub : q->at("processors").as_array()) stack.push_back(&sub);
      } else if (q->get_string("type") == "TemplateProcessing") {
        spec.bos_id = id_of((*q->find("single"))[0].at("SpecialToken").get_string("id"));
      }
    }
  }
  if (std::string jinja = (dir / "chat_template.jinja").string(); fs::exists(jinja)) {
    spec.chat_template = read_text_file(jinja);
  }
  if (std::string gen = (dir / "generation_config.json").string(); fs::exists(gen)) {
    Json g = Json::parse_file(gen);
    if (const Json* e = g.find("eos_token_id"); e && !e->is_null()) {
      try {
        if (e->is_array()) {
          for (const Json& x : e->as_array()) spec.eos_ids.push_back(int32_t(x.as_int()));
        } else {
          spec.eos_ids.push_back(int32_t(e->as_int()));
        }
      } catch (const Error& err) {
        TC_THROW("%s: eos_token_id: %s", gen.c_str(), err.what());
      }
    }
  }
  add_end_of_turn_eos(spec);
  return std::make_unique<BpeTokenizer>(std::move(spec));
}

}  // namespace tc

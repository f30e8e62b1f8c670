// Tokenizer::load (dispatch on the path) and the EOS rule shared by both loaders.
#include "text/tokenizer.h"

#include <algorithm>
#include <filesystem>

#include "io/gguf.h"
#include "text/bpe_tokenizer.h"
#include "util/error.h"

namespace tc {

namespace fs = std::filesystem;

void add_end_of_turn_eos(BpeTokenizerSpec& spec) {
  if (!spec.chat_template.empty()) {
    for (const std::string& marker : end_of_turn_markers()) {
      if (spec.chat_template.find(marker) == std::string::npos) continue;
      int32_t id = -1;
      for (const AddedToken& t : spec.added) {
        if (t.content == marker) id = t.id;
      }
      if (id < 0) {
        auto it = std::find(spec.vocab.begin(), spec.vocab.end(), marker);
        if (it != spec.vocab.end()) id = int32_t(it - spec.vocab.begin());
      }
      if (id >= 0) spec.eos_ids.push_back(id);
    }
  }
  std::vector<int32_t> unique;
  for (int32_t id : spec.eos_ids) {
    if (std::find(unique.begin(), unique.end(), id) == unique.end()) unique.push_back(id);
  }
  spec.eos_ids = std::move(unique);
}

std::unique_ptr<Tokenizer> Tokenizer::load(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) TC_THROW("%s: no such file or folder", path.c_str());
  if (fs::is_directory(path, ec)) return from_hf_folder(path);
  if (is_gguf_file(path)) {
    GgufFile gguf(path);
    return from_gguf(gguf);
  }
  if (fs::path(path).filename() == "tokenizer.json") return from_hf_folder(fs::path(path).parent_path().string());
  TC_THROW("%s: not a model folder (with tokenizer.json) nor a GGUF file", path.c_str());
}

}  // namespace tc

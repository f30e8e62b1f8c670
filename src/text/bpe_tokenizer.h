// The one Tokenizer implementation: byte-level BPE with added/special tokens, an optional
// NFC normalizer and a pre-tokenizer pipeline. Loaders (tokenizer_hf.cpp, tokenizer_gguf.cpp)
// fill a BpeTokenizerSpec from their format; everything after that is format-independent.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "text/bpe.h"
#include "text/pretokenizer.h"
#include "text/string_id_map.h"
#include "text/tokenizer.h"

namespace tc {

// An added token (HF `added_tokens`, GGUF control/user-defined tokens): matched in the text
// before pre-tokenization and never split.
struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = false;      // skipped by decode(skip_special) and by encode(allow_special=false)
  bool lstrip = false;       // the match swallows whitespace on its left
  bool rstrip = false;       // ... and on its right
  bool normalized = false;   // matched in the normalized text rather than the raw text
  bool single_word = false;  // matched only when not inside a word
};

struct BpeTokenizerSpec {
  std::string source;  // the file it came from, for messages
  // vocab: [n_vocab] the stored string of each id (byte-level for BPE tokens, the content
  // for added tokens); an empty string marks an unused id.
  std::vector<std::string> vocab;
  std::vector<std::pair<std::string, std::string>> merges;  // rank order, vocab strings
  std::vector<AddedToken> added;
  bool nfc = false;
  std::vector<PreTokenizeStep> pre_steps;
  bool ignore_merges = false;
  int32_t bos_id = -1;
  bool add_bos = false;
  std::vector<int32_t> eos_ids;
  std::string chat_template;
};

// End-of-turn markers that end generation when the chat template uses them (see eos rule
// in tokenizer.h).
const std::vector<std::string>& end_of_turn_markers();
// Applies the EOS rule: adds to spec.eos_ids every end-of_turn marker that the chat template
// mentions and the vocabulary holds; drops duplicates.
void add_end_of_turn_eos(BpeTokenizerSpec& spec);

class BpeTokenizer final : public Tokenizer {
 public:
  explicit BpeTokenizer(BpeTokenizerSpec spec);

  std::vector<int32_t> encode(std::string_view text, bool allow_special = true) const override;
  std::vector<std::string> pre_tokenize(std::string_view text) const override;
  std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const override;
  std::string token_bytes(int32_t id) const override;
  std::string token_string(int32_t id) const override;
  std::optional<int32_t> find_token(std::string_view token_string) const override;
  int vocab_size() const override { return int(vocab_.size()); }
  int32_t bos_id() const override { return bos_id_; }
  bool add_bos() const override { return add_bos_; }
  const std::vector<int32_t>& eos_ids() const override { return eos_ids_; }
  bool is_special(int32_t id) const override;
  const std::string& chat_template_source() const override { return chat_template_; }
  std::string describe() const override;

 private:
  // A trie over added-token contents for leftmost-longest matching.
  struct TrieNode {
    std::vector<std::pair<unsigned char, int32_t>> children;  // (byte, node index), sorted
    int32_t token = -1;                                       // index into added_, or -1
  };
  struct Trie {
    std::vector<TrieNode> nodes{TrieNode{}};
    bool first_byte[256] = {};
    bool empty() const { return nodes.size() == 1; }
    void insert(std::string_view s, int32_t token);
    // The longest token starting at text[pos]: (index into added_, length) or (-1, 0).
    std::pair<int32_t, size_t> longest_at(std::string_view text, size_t pos) const;
  };
  struct Segment {
    std::string_view text;  // plain text when added == -1
    int32_t added = -1;     // index into added_
  };
  void split_added(std::string_view text, const Trie& trie, bool allow_special,
                   std::vector<Segment>& out) const;
  void encode_plain(std::string_view text, std::vector<int32_t>& out) const;
  void check_id(int32_t id) const;

  std::string source_;
  std::vector<std::string> model_vocab_;  // [n_model] the BPE vocabulary's strings (index keys)
  StringIdMap vocab_index_;               // model vocabulary string -> id
  std::vector<std::string> vocab_;        // [n_vocab] stored strings, added tokens included
  std::vector<std::string> token_bytes_;  // [n_vocab] raw bytes
  std::vector<int8_t> special_;           // [n_vocab] 1 for special added tokens
  std::vector<AddedToken> added_;
  Trie raw_trie_, normalized_trie_;
  BpeModel model_;
  PreTokenizer pre_tokenizer_;
  bool nfc_ = false;
  int32_t bos_id_ = -1;
  bool add_bos_ = false;
  std::vector<int32_t> eos_ids_;
  std::string chat_template_;
  size_t n_merges_ = 0;
};

}  // namespace tc

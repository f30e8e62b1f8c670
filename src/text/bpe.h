// The byte-level BPE model: a vocabulary of byte strings and ranked merges, applied to one
// pre-token at a time. Merges run lowest rank first, leftmost first among equal ranks (the
// order HF tokenizers' BPE applies them), with a heap over a linked list of symbols.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "text/string_id_map.h"

namespace tc {

// GPT-2's byte <-> printable-character mapping used by byte-level BPE vocabularies.
// byte_level_char(b): the code point standing for byte b ('Ġ' = U+0120 for ' ').
uint32_t byte_level_char(uint8_t byte);
// The byte a byte-level character stands for, or -1 if the character is not one of the 256.
int byte_level_byte(uint32_t cp);
// Maps raw bytes to their byte-level string ("hello world" -> "helloĠworld").
std::string byte_level_encode(std::string_view bytes);
// Inverse; returns false (and leaves `out` partial) if a character is not byte-level.
bool byte_level_decode(std::string_view text, std::string& out);

class BpeModel {
 public:
  BpeModel() = default;
  // token_bytes: [n_tokens] raw bytes of each vocabulary entry that takes part in BPE
  // (entries with an empty string are ignored); merges: [n_merges] pairs of token ids with
  // their result, in rank order. ignore_merges: a pre-token that is itself a vocabulary
  // entry is emitted whole (Llama-3).
  struct Merge {
    int32_t left, right, result;
  };
  BpeModel(const std::vector<std::string>& token_bytes, const std::vector<Merge>& merges, bool ignore_merges);
  // Movable, not copyable: the lookup map views the strings of token_bytes_.
  BpeModel(BpeModel&&) = default;
  BpeModel& operator=(BpeModel&&) = default;
  BpeModel(const BpeModel&) = delete;
  BpeModel& operator=(const BpeModel&) = delete;

  // Appends the ids of one pre-token (raw bytes) to `out`.
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;
  // The id of the vocabulary entry with exactly these bytes, or -1.
  int32_t find_bytes(std::string_view bytes) const;

 private:
  struct MergeSlot {
    uint64_t key = ~uint64_t(0);  // (left << 32) | right; all ones = empty
    int32_t rank = 0;
    int32_t result = 0;
  };
  const MergeSlot* find_merge(int32_t left, int32_t right) const;

  std::vector<std::string> token_bytes_;  // [n_tokens] raw bytes (the keys of bytes_to_id_)
  StringIdMap bytes_to_id_;
  int32_t byte_token_[256];       // id of the single-byte token, -1 if the vocabulary lacks it
  std::vector<MergeSlot> merges_;  // open addressing, power-of-two capacity
  uint64_t merge_mask_ = 0;
  bool ignore_merges_ = false;
};

}  // namespace tc

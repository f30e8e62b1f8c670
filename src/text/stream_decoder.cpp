#include "text/tokenizer.h"
#include "text/unicode.h"

namespace tc {

std::string StreamDecoder::push(int32_t id) {
  if (skip_special_ && tokenizer_.is_special(id)) return {};
  // Models often pad their vocabulary beyond the tokenizer's (Qwen3: 151936 rows for 151669
  // tokens); a generated id the tokenizer does not know has no text, as in HF's decode.
  if (id < 0 || id >= tokenizer_.vocab_size()) return {};
  pending_ += tokenizer_.token_bytes(id);
  // Everything up to an unfinished sequence at the end is final: emit it (invalid bytes in
  // it can never become valid, so they are replaced now).
  size_t complete = utf8_complete_prefix(pending_);
  std::string out = utf8_sanitize(std::string_view(pending_).substr(0, complete));
  pending_.erase(0, complete);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out = utf8_sanitize(pending_);
  pending_.clear();
  return out;
}

}  // namespace tc

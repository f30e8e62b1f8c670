// Byte-level BPE tokenizer (GPT-2 / Qwen2 / Qwen3 / Llama-3 / SmolLM2 families), loaded from
// an HF tokenizer.json (+ tokenizer_config.json) or from a GGUF file's tokenizer.ggml.* keys.
// Exactness against HF `tokenizers` is the contract: same ids for the same text.
//
// Sources of metadata (documented rules):
// - add_bos(): tokenizer_config.json `add_bos_token` if present, else true when tokenizer.json's
//   post_processor (TemplateProcessing, possibly inside a Sequence) starts a single sequence with
//   a special token; GGUF: `tokenizer.ggml.add_bos_token`, defaulting to true for the Llama-3
//   pre-tokenizers (as llama.cpp) and false otherwise. encode() never adds BOS itself.
// - eos_ids(): the declared EOS (tokenizer_config.json `eos_token` / GGUF `eos_token_id`), the
//   ids of generation_config.json `eos_token_id` when the folder has one, GGUF `eot_token_id` /
//   `eom_token_id`, plus every end-of-turn marker among <|im_end|>, <|eot_id|>, <|eom_id|>,
//   <|end_of_text|>, <|endoftext|>, <｜end▁of▁sentence｜> that the chat template mentions.
// - Invalid UTF-8 given to encode() is first replaced by U+FFFD per maximal invalid subpart
//   (what Python's bytes.decode('utf-8', errors='replace') produces), then encoded.
//
// Supported tokenizer.json pieces: model BPE (byte-level vocabulary, ignore_merges); normalizer
// NFC (or none); pre-tokenizers ByteLevel(add_prefix_space, use_regex), Split(GPT-2 / Qwen2 /
// Llama-3 regex, Isolated), Digits, Sequence; decoder ByteLevel. Anything else is an error that
// names it. Unicode data follows HF tokenizers 0.23: regex categories Unicode 16.0, Digits'
// numerics 17.0, NFC 9.0 (tools/gen_unicode_tables.py). Known gaps: single_word added tokens
// test word characters as \p{L}|\p{N} (HF: Rust's Alphabetic|Numeric, which also counts a few
// combining marks); decode() keeps partial UTF-8 as raw bytes where HF replaces it by U+FFFD
// (use StreamDecoder or utf8_sanitize for display).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tc {

class GgufFile;

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // A model path: a GGUF file, or a folder holding tokenizer.json (a folder with only the
  // tokenizer files is enough). Throws tc::Error naming the file and the problem.
  static std::unique_ptr<Tokenizer> load(const std::string& path);
  static std::unique_ptr<Tokenizer> from_gguf(const GgufFile& gguf);
  static std::unique_ptr<Tokenizer> from_hf_folder(const std::string& folder);

  // Text -> ids. Added/special tokens written in the text are recognised when
  // allow_special is true (as HF does by default). Never adds BOS: see add_bos().
  virtual std::vector<int32_t> encode(std::string_view text, bool allow_special = true) const = 0;
  // The pre-tokens (raw bytes) the pre-tokenizer splits `text` into, without normalization or
  // added-token matching: what BPE merges never cross. For inspection and tests.
  virtual std::vector<std::string> pre_tokenize(std::string_view text) const = 0;
  // Ids -> text (invalid UTF-8 from partial byte tokens is kept as raw bytes).
  virtual std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const = 0;
  // The raw bytes a single token stands for.
  virtual std::string token_bytes(int32_t id) const = 0;
  // The token's vocabulary string as stored (e.g. "Ġhello").
  virtual std::string token_string(int32_t id) const = 0;
  virtual std::optional<int32_t> find_token(std::string_view token_string) const = 0;

  virtual int vocab_size() const = 0;
  virtual int32_t bos_id() const = 0;            // -1 if none
  virtual bool add_bos() const = 0;              // prompts start with BOS (per metadata)
  virtual const std::vector<int32_t>& eos_ids() const = 0;  // tokens that end generation
  virtual bool is_special(int32_t id) const = 0;
  // The chat template text shipped with the model (jinja source), empty if none.
  virtual const std::string& chat_template_source() const = 0;
  // One line for logs: source, sizes, normalizer, pre-tokenizer, bos/eos.
  virtual std::string describe() const = 0;
};

// Incremental detokenizer for streaming: returns only complete UTF-8 text, holding back
// the bytes of a character split across tokens.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool skip_special = false)
      : tokenizer_(tokenizer), skip_special_(skip_special) {}
  // Text now complete (may be empty). Bytes that can never become valid UTF-8 are emitted as
  // U+FFFD right away; an incomplete sequence at the end is held back until the next push.
  std::string push(int32_t id);
  std::string flush();  // whatever remains (an unfinished sequence as U+FFFD)

 private:
  const Tokenizer& tokenizer_;
  bool skip_special_ = false;
  std::string pending_;
};

struct ChatMessage {
  std::string role;  // "system", "user", "assistant"
  std::string content;
};

struct ChatOptions {
  bool add_generation_prompt = true;
  bool enable_thinking = true;  // Qwen3's switch
};

// Hard-coded renderers for the supported families, chosen from the model's own template:
//   qwen3               ChatML + <think> handling (enable_thinking=false adds an empty think)
//   qwen2.5             ChatML with Qwen's default system prompt
//   deepseek-r1-distill <｜User｜>/<｜Assistant｜> with a trailing "<think>\n" (Qwen and Llama distills)
//   llama3              Llama-3 header tokens (the 3.0 template: no date preamble)
//   smollm2             ChatML with SmolLM's default system prompt
// Roles: system, user, assistant, and tool where the family's template has it (plain string
// contents: no tool_calls or reasoning_content fields). Llama-3.1+ templates (dated system
// preamble, tools) are not transcribed: detect() refuses them by name; "llama3" forces 3.0.
class ChatTemplate {
 public:
  // Detects the family from the tokenizer's template source; `override_name` (non-empty)
  // forces one of known_names(). Throws naming the template when it is not supported.
  static ChatTemplate detect(const Tokenizer& tokenizer, const std::string& override_name = "");
  static std::vector<std::string> known_names();
  // The family a template source belongs to, or "" when it is not recognised.
  static std::string detect_name(const std::string& template_source);
  // A renderer by name (one of known_names()), with the BOS text templates insert.
  static ChatTemplate by_name(const std::string& name, const std::string& bos_text = "");

  const std::string& name() const { return name_; }
  // Byte-identical to transformers' apply_chat_template(messages, tokenize=False, ...).
  // The text may start with the BOS token's text (llama3, deepseek-r1-distill): encode it
  // with allow_special and do not add another BOS when it already starts with bos_id().
  std::string render(const std::vector<ChatMessage>& messages, const ChatOptions& options = {}) const;

 private:
  std::string name_;
  std::string bos_text_;
};

}  // namespace tc

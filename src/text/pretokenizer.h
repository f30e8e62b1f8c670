// Pre-tokenization: splitting text into the pieces that BPE merges never cross.
// The three regexes of the supported families are implemented as hand-written scanners
// (no regex engine): each reproduces leftmost-first alternation with backtracking exactly
// as HF tokenizers' engine (Oniguruma) runs these specific patterns.
//   GPT-2 : 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//   Qwen2 : (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//   Llama3: as Qwen2 with \p{N}{1,3}
#pragma once

#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tc {

enum class RegexScanner { Gpt2, Qwen2, Llama3 };

const char* regex_scanner_name(RegexScanner scanner);
// The scanner implementing a tokenizer.json Split/ByteLevel regex, or nullopt if unknown.
std::optional<RegexScanner> regex_scanner_for_pattern(std::string_view pattern);
// Appends the matches of the scanner's regex over `text` (which must be valid UTF-8) to
// `out`; the pieces cover `text` exactly, in order.
void regex_scan(RegexScanner scanner, std::string_view text, std::vector<std::string_view>& out);

// One step of an HF pre-tokenizer pipeline; each step re-splits the pieces of the previous.
struct PreTokenizeStep {
  enum class Kind {
    Split,      // Split(pattern, behavior=Isolated): `scanner`
    ByteLevel,  // ByteLevel(add_prefix_space, use_regex): GPT-2 scanner when use_regex
    Digits,     // Digits(individual_digits): isolates \p{N} runs (or single \p{N})
  };
  Kind kind = Kind::Split;
  RegexScanner scanner = RegexScanner::Gpt2;
  bool add_prefix_space = false;
  bool use_regex = false;
  bool individual_digits = false;
};

class PreTokenizer {
 public:
  PreTokenizer() = default;
  explicit PreTokenizer(std::vector<PreTokenizeStep> steps) : steps_(std::move(steps)) {}

  // Splits `text` (valid UTF-8) into pre-tokens appended to `out`. Pieces view `text` or
  // strings stored in `arena` (when a step prepends a space).
  void split(std::string_view text, std::vector<std::string_view>& out,
             std::deque<std::string>& arena) const;
  const std::vector<PreTokenizeStep>& steps() const { return steps_; }
  std::string describe() const;

 private:
  std::vector<PreTokenizeStep> steps_;
};

}  // namespace tc

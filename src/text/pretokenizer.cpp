#include "text/pretokenizer.h"

#include <cstdint>

#include "text/unicode.h"

namespace tc {

namespace {

constexpr const char* kPatternGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr const char* kPatternQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kPatternLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Character classes the scanners test, precomputed once per character.
enum : uint8_t { kLetter = 1, kNumber = 2, kSpace = 4, kNewline = 8 };

struct ScanChar {
  uint32_t cp;
  uint32_t offset;  // byte offset in the text
  uint8_t cls;
};

uint8_t classify(uint32_t cp) {
  if (cp < 0x80) {
    if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return kLetter;
    if (cp >= '0' && cp <= '9') return kNumber;
    if (cp == '\n' || cp == '\r') return kSpace | kNewline;
    if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) return kSpace;
    return 0;
  }
  if (unicode_is_whitespace(cp)) return kSpace;
  if (unicode_is_letter(cp)) return kLetter;
  if (unicode_is_number(cp)) return kNumber;
  return 0;
}

void decode_for_scan(std::string_view text, std::vector<ScanChar>& chars) {
  chars.clear();
  for (size_t i = 0; i < text.size();) {
    auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x80) {
      chars.push_back({b, uint32_t(i), classify(b)});
      ++i;
      continue;
    }
    Utf8Char c = utf8_decode(text, i);
    chars.push_back({c.cp, uint32_t(i), classify(c.cp)});
    i += c.len;
  }
}

char ascii_lower(uint32_t cp) { return cp < 0x80 ? char(cp | ((cp >= 'A' && cp <= 'Z') ? 0x20 : 0)) : 0; }

// Length in characters of a contraction ('s 't 're 've 'm 'll 'd) starting at chars[i] (an
// apostrophe), or 0. `fold` matches the letters case-insensitively (ASCII only: HF's engine
// does not fold U+017F to 's' here, checked).
size_t contraction_length(const std::vector<ScanChar>& c, size_t i, bool fold) {
  size_t n = c.size();
  if (i + 1 >= n) return 0;
  auto letter = [&](size_t k) -> char {
    if (k >= n || c[k].cp >= 0x80) return 0;
    return fold ? ascii_lower(c[k].cp) : char(c[k].cp);
  };
  char a = letter(i + 1);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  char b = letter(i + 2);
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

// Whitespace handling shared by all three patterns, for a run starting at i:
// (\s*[\r\n]+ when `newline_alt`) | \s+(?!\S) | \s+. Returns the end of the match.
size_t scan_whitespace(const std::vector<ScanChar>& c, size_t i, bool newline_alt) {
  size_t n = c.size(), end = i;
  while (end < n && (c[end].cls & kSpace)) ++end;
  if (newline_alt) {
    // \s* backtracks to the last \r or \n of the run; [\r\n]+ then takes that one.
    for (size_t k = end; k > i; --k) {
      if (c[k - 1].cls & kNewline) return k;
    }
  }
  if (end == n) return end;        // \s+(?!\S) at the end of the text
  if (end - i >= 2) return end - 1;  // leave the last space for the following word
  return end;                      // \s+
}

void scan_gpt2(const std::vector<ScanChar>& c, std::vector<std::pair<size_t, size_t>>& spans) {
  size_t n = c.size();
  auto other = [&](size_t k) { return !(c[k].cls & (kLetter | kNumber | kSpace)); };
  for (size_t i = 0; i < n;) {
    size_t j;
    bool space_then = c[i].cp == ' ' && i + 1 < n;
    if (c[i].cp == '\'' && (j = contraction_length(c, i, false))) {
      j += i;
    } else if ((c[i].cls & kLetter) || (space_then && (c[i + 1].cls & kLetter))) {
      j = (c[i].cls & kLetter) ? i + 1 : i + 2;
      while (j < n && (c[j].cls & kLetter)) ++j;
    } else if ((c[i].cls & kNumber) || (space_then && (c[i + 1].cls & kNumber))) {
      j = (c[i].cls & kNumber) ? i + 1 : i + 2;
      while (j < n && (c[j].cls & kNumber)) ++j;
    } else if (other(i) || (space_then && other(i + 1))) {
      j = other(i) ? i + 1 : i + 2;
      while (j < n && other(j)) ++j;
    } else {
      j = scan_whitespace(c, i, false);
    }
    spans.emplace_back(i, j);
    i = j;
  }
}

void scan_qwen_llama(const std::vector<ScanChar>& c, size_t max_digits,
                     std::vector<std::pair<size_t, size_t>>& spans) {
  size_t n = c.size();
  auto other = [&](size_t k) { return !(c[k].cls & (kLetter | kNumber | kSpace)); };
  for (size_t i = 0; i < n;) {
    size_t j;
    uint8_t cls = c[i].cls;
    if (c[i].cp == '\'' && (j = contraction_length(c, i, true))) {
      j += i;
    } else if ((cls & kLetter) ||
               (!(cls & (kNewline | kLetter | kNumber)) && i + 1 < n && (c[i + 1].cls & kLetter))) {
      // [^\r\n\p{L}\p{N}]?\p{L}+
      j = (cls & kLetter) ? i + 1 : i + 2;
      while (j < n && (c[j].cls & kLetter)) ++j;
    } else if (cls & kNumber) {
      // \p{N} or \p{N}{1,3}
      j = i + 1;
      while (j < n && j - i < max_digits && (c[j].cls & kNumber)) ++j;
    } else if (other(i) || (c[i].cp == ' ' && i + 1 < n && other(i + 1))) {
      //  ?[^\s\p{L}\p{N}]+[\r\n]*
      j = other(i) ? i + 1 : i + 2;
      while (j < n && other(j)) ++j;
      while (j < n && (c[j].cls & kNewline)) ++j;
    } else {
      j = scan_whitespace(c, i, true);
    }
    spans.emplace_back(i, j);
    i = j;
  }
}

void split_digits(std::string_view text, bool individual, std::vector<std::string_view>& out) {
  size_t start = 0;
  for (size_t i = 0; i < text.size();) {
    Utf8Char c = utf8_decode(text, i);
    if (unicode_is_numeric_rust(c.cp)) {
      if (start < i) out.push_back(text.substr(start, i - start));
      size_t j = i + c.len;
      if (!individual) {
        while (j < text.size()) {
          Utf8Char d = utf8_decode(text, j);
          if (!unicode_is_numeric_rust(d.cp)) break;
          j += d.len;
        }
      }
      out.push_back(text.substr(i, j - i));
      start = i = j;
    } else {
      i += c.len;
    }
  }
  if (start < text.size()) out.push_back(text.substr(start));
}

}  // namespace

const char* regex_scanner_name(RegexScanner scanner) {
  switch (scanner) {
    case RegexScanner::Gpt2: return "gpt2";
    case RegexScanner::Qwen2: return "qwen2";
    case RegexScanner::Llama3: return "llama3";
  }
  return "?";
}

std::optional<RegexScanner> regex_scanner_for_pattern(std::string_view pattern) {
  if (pattern == kPatternGpt2) return RegexScanner::Gpt2;
  if (pattern == kPatternQwen2) return RegexScanner::Qwen2;
  if (pattern == kPatternLlama3) return RegexScanner::Llama3;
  return std::nullopt;
}

void regex_scan(RegexScanner scanner, std::string_view text, std::vector<std::string_view>& out) {
  thread_local std::vector<ScanChar> chars;
  thread_local std::vector<std::pair<size_t, size_t>> spans;
  decode_for_scan(text, chars);
  spans.clear();
  switch (scanner) {
    case RegexScanner::Gpt2: scan_gpt2(chars, spans); break;
    case RegexScanner::Qwen2: scan_qwen_llama(chars, 1, spans); break;
    case RegexScanner::Llama3: scan_qwen_llama(chars, 3, spans); break;
  }
  auto offset = [&](size_t k) { return k < chars.size() ? size_t(chars[k].offset) : text.size(); };
  for (auto [a, b] : spans) out.push_back(text.substr(offset(a), offset(b) - offset(a)));
}

void PreTokenizer::split(std::string_view text, std::vector<std::string_view>& out,
                         std::deque<std::string>& arena) const {
  if (text.empty()) return;
  std::vector<std::string_view> pieces{text}, next;
  for (const PreTokenizeStep& step : steps_) {
    next.clear();
    for (std::string_view piece : pieces) {
      switch (step.kind) {
        case PreTokenizeStep::Kind::Split:
          regex_scan(step.scanner, piece, next);
          break;
        case PreTokenizeStep::Kind::ByteLevel:
          if (step.add_prefix_space && piece.front() != ' ') {
            arena.push_back(" " + std::string(piece));
            piece = arena.back();
          }
          if (step.use_regex) regex_scan(RegexScanner::Gpt2, piece, next);
          else next.push_back(piece);
          break;
        case PreTokenizeStep::Kind::Digits:
          split_digits(piece, step.individual_digits, next);
          break;
      }
    }
    pieces.swap(next);
  }
  out.insert(out.end(), pieces.begin(), pieces.end());
}

std::string PreTokenizer::describe() const {
  std::string s;
  for (const PreTokenizeStep& step : steps_) {
    if (!s.empty()) s += " + ";
    switch (step.kind) {
      case PreTokenizeStep::Kind::Split: s += std::string("Split(") + regex_scanner_name(step.scanner) + ")"; break;
      case PreTokenizeStep::Kind::ByteLevel:
        s += std::string("ByteLevel(add_prefix_space=") + (step.add_prefix_space ? "true" : "false") +
             ", use_regex=" + (step.use_regex ? "true" : "false") + ")";
        break;
      case PreTokenizeStep::Kind::Digits:
        s += std::string("Digits(individual_digits=") + (step.individual_digits ? "true" : "false") + ")";
        break;
    }
  }
  return s.empty() ? "none" : s;
}

}  // namespace tc

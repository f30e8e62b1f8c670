// Unicode support for the tokenizer: UTF-8 decoding with the standard replacement rule,
// general categories (for the pre-tokenizer scanners) and NFC normalization. The data
// versions follow HF tokenizers (categories: Unicode 16.0; NFC: Unicode 9.0), see
// tools/gen_unicode_tables.py.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "util/utf8.h"  // utf8_append, used with the decoders below

namespace tc {

// General categories, in the generator's order.
enum class UnicodeCategory : uint8_t {
  Cn, Lu, Ll, Lt, Lm, Lo, Mn, Mc, Me, Nd, Nl, No, Pc, Pd, Ps, Pe, Pi, Pf, Po, Sm, Sc, Sk, So,
  Zs, Zl, Zp, Cc, Cf, Cs, Co,
};

UnicodeCategory unicode_category(uint32_t cp);
inline bool unicode_is_letter(uint32_t cp) {  // \p{L}
  auto c = unicode_category(cp);
  return c >= UnicodeCategory::Lu && c <= UnicodeCategory::Lo;
}
inline bool unicode_is_number(uint32_t cp) {  // \p{N}
  auto c = unicode_category(cp);
  return c >= UnicodeCategory::Nd && c <= UnicodeCategory::No;
}
// Rust's char::is_numeric, used by HF's Digits pre-tokenizer: \p{N} of Unicode 17.0 (the
// numerics Unicode 17.0 added on top of the 16.0 table, U+11DE0..U+11DE9 and U+16FF4..U+16FF6,
// are listed by hand; found by probing HF's Digits over every code point).
inline bool unicode_is_numeric_rust(uint32_t cp) {
  return unicode_is_number(cp) || (cp >= 0x11DE0 && cp <= 0x11DE9) || (cp >= 0x16FF4 && cp <= 0x16FF6);
}
// The regex class \s of HF tokenizers' engine = the White_Space property (checked against it).
bool unicode_is_whitespace(uint32_t cp);
// Python's str.isspace() set, used by str.strip() in chat templates (adds U+001C..U+001F).
bool unicode_is_python_space(uint32_t cp);

constexpr uint32_t kReplacementChar = 0xFFFD;

// One decoded UTF-8 sequence starting at s[pos]. For an invalid sequence, `valid` is false,
// cp is U+FFFD and len is the length of its maximal subpart (at least 1): the rule Python's
// bytes.decode('utf-8', 'replace') and Rust's from_utf8_lossy follow.
struct Utf8Char {
  uint32_t cp;
  uint32_t len;
  bool valid;
};
Utf8Char utf8_decode(std::string_view s, size_t pos);
bool utf8_is_valid(std::string_view s);
// Replaces every invalid sequence by U+FFFD (maximal subparts, as above).
std::string utf8_sanitize(std::string_view s);
// Length of the longest prefix of `s` that does not end inside a UTF-8 sequence that could
// still be completed by more bytes (the streaming decoder holds the rest back).
size_t utf8_complete_prefix(std::string_view s);

// Unicode Normalization Form C (canonical decomposition, reordering, composition).
// The input must be valid UTF-8.
std::string unicode_nfc(std::string_view s);
// True when unicode_nfc(s) == s is certain without normalizing (a fast pre-check).
bool unicode_nfc_quick_check(std::string_view s);
uint32_t unicode_combining_class(uint32_t cp);

}  // namespace tc

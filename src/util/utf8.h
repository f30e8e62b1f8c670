// UTF-8 encoding of one code point, shared by the JSON writer/parser (util) and the tokenizer
// (text/unicode.h, which adds decoding, validation and the Unicode tables).
#pragma once

#include <cstdint>
#include <string>

namespace tc {

// Appends the UTF-8 bytes of `cp` (at most U+10FFFF; callers pass valid scalar values or U+FFFD).
void utf8_append(std::string& out, uint32_t cp);

}  // namespace tc

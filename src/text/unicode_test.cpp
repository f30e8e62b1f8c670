// UTF-8 decoding/replacement, categories and NFC, against values worked out by hand from the
// Unicode standard (Table 3-7 for UTF-8, UnicodeData.txt for the characters named).
#include "text/unicode.h"
#include "util/testing.h"

namespace tc {

TC_TEST(unicode_utf8_decode_valid_and_invalid) {
  Utf8Char euro = utf8_decode("\xE2\x82\xAC", 0);
  TC_EXPECT(euro.valid && euro.cp == 0x20AC && euro.len == 3);
  // E0 needs A0..BF next: a maximal subpart of one byte.
  Utf8Char overlong = utf8_decode("\xE0\x80\x80", 0);
  TC_EXPECT(!overlong.valid && overlong.len == 1);
  // A surrogate (ED A0 ..) is invalid after one byte.
  TC_EXPECT_EQ(utf8_decode("\xED\xA0\x80", 0).len, 1u);
  // A truncated 4-byte sequence is one maximal subpart of 3 bytes.
  Utf8Char cut = utf8_decode("\xF0\x9F\x98", 0);
  TC_EXPECT(!cut.valid && cut.len == 3);
  TC_EXPECT(!utf8_decode("\xF5", 0).valid);
  TC_EXPECT(!utf8_decode("\xC0\xAF", 0).valid);
}

TC_TEST(unicode_utf8_sanitize_replaces_maximal_subparts) {
  TC_EXPECT_EQ(utf8_sanitize("a\xFF" "b"), std::string("a\xEF\xBF\xBD" "b"));
  TC_EXPECT_EQ(utf8_sanitize("\xF0\x9F\x98x"), std::string("\xEF\xBF\xBDx"));
  TC_EXPECT_EQ(utf8_sanitize("\xE0\x80"), std::string("\xEF\xBF\xBD\xEF\xBF\xBD"));
  TC_EXPECT_EQ(utf8_sanitize("h\xC3\xA9llo"), std::string("h\xC3\xA9llo"));
  TC_EXPECT(utf8_is_valid("\xF0\x9F\x98\x80"));
  TC_EXPECT(!utf8_is_valid("\xF0\x9F\x98"));
}

TC_TEST(unicode_utf8_complete_prefix_holds_back_unfinished_sequences) {
  TC_EXPECT_EQ(utf8_complete_prefix("ab\xE2\x82"), 2u);
  TC_EXPECT_EQ(utf8_complete_prefix("ab\xE2\x82\xAC"), 5u);
  TC_EXPECT_EQ(utf8_complete_prefix("\xF0\x9F"), 0u);
  TC_EXPECT_EQ(utf8_complete_prefix("a\xC3"), 1u);
  TC_EXPECT_EQ(utf8_complete_prefix("ab\x80"), 3u);      // a stray continuation byte is final
  TC_EXPECT_EQ(utf8_complete_prefix("\xED\xA0"), 2u);    // can never become valid
  TC_EXPECT_EQ(utf8_complete_prefix(""), 0u);
}

TC_TEST(unicode_categories) {
  TC_EXPECT(unicode_category('A') == UnicodeCategory::Lu);
  TC_EXPECT(unicode_category('a') == UnicodeCategory::Ll);
  TC_EXPECT(unicode_category('5') == UnicodeCategory::Nd);
  TC_EXPECT(unicode_category(0x216B) == UnicodeCategory::Nl);  // ROMAN NUMERAL TWELVE
  TC_EXPECT(unicode_category(0x00BD) == UnicodeCategory::No);  // VULGAR FRACTION ONE HALF
  TC_EXPECT(unicode_category(0x0301) == UnicodeCategory::Mn);
  TC_EXPECT(unicode_category(0x3000) == UnicodeCategory::Zs);
  TC_EXPECT(unicode_category(0x10D4A) == UnicodeCategory::Lo);  // GARAY, added in Unicode 16.0
  TC_EXPECT(unicode_category(0x10940) == UnicodeCategory::Cn);  // added in 17.0: not in 16.0
  TC_EXPECT(unicode_category(0x110000) == UnicodeCategory::Cn);
  TC_EXPECT(unicode_is_whitespace(0x85) && unicode_is_whitespace(0x2028) && !unicode_is_whitespace(0x1C));
  TC_EXPECT(unicode_is_python_space(0x1C) && !unicode_is_python_space(0x200B));
  TC_EXPECT(unicode_is_numeric_rust(0x11DE0) && !unicode_is_number(0x11DE0));
}

TC_TEST(unicode_nfc) {
  TC_EXPECT_EQ(unicode_nfc("e\xCC\x81"), std::string("\xC3\xA9"));                 // e + U+0301 -> é
  TC_EXPECT_EQ(unicode_nfc("o\xCC\xA3\xCC\x82"), std::string("\xE1\xBB\x99"));    // o + 0323 + 0302 -> U+1ED9
  TC_EXPECT_EQ(unicode_nfc("o\xCC\x82\xCC\xA3"), std::string("\xE1\xBB\x99"));    // reordered first
  TC_EXPECT_EQ(unicode_nfc("\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8"), std::string("\xEA\xB0\x81"));  // L V T -> U+AC01
  TC_EXPECT_EQ(unicode_nfc("\xE2\x84\xAB"), std::string("\xC3\x85"));             // ANGSTROM SIGN -> U+00C5
  TC_EXPECT_EQ(unicode_nfc("\xE0\xA5\x98"), std::string("\xE0\xA4\x95\xE0\xA4\xBC"));  // U+0958 is excluded
  // U+1AC1 (Unicode 13.0) is a starter in 9.0 data: it blocks composition and reordering.
  TC_EXPECT_EQ(unicode_nfc("a\xE1\xAB\x81\xCC\xA3"), std::string("a\xE1\xAB\x81\xCC\xA3"));
  TC_EXPECT(unicode_nfc_quick_check("plain ascii and \xC3\xA9"));
  TC_EXPECT(!unicode_nfc_quick_check("e\xCC\x81"));
}

}  // namespace tc

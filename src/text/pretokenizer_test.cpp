// The scanners against splits worked out by hand from the regexes (leftmost-first alternation
// with backtracking), including the lookahead and newline alternatives.
#include "text/pretokenizer.h"
#include "util/testing.h"

namespace tc {

namespace {
std::vector<std::string> scan(RegexScanner s, std::string_view text) {
  std::vector<std::string_view> out;
  regex_scan(s, text, out);
  return std::vector<std::string>(out.begin(), out.end());
}
using V = std::vector<std::string>;
std::string show(const V& v) {
  std::string s;
  for (auto& x : v) s += "[" + x + "]";
  return s;
}
}  // namespace

#define EXPECT_SPLIT(scanner, text, ...) TC_EXPECT_EQ(show(scan(scanner, text)), show(V{__VA_ARGS__}))

TC_TEST(pretokenizer_qwen2_splits) {
  auto q = RegexScanner::Qwen2;
  EXPECT_SPLIT(q, "Hello world", "Hello", " world");
  EXPECT_SPLIT(q, "  hello", " ", " hello");
  EXPECT_SPLIT(q, "x  \n  y", "x", "  \n", " ", " y");  // \s*[\r\n]+ stops at the last newline
  EXPECT_SPLIT(q, "a\n\nb", "a", "\n\n", "b");
  EXPECT_SPLIT(q, "12345", "1", "2", "3", "4", "5");
  EXPECT_SPLIT(q, "I'm I'M they'LL", "I", "'m", " I", "'M", " they", "'LL");
  EXPECT_SPLIT(q, "$hello", "$hello");                     // [^\r\n\p{L}\p{N}]?\p{L}+
  EXPECT_SPLIT(q, "a\tb", "a", "\tb");
  EXPECT_SPLIT(q, "hello!!!\n\nx", "hello", "!!!\n\n", "x");  // punctuation takes trailing newlines
  EXPECT_SPLIT(q, "hi  ", "hi", "  ");                      // \s+(?!\S) at the end
  EXPECT_SPLIT(q, "a \tb", "a", " ", "\tb");
  EXPECT_SPLIT(q, "'sup", "'s", "up");
  EXPECT_SPLIT(q, "\xE4\xBD\xA0\xE5\xA5\xBD 42", "\xE4\xBD\xA0\xE5\xA5\xBD", " ", "4", "2");
  EXPECT_SPLIT(q, "", );
}

TC_TEST(pretokenizer_llama3_groups_digits_by_three) {
  auto l = RegexScanner::Llama3;
  EXPECT_SPLIT(l, "12345", "123", "45");
  EXPECT_SPLIT(l, "x 1234567", "x", " ", "123", "456", "7");
  EXPECT_SPLIT(l, "I'Ve", "I", "'Ve");
}

TC_TEST(pretokenizer_gpt2_splits) {
  auto g = RegexScanner::Gpt2;
  EXPECT_SPLIT(g, "hello  world", "hello", " ", " world");
  EXPECT_SPLIT(g, "a\tb", "a", "\t", "b");
  EXPECT_SPLIT(g, "I'M I'm", "I", "'", "M", " I", "'m");    // contractions are case-sensitive
  EXPECT_SPLIT(g, "x 123abc", "x", " 123", "abc");
  EXPECT_SPLIT(g, "a, b!!", "a", ",", " b", "!!");
  EXPECT_SPLIT(g, "end \n", "end", " \n");
}

TC_TEST(pretokenizer_pipeline_digits_and_prefix_space) {
  PreTokenizeStep digits;
  digits.kind = PreTokenizeStep::Kind::Digits;
  digits.individual_digits = true;
  PreTokenizeStep byte_level;
  byte_level.kind = PreTokenizeStep::Kind::ByteLevel;
  byte_level.use_regex = true;
  byte_level.add_prefix_space = true;
  PreTokenizer p({digits, byte_level});
  std::vector<std::string_view> out;
  std::deque<std::string> arena;
  p.split("ab12 c", out, arena);
  // Digits: [ab][1][2][ c]; each piece then gets a prefix space unless it has one.
  TC_EXPECT_EQ(show(V(out.begin(), out.end())), show(V{" ab", " 1", " 2", " c"}));
  TC_EXPECT(regex_scanner_for_pattern("\\s+") == std::nullopt);
}

}  // namespace tc

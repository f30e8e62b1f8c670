#include "engine/stop_strings.h"

#include "util/testing.h"

namespace tc {

TC_TEST(stop_strings_span_tokens) {
  StopStringMatcher m({"</answer>", "\n\n"});
  std::string out;
  for (const char* piece : {"The result is 4", "2.</", "ans", "wer> and more"}) {
    out += m.push(piece);
    if (m.stopped()) break;
  }
  TC_EXPECT(m.stopped());
  TC_EXPECT_EQ(out, std::string("The result is 42."));
  TC_EXPECT_EQ(m.matched(), std::string("</answer>"));
  TC_EXPECT_EQ(m.flush(), std::string(""));
}

TC_TEST(stop_strings_hold_back_only_possible_prefixes) {
  StopStringMatcher m({"STOP"});
  TC_EXPECT_EQ(m.push("abc S"), std::string("abc "));  // "S" may start STOP
  TC_EXPECT_EQ(m.push("T"), std::string(""));          // "ST" too
  TC_EXPECT_EQ(m.push("x"), std::string("STx"));       // not any more
  TC_EXPECT(!m.stopped());
  TC_EXPECT_EQ(m.push("ST"), std::string(""));
  TC_EXPECT_EQ(m.flush(), std::string("ST"));  // generation ended without the stop string
}

TC_TEST(stop_strings_earliest_match_wins) {
  StopStringMatcher m({"cd", "b"});
  TC_EXPECT_EQ(m.push("abcd"), std::string("a"));
  TC_EXPECT(m.stopped());
  TC_EXPECT_EQ(m.matched(), std::string("b"));
  TC_EXPECT_EQ(m.push("more"), std::string(""));
}

TC_TEST(stop_strings_none_passes_everything) {
  StopStringMatcher m({});
  TC_EXPECT_EQ(m.push("a"), std::string("a"));
  TC_EXPECT_EQ(m.push("</s>"), std::string("</s>"));
  TC_EXPECT(!m.stopped());
}

}  // namespace tc

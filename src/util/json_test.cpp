#include <fstream>
#include <string>
#include <vector>

#include "util/error.h"
#include "util/json.h"
#include "util/testing.h"

using tc::Json;
using tc::json_lines_for_each;
using tc::testing::temp_dir;

TC_TEST(json_parses_nested_values) {
  Json j = Json::parse(R"({"a": [1, 2.5, -3e2, true, null], "b": {"c": "x\n\u00e9\ud83d\ude00"}, "n": 12345678901})");
  TC_EXPECT_EQ(j.at("a").size(), size_t(5));
  TC_EXPECT_EQ(j.at("a")[0].as_int(), 1);
  TC_EXPECT_NEAR(j.at("a")[1].as_double(), 2.5, 0);
  TC_EXPECT_NEAR(j.at("a")[2].as_double(), -300, 0);
  TC_EXPECT(j.at("a")[3].as_bool());
  TC_EXPECT(j.at("a")[4].is_null());
  TC_EXPECT_EQ(j.at("b").at("c").as_string(), std::string("x\n\xc3\xa9\xf0\x9f\x98\x80"));
  TC_EXPECT_EQ(j.at("n").as_int(), int64_t(12345678901));
}

TC_TEST(json_round_trips_through_dump) {
  std::string text = R"({"k":[1,"two",{"three":3.25}],"e":{},"z":[]})";
  Json j = Json::parse(text);
  TC_EXPECT_EQ(j.dump(), text);
  TC_EXPECT_EQ(Json::parse(j.dump(2)).dump(), text);
}

TC_TEST(json_reports_malformed_input_with_position) {
  TC_EXPECT_THROWS(Json::parse("{\"a\": 1,\n \"b\" 2}"), "line 2, column 6");
  TC_EXPECT_THROWS(Json::parse("[1, 2"), "expected ',' or ']'");
  TC_EXPECT_THROWS(Json::parse("\"abc"), "unterminated string");
  TC_EXPECT_THROWS(Json::parse("{} x"), "unexpected text");
  TC_EXPECT_THROWS(Json::parse("tru"), "invalid literal");
  TC_EXPECT_THROWS(Json::parse(std::string(1000, '[')), "nesting");
}

TC_TEST(json_quote_escapes_and_replaces_invalid_utf8) {
  TC_EXPECT_EQ(tc::json_quote("a\"b\\c\x01"), std::string("\"a\\\"b\\\\c\\u0001\""));
  TC_EXPECT_EQ(tc::json_quote("\xff"), std::string("\"\xEF\xBF\xBD\""));
  TC_EXPECT_EQ(tc::json_quote("\xc3\xa9"), std::string("\"\xc3\xa9\""));
}

TC_TEST(json_lines_visit_every_nonblank_line_and_name_the_bad_one) {
  const std::string path = temp_dir() + "/rows.jsonl";
  {
    std::ofstream f(path, std::ios::binary);
    f << "{\"a\": 1}\n\n  \r\n[2, 3]\n";
  }
  std::vector<std::string> seen;
  json_lines_for_each(path, [&](const Json& v, const std::string& where) { seen.push_back(where + "=" + v.dump()); });
  TC_EXPECT_EQ(seen.size(), size_t(2));
  TC_EXPECT_EQ(seen[0], path + ":1={\"a\":1}");
  TC_EXPECT_EQ(seen[1], path + ":4=[2,3]");
  // An error thrown by the visitor is prefixed with the line it came from.
  TC_EXPECT_THROWS(json_lines_for_each(path, [](const Json& v, const std::string&) { v.as_int(); }),
                   ":1: expected an integer, found an object");
  {
    std::ofstream f(path, std::ios::binary | std::ios::app);
    f << "{oops\n";
  }
  TC_EXPECT_THROWS(json_lines_for_each(path, [](const Json&, const std::string&) {}), ":5");
  TC_EXPECT_THROWS(json_lines_for_each(temp_dir() + "/none.jsonl", [](const Json&, const std::string&) {}),
                   "cannot open");
}

// Tests for the task suites: determinism from a seed, the structure each suite promises
// (checked by independent re-derivation from the prompt text), exact checking, and errors.
#include <cctype>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "eval/tasks.h"
#include "util/error.h"
#include "util/json.h"
#include "util/testing.h"

using namespace tc;
using namespace tc::eval;

namespace {

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The thinking part of a trace: between "<think>\n" and "</think>".
std::string thinking_of(const std::string& trace) {
  size_t open = trace.find("<think>\n"), close = trace.find("</think>");
  if (open != 0 || close == std::string::npos) return "";
  return trace.substr(8, close - 8);
}

// Replaces the last digit of the answer line with a different digit.
std::string corrupt_last_digit(std::string text) {
  for (size_t i = text.size(); i-- > 0;) {
    if (text[i] >= '0' && text[i] <= '9') {
      text[i] = char('0' + (text[i] - '0' + 1) % 10);
      return text;
    }
  }
  return text + "0";
}

int mod10(int v) { return ((v % 10) + 10) % 10; }

// An independent reading of a chain problem: parses the definitions, evaluates them by
// recursion, and checks every property the suite promises.
void verify_chain_problem(const TaskProblem& p, const TaskParams& params) {
  struct Def {
    char ref = 0;
    char op = 0;
    int digit = 0;
  };
  std::map<char, Def> defs;
  std::vector<char> queries;
  std::vector<std::string> prompt_lines = split_lines(p.prompt);
  TC_REQUIRE(!prompt_lines.empty());
  std::set<std::string> prompt_line_set(prompt_lines.begin(), prompt_lines.end() - 1);
  for (size_t i = 0; i + 1 < prompt_lines.size(); ++i) {
    const std::string& l = prompt_lines[i];
    TC_REQUIRE(l.size() == 3 || l.size() == 5);
    TC_REQUIRE(l[1] == '=');
    TC_EXPECT(defs.count(l[0]) == 0);  // every name defined once
    Def d;
    if (l.size() == 3 && std::isdigit(static_cast<unsigned char>(l[2]))) {
      d.digit = l[2] - '0';
    } else if (l.size() == 3) {  // an alias (arithmetic=0)
      TC_EXPECT_EQ(params.get("arithmetic"), int64_t(0));
      d.ref = l[2];
    } else {
      TC_EXPECT_EQ(params.get("arithmetic"), int64_t(1));
      d.ref = l[2];
      d.op = l[3];
      d.digit = l[4] - '0';
      TC_EXPECT(d.op == '+' || d.op == '-');
      TC_EXPECT(d.digit >= 1 && d.digit <= 9);
    }
    TC_EXPECT(d.digit >= 0 && d.digit <= 9);
    defs[l[0]] = d;
  }
  const std::string& find = prompt_lines.back();
  TC_REQUIRE(find.rfind("find:", 0) == 0);
  for (size_t i = 5; i < find.size(); i += 2) {
    TC_REQUIRE(find[i] == ' ' && i + 1 < find.size());
    queries.push_back(find[i + 1]);
  }
  TC_EXPECT_EQ(int64_t(queries.size()), params.get("queries") + params.get("revisits"));

  // Every name is referenced at most once; every reference is defined.
  std::map<char, int> uses;
  for (auto& [name, d] : defs)
    if (d.ref) {
      TC_REQUIRE(defs.count(d.ref) == 1);
      ++uses[d.ref];
    }
  for (auto& [name, n] : uses) TC_EXPECT_EQ(n, 1);

  std::function<int(char)> value = [&](char name) -> int {
    const Def& d = defs.at(name);
    if (!d.ref) return d.digit;
    int v = value(d.ref);
    if (!d.op) return v;
    return d.op == '+' ? mod10(v + d.digit) : mod10(v - d.digit);
  };
  auto root_of = [&](char name) {
    while (defs.at(name).ref) name = defs.at(name).ref;
    return name;
  };
  // The first `queries` queries are the tops of distinct chains (of the allowed depths); each
  // later one (a revisit) is strictly between its chain's previous query and its root.
  std::set<char> on_walked_chains;
  std::map<char, char> lowest_query;  // root -> the chain's latest query
  std::string expected_answer;
  for (size_t i = 0; i < queries.size(); ++i) {
    char q = queries[i];
    TC_REQUIRE(defs.count(q) == 1);
    int depth = 1;
    for (char c = q; defs.at(c).ref; c = defs.at(c).ref) ++depth;
    if (int64_t(i) < params.get("queries")) {
      TC_EXPECT(uses.count(q) == 0);  // a top
      TC_EXPECT(depth >= params.get("depth_min") && depth <= params.get("depth_max"));
      TC_EXPECT(lowest_query.count(root_of(q)) == 0);
      for (char c = q;; c = defs.at(c).ref) {
        on_walked_chains.insert(c);
        if (!defs.at(c).ref) break;
      }
    } else {
      TC_REQUIRE(lowest_query.count(root_of(q)) == 1);
      TC_EXPECT(defs.at(q).ref != 0);  // not the root
      bool below = false;               // q is reached walking down from the previous query
      for (char c = defs.at(lowest_query[root_of(q)]).ref; c; c = defs.at(c).ref) below |= c == q;
      TC_EXPECT(below);
    }
    lowest_query[root_of(q)] = q;
    if (!expected_answer.empty()) expected_answer += ' ';
    expected_answer += std::string(1, q) + "=" + std::to_string(value(q));
  }
  TC_EXPECT_EQ(int64_t(defs.size() - on_walked_chains.size()), params.get("distractors"));
  TC_EXPECT_EQ(p.answer, expected_answer);

  // The trace: per query q, for each definition on q's chain from q down to the root, the
  // copied prompt line, then q rewritten in terms of the definition's variable with the
  // offsets summed ("q=x+o"), or at the root "q=root+o=value"; then "so q=value".
  std::vector<std::string> lines = split_lines(thinking_of(p.trace));
  size_t at = 0;
  for (char q : queries) {
    int offset = 0;
    for (char c = q;; c = defs.at(c).ref) {
      const Def& d = defs.at(c);
      TC_REQUIRE(at + 1 < lines.size());
      TC_EXPECT(prompt_line_set.count(lines[at]) == 1);
      TC_EXPECT_EQ(lines[at][0], c);
      std::string expected;
      if (!params.get("arithmetic")) {
        expected = std::string(1, q) + "=" + (d.ref ? std::string(1, d.ref) : std::to_string(d.digit));
      } else if (d.ref) {
        offset = mod10(d.op == '+' ? offset + d.digit : offset - d.digit);
        expected = std::string(1, q) + "=" + std::string(1, d.ref) + "+" + std::to_string(offset);
      } else {
        expected = std::string(1, q) + "=" + std::to_string(d.digit) + "+" + std::to_string(offset) + "=" +
                   std::to_string(value(q));
      }
      TC_EXPECT_EQ(lines[at + 1], expected);
      at += 2;
      if (!d.ref) break;
    }
    TC_REQUIRE(at < lines.size());
    TC_EXPECT_EQ(lines[at], "so " + std::string(1, q) + "=" + std::to_string(value(q)));
    ++at;
  }
  TC_EXPECT_EQ(at, lines.size());
}

// An independent reading of an arith problem: the sum by schoolbook addition of the operands
// parsed from the prompt, and each column line re-added.
void verify_arith_problem(const TaskProblem& p, const TaskParams& params) {
  TC_REQUIRE(p.prompt.rfind("add: ", 0) == 0 && p.prompt.back() == '\n');
  std::vector<std::string> operands;
  std::string body = p.prompt.substr(5, p.prompt.size() - 6);
  for (size_t start = 0;;) {
    size_t plus = body.find('+', start);
    operands.push_back(body.substr(start, plus == std::string::npos ? std::string::npos : plus - start));
    if (plus == std::string::npos) break;
    start = plus + 1;
  }
  TC_EXPECT_EQ(int64_t(operands.size()), params.get("terms"));
  for (auto& o : operands) TC_EXPECT_EQ(int64_t(o.size()), params.get("digits"));
  if (params.get("digits") <= 17) {
    uint64_t sum = 0;
    for (auto& o : operands) sum += std::stoull(o);
    TC_EXPECT_EQ(p.answer, std::to_string(sum));
  }
  std::vector<std::string> lines = split_lines(thinking_of(p.trace));
  TC_REQUIRE(!lines.empty());
  TC_EXPECT_EQ(lines.back(), "sum=" + p.answer);
  int carry = 0;
  for (int64_t col = 0; col < params.get("digits"); ++col) {
    int total = carry;
    std::string expected = "c" + std::to_string(col) + ": ";
    for (auto& o : operands) {
      int d = o[o.size() - 1 - col] - '0';
      total += d;
      expected += std::to_string(d) + "+";
    }
    expected += std::to_string(carry) + "=" + std::to_string(total);
    TC_REQUIRE(size_t(col) < lines.size());
    TC_EXPECT_EQ(lines[col], expected);
    carry = total / 10;
  }
}

}  // namespace

TC_TEST(tasks_same_seed_same_bytes) {
  for (const TaskSuite* suite : task_suites()) {
    TaskParams params = task_params_resolve(*suite, std::vector<std::string>{});
    auto a = task_generate(*suite, 7, 0, 20, params);
    auto b = task_generate(*suite, 7, 0, 20, params);
    for (size_t i = 0; i < a.size(); ++i) TC_EXPECT_EQ(task_problem_to_json(a[i]), task_problem_to_json(b[i]));
    // Instance i does not depend on where generation starts.
    auto tail = task_generate(*suite, 7, 13, 2, params);
    TC_EXPECT_EQ(task_problem_to_json(tail[0]), task_problem_to_json(a[13]));
    TC_EXPECT_EQ(task_problem_to_json(tail[1]), task_problem_to_json(a[14]));
    // Another seed gives other problems.
    auto c = task_generate(*suite, 8, 0, 20, params);
    int same = 0;
    for (size_t i = 0; i < a.size(); ++i) same += a[i].prompt == c[i].prompt;
    TC_EXPECT_EQ(same, 0);
    std::set<std::string> prompts;
    for (auto& p : a) prompts.insert(p.prompt);
    TC_EXPECT_EQ(prompts.size(), a.size());
    TC_EXPECT_EQ(a[3].id, std::string(suite->name) + "-s7-3");
  }
}

TC_TEST(tasks_chain_structure_and_answers) {
  const TaskSuite& suite = task_suite("chain");
  std::vector<std::vector<std::string>> settings = {
      {},
      {"queries=1", "depth_min=1", "depth_max=1", "distractors=0", "revisits=0"},
      {"queries=4", "depth_min=2", "depth_max=9", "distractors=15", "distractor_depth=7", "revisits=0"},
      {"queries=3", "depth_min=3", "depth_max=6", "distractors=30", "revisits=0", "arithmetic=1"},
      {"queries=3", "depth_min=4", "depth_max=7", "distractors=12", "revisits=4", "arithmetic=1"},
      {"queries=8", "depth_min=6", "depth_max=6", "distractors=4"},
      {"queries=3", "depth_min=5", "depth_max=8", "distractors=8", "revisits=9"},
      {"queries=2", "depth_min=3", "depth_max=4", "distractors=2", "revisits=2"},
  };
  for (auto& s : settings) {
    TaskParams params = task_params_resolve(suite, s);
    for (auto& p : task_generate(suite, 3, 0, 40, params)) {
      verify_chain_problem(p, params);
      TC_EXPECT(suite.check(p, p.trace));
      TC_EXPECT(!suite.check(p, corrupt_last_digit(p.trace)));
    }
  }
}

TC_TEST(tasks_arith_structure_and_answers) {
  const TaskSuite& suite = task_suite("arith");
  std::vector<std::vector<std::string>> settings = {
      {}, {"terms=2", "digits=1"}, {"terms=12", "digits=17"}, {"terms=5", "digits=60"}};
  for (auto& s : settings) {
    TaskParams params = task_params_resolve(suite, s);
    for (auto& p : task_generate(suite, 11, 0, 40, params)) {
      verify_arith_problem(p, params);
      TC_EXPECT(suite.check(p, p.trace));
      TC_EXPECT(!suite.check(p, corrupt_last_digit(p.trace)));
    }
  }
}

TC_TEST(tasks_checker_parses_the_final_answer_line) {
  TaskProblem p;
  p.answer = "a=1 b=2";
  TC_EXPECT(task_check_answer_line(p, "<think>\nx\n</think>\nanswer: a=1 b=2"));
  TC_EXPECT(task_check_answer_line(p, "<think>\n</think>\nanswer:a=1 b=2  \nmore text"));
  TC_EXPECT(task_check_answer_line(p, "<think>\nanswer: wrong\n</think>\n\nanswer: a=1 b=2\n"));
  TC_EXPECT(!task_check_answer_line(p, "<think>\nanswer: a=1 b=2\n</think>\n"));  // inside the thinking
  TC_EXPECT(!task_check_answer_line(p, "answer: a=1 b=2"));                       // no </think>
  TC_EXPECT(!task_check_answer_line(p, "<think>\n</think>\nanswer: a=1 b=3"));
  TC_EXPECT(!task_check_answer_line(p, "<think>\n</think>\nanswer: a=1"));
  TC_EXPECT(!task_check_answer_line(p, "<think>\n</think>\nanswer: a=1 b=2 c=3"));
  TC_EXPECT(!task_check_answer_line(p, "<think>\n</think>\nthe answer: a=1 b=2"));
  TC_EXPECT(!task_check_answer_line(p, ""));
  TC_EXPECT(task_extract_answer("<think></think>\nanswer: 7") == std::optional<std::string>("7"));
  TC_EXPECT(!task_extract_answer("<think></think>\nno answer here").has_value());
}

TC_TEST(tasks_json_round_trip) {
  const TaskSuite& suite = task_suite("chain");
  TaskProblem p = suite.generate(5, 2, task_params_resolve(suite, std::vector<std::string>{}));
  std::string line = task_problem_to_json(p);
  TC_EXPECT(line.find('\n') == std::string::npos);  // one JSONL line
  TaskProblem q = task_problem_from_json(Json::parse(line));
  TC_EXPECT_EQ(q.id, p.id);
  TC_EXPECT_EQ(q.suite, p.suite);
  TC_EXPECT_EQ(q.prompt, p.prompt);
  TC_EXPECT_EQ(q.trace, p.trace);
  TC_EXPECT_EQ(q.answer, p.answer);
  TC_EXPECT_THROWS(task_problem_from_json(Json::parse(R"({"id":"x","suite":"chain","prompt":"","trace":""})")),
                   "missing field \"answer\"");
  TC_EXPECT_THROWS(task_problem_from_json(Json::parse(R"({"id":1,"suite":"chain","prompt":"","trace":"","answer":""})")),
                   "field \"id\" must be a string");
}

TC_TEST(tasks_bad_names_and_parameters) {
  TC_EXPECT_THROWS(task_suite("chains"), "unknown task suite 'chains' (known: chain, arith, maze, sum)");
  const TaskSuite& chain = task_suite("chain");
  TC_EXPECT_THROWS(task_params_resolve(chain, std::vector<std::string>{"depht_max=3"}),
                   "suite chain has no parameter 'depht_max'");
  TC_EXPECT_THROWS(task_params_resolve(chain, std::vector<std::string>{"queries"}), "not of the form key=value");
  TC_EXPECT_THROWS(task_params_resolve(chain, std::vector<std::string>{"queries=two"}),
                   "parameter queries expects an integer, got \"two\"");
  TC_EXPECT_THROWS(task_params_resolve(chain, std::vector<std::string>{"queries=0"}),
                   "parameter queries=0 is out of range [1, 8]");
  TC_EXPECT_THROWS(task_params_resolve(chain, std::vector<std::string>{"queries=2", "queries=3"}), "given twice");
  TC_EXPECT_THROWS(task_params_resolve(chain, std::vector<std::string>{"depth_min=5", "depth_max=4"}),
                   "depth_min=5 is larger than depth_max=4");
  TC_EXPECT_THROWS(task_params_resolve(chain, std::vector<std::string>{"queries=2", "depth_min=3", "revisits=3"}),
                   "revisits=3, but queries*(depth_min-2) = 2");
  TC_EXPECT_THROWS(task_params_resolve(chain, std::vector<std::string>{"queries=8", "depth_max=7"}),
                   "only 52 names exist");
  TC_EXPECT_THROWS(task_params_resolve(task_suite("arith"), std::vector<std::string>{"digits=61"}),
                   "out of range [1, 60]");
}

// Counted by hand with the Qwen2 pre-tokenizer: <think> | \n | a | = | 1 | 2 | \n | </think> |
// \n | answer | : | " " | 3  (a space before a digit is its own piece).
TC_TEST(tasks_text_tokens_counts_pieces_and_think_tags) {
  TC_EXPECT_EQ(task_text_tokens("<think>\na=12\n</think>\nanswer: 3"), int64_t(13));
  TC_EXPECT_EQ(task_text_tokens(""), int64_t(0));
  TC_EXPECT_EQ(task_text_tokens("<think></think>"), int64_t(2));
  TC_EXPECT_EQ(task_text_tokens("path a b c\n"), int64_t(5));
}

// The maze defaults keep every problem within the seeds' regime (by the same count), and the
// redraw never changes what a seed gives.
TC_TEST(tasks_maze_defaults_bound_length_and_prompt_share) {
  const TaskSuite& suite = task_suite("maze");
  TaskParams params = task_params_resolve(suite, std::vector<std::string>{});
  for (const TaskProblem& p : task_generate(suite, 1, 0, 50, params)) {
    const int64_t prompt = task_text_tokens(p.prompt);
    const int64_t length = prompt + task_text_tokens(p.trace) + 1;
    TC_EXPECT(length <= 4000);
    TC_EXPECT(prompt * 10 <= length);
    TC_EXPECT(suite.check(p, p.trace));
    TC_EXPECT(!suite.check(p, p.trace + "x"));
  }
}

// Procedural reasoning task suites with exact answer checkers.
//
// Every suite turns (seed, index, params) into one problem: a prompt, a reference trace (the
// whole completion a reasoning model should write: "<think>\n...\n</think>\nanswer: X") and
// the answer X. The same (seed, index, params) always gives the same bytes, on every platform
// (all randomness goes through tc::Rng::derive(seed, index)), and instance i does not depend
// on how many instances are generated. The checker parses the final "answer:" line after
// "</think>" of a generated text and compares it exactly with the reference answer.
//
// The suites are built so that a chain of thought must look back at earlier tokens again and
// again (the recurrence that KV-cache eviction has to preserve); see tasks_chain.cpp and
// tasks_arith.cpp for each format.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/json.h"

namespace tc::eval {

struct TaskProblem {
  std::string id;      // "<suite>-s<seed>-<index>"
  std::string suite;
  std::string prompt;  // raw text, ends with '\n'
  std::string trace;   // reference completion: "<think>\n...</think>\nanswer: X" (no EOS)
  std::string answer;  // X
};

// One integer parameter of a suite.
struct TaskParamSpec {
  const char* name;
  int64_t default_value;
  int64_t min_value;
  int64_t max_value;
  const char* help;
};

// Resolved parameters: every parameter of the suite, defaults filled in.
class TaskParams {
 public:
  int64_t get(const std::string& name) const;  // throws (internal error) if the suite lacks it
  void set(const std::string& name, int64_t value) { values_[name] = value; }
  const std::map<std::string, int64_t>& values() const { return values_; }

 private:
  std::map<std::string, int64_t> values_;
};

struct TaskSuite {
  const char* name;
  const char* summary;
  std::vector<TaskParamSpec> params;
  // Cross-parameter checks (each parameter is already within its [min, max]); throws tc::Error.
  void (*validate)(const TaskParams& params);
  TaskProblem (*generate)(uint64_t seed, uint64_t index, const TaskParams& params);
  // True when `generated` (a completion, as decoded from the model) answers `problem` exactly.
  bool (*check)(const TaskProblem& problem, std::string_view generated);
};

// The registry. task_suite() throws tc::Error naming the known suites when `name` is unknown.
const std::vector<const TaskSuite*>& task_suites();
const TaskSuite& task_suite(std::string_view name);

// Resolves "key=value" overrides against a suite's parameters: unknown keys, non-integers,
// out-of-range values and failed cross checks throw tc::Error naming the parameter.
TaskParams task_params_resolve(const TaskSuite& suite, const std::vector<std::string>& overrides);
TaskParams task_params_resolve(const TaskSuite& suite, const std::map<std::string, int64_t>& overrides);

// Generates problems [start, start + n) of a suite.
std::vector<TaskProblem> task_generate(const TaskSuite& suite, uint64_t seed, uint64_t start, uint64_t n,
                                       const TaskParams& params);

// The answer a completion gives: the text after "answer:" on the first line that starts with
// "answer:" after the last "</think>", trimmed of spaces. nullopt when there is no such line.
std::optional<std::string> task_extract_answer(std::string_view generated);
// The default checker: task_extract_answer(generated) == problem.answer.
bool task_check_answer_line(const TaskProblem& problem, std::string_view generated);

// Wraps a finished chain of thought the way a reasoning model writes it.
std::string task_format_trace(std::string_view thinking, std::string_view answer);

// One JSONL line (no trailing newline): {"id","suite","prompt","trace","answer"}.
std::string task_problem_to_json(const TaskProblem& problem);
// The inverse; throws tc::Error naming the missing or mistyped field.
TaskProblem task_problem_from_json(const Json& object);

// Tokens of a problem's text as the testbed tokenizers count them: pieces of the Qwen2
// pre-tokenizer (their byte-level BPE merges within a piece and never across, and the suites'
// vocabulary is small enough that every piece is one token), with <think> and </think> one
// token each. Used by generators that bound their sequences' length and prompt share.
int64_t task_text_tokens(std::string_view text);

// Variable names used by the suites: the 52 ASCII letters, lowercase first.
std::string_view task_variable_names();

}  // namespace tc::eval

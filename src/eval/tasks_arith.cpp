// Suite `arith`: multi-digit addition of several numbers with a column-by-column scratchpad.
//
// Prompt:  "add: 4821+9057+3316\n"  (`terms` numbers of exactly `digits` digits each)
// Trace, one line per column from the units up, the carry-in last:
//   c0: 1+7+6+0=14
//   c1: 2+5+1+1=9
//   c2: 8+0+3+0=11
//   c3: 4+9+3+1=17
//   c4: 1               (the final carry, when there is one)
//   sum=17194
// then "answer: 17194". Column i looks back at the i-th digit from the right of every operand
// in the prompt (further back each column), and the sum line reads the units digit of every
// column line again, in reverse order.
#include <string>
#include <vector>

#include "eval/tasks_suites.h"
#include "util/error.h"
#include "util/rng.h"

namespace tc::eval {
namespace {

void validate(const TaskParams&) {}

TaskProblem generate(uint64_t seed, uint64_t index, const TaskParams& p) {
  Rng rng = Rng::derive(seed, index);
  const int terms = int(p.get("terms")), digits = int(p.get("digits"));

  // operands[t][i]: digit i (0 = units) of operand t.
  std::vector<std::vector<int>> operands(terms, std::vector<int>(digits));
  for (auto& number : operands)
    for (int i = digits - 1; i >= 0; --i)
      number[i] = (i == digits - 1 && digits > 1) ? 1 + int(rng.below(9)) : int(rng.below(10));

  TaskProblem problem;
  problem.suite = "arith";
  problem.id = "arith-s" + std::to_string(seed) + "-" + std::to_string(index);
  problem.prompt = "add: ";
  for (int t = 0; t < terms; ++t) {
    if (t) problem.prompt += '+';
    for (int i = digits - 1; i >= 0; --i) problem.prompt += char('0' + operands[t][i]);
  }
  problem.prompt += '\n';

  std::string thinking;
  std::vector<int> sum_digits;  // units first
  int carry = 0;
  for (int i = 0; i < digits; ++i) {
    int column = carry;
    thinking += "c" + std::to_string(i) + ": ";
    for (int t = 0; t < terms; ++t) {
      column += operands[t][i];
      thinking += char('0' + operands[t][i]);
      thinking += '+';
    }
    thinking += std::to_string(carry) + "=" + std::to_string(column) + "\n";
    sum_digits.push_back(column % 10);
    carry = column / 10;
  }
  std::string sum = carry ? std::to_string(carry) : "";
  if (carry) thinking += "c" + std::to_string(digits) + ": " + sum + "\n";
  for (size_t i = sum_digits.size(); i-- > 0;) sum += char('0' + sum_digits[i]);
  size_t first = sum.find_first_not_of('0');  // only a sum of zeros (digits == 1) has them
  problem.answer = first == std::string::npos ? "0" : sum.substr(first);
  thinking += "sum=" + problem.answer + "\n";
  problem.trace = task_format_trace(thinking, problem.answer);
  return problem;
}

}  // namespace

const TaskSuite& task_suite_arith() {
  static const TaskSuite suite = {
      "arith",
      "multi-digit addition of several numbers with a column-by-column scratchpad",
      {
          {"terms", 4, 2, 12, "numbers to add"},
          {"digits", 12, 1, 60, "digits in each number"},
      },
      validate,
      generate,
      task_check_answer_line,
  };
  return suite;
}

}  // namespace tc::eval

// Suite `sum`: the total of a list of numbers, added one at a time with a digit-by-digit
// scratchpad, then verified by adding the list again in reverse order.
//
// Prompt: labelled numbers, then the question:
//   a=4721
//   b=385
//   ...
//   l=62
//   add a to l
// Trace: a running sum. Each item is copied from the prompt, then added to the running sum
// one digit at a time from the units up; each scratch line restates what is left of both
// numbers (their last digit dropped), the carry and the result digits so far:
//   a=4721           copy of the first item (a look-up into the prompt)
//   sum=4721
//   b=385            the next item: copy of its prompt line
//   4721+385 c0 r    the running sum and the item
//   472+38 c0 r6     1+5+0 = 6
//   47+3 c1 r06      2+8+0 = 10
//   4+ c1 r106       7+3+1 = 11
//   + c0 r5106       4+0+1 = 5; nothing left and no carry: done
//   sum=5106
//   ...
//   verify from l    the check: the same items again, from the last to the first
//   l=62
//   sum=62
//   k=...
//   ...
//   so 9731=9731     the first total (read again at the end), then the check's total
// and "answer: 9731".
//
// What it keeps needing: every prompt item twice, the second time after the whole first
// pass (a long quiet gap); the first pass's total once more at the end; and otherwise only
// the last few lines (the scratch of the current addition). Most of the trace is local
// work that is never read again.
#include <string>
#include <vector>

#include "eval/tasks_suites.h"
#include "util/error.h"
#include "util/rng.h"

namespace tc::eval {
namespace {

// Decimal digits, most significant first, of a non-negative number written as text.
std::string add_decimal(const std::string& a, const std::string& b) {
  std::string out;
  int carry = 0;
  for (size_t i = 0; i < a.size() || i < b.size() || carry; ++i) {
    int s = carry;
    if (i < a.size()) s += a[a.size() - 1 - i] - '0';
    if (i < b.size()) s += b[b.size() - 1 - i] - '0';
    out.insert(out.begin(), char('0' + s % 10));
    carry = s / 10;
  }
  return out;
}

// The scratchpad of sum + item (see the file comment), ending with the "sum=" line.
void write_addition(const std::string& sum, const std::string& item, std::string& out) {
  std::string a = sum, b = item, result;
  int carry = 0;
  auto line = [&] { out += a + "+" + b + " c" + char('0' + carry) + " r" + result + "\n"; };
  line();
  while (!a.empty() || !b.empty() || carry) {
    int s = carry;
    if (!a.empty()) {
      s += a.back() - '0';
      a.pop_back();
    }
    if (!b.empty()) {
      s += b.back() - '0';
      b.pop_back();
    }
    result.insert(result.begin(), char('0' + s % 10));
    carry = s / 10;
    line();
  }
  out += "sum=" + result + "\n";
}

// One pass over the items in `order`: copy each, add it to the running sum. Returns the total.
std::string write_pass(const std::vector<std::string>& values, const std::vector<int>& order, std::string& out) {
  std::string sum;
  for (int i : order) {
    out += task_variable_names()[size_t(i)];
    out += "=" + values[size_t(i)] + "\n";
    if (sum.empty()) {
      sum = values[size_t(i)];
      out += "sum=" + sum + "\n";
    } else {
      write_addition(sum, values[size_t(i)], out);
      sum = add_decimal(sum, values[size_t(i)]);
    }
  }
  return sum;
}

void validate(const TaskParams& p) {
  if (p.get("digits_min") > p.get("digits_max"))
    TC_THROW("suite sum: digits_min=%lld is larger than digits_max=%lld", (long long)p.get("digits_min"),
             (long long)p.get("digits_max"));
}

TaskProblem generate(uint64_t seed, uint64_t index, const TaskParams& p) {
  Rng rng = Rng::derive(seed, index);
  const int items = int(p.get("items"));
  const int digits_min = int(p.get("digits_min")), digits_max = int(p.get("digits_max"));

  std::vector<std::string> values(static_cast<size_t>(items));
  for (auto& v : values) {
    int digits = digits_min + int(rng.below(uint64_t(digits_max - digits_min + 1)));
    for (int d = 0; d < digits; ++d) v += char('0' + (d == 0 && digits > 1 ? 1 + rng.below(9) : rng.below(10)));
  }

  TaskProblem problem;
  problem.suite = "sum";
  problem.id = "sum-s" + std::to_string(seed) + "-" + std::to_string(index);
  const std::string_view names = task_variable_names();
  for (int i = 0; i < items; ++i) {
    problem.prompt += names[size_t(i)];
    problem.prompt += "=" + values[size_t(i)] + "\n";
  }
  problem.prompt += "add ";
  problem.prompt += names[0];
  problem.prompt += " to ";
  problem.prompt += names[size_t(items - 1)];
  problem.prompt += '\n';

  std::vector<int> forward(static_cast<size_t>(items)), backward(static_cast<size_t>(items));
  for (int i = 0; i < items; ++i) {
    forward[size_t(i)] = i;
    backward[size_t(i)] = items - 1 - i;
  }
  std::string thinking;
  std::string total = write_pass(values, forward, thinking);
  thinking += "verify from ";
  thinking += names[size_t(items - 1)];
  thinking += '\n';
  std::string check = write_pass(values, backward, thinking);
  if (check != total) TC_THROW("internal error: sum: the two passes disagree (%s, %s)", total.c_str(), check.c_str());
  thinking += "so " + total + "=" + check + "\n";
  problem.answer = check;
  problem.trace = task_format_trace(thinking, problem.answer);
  return problem;
}

}  // namespace

const TaskSuite& task_suite_sum() {
  static const TaskSuite suite = {
      "sum",
      "the total of a list, added digit by digit with a scratchpad, then verified in reverse order",
      {
          {"items", 12, 1, 52, "numbers in the list"},
          {"digits_min", 2, 1, 30, "fewest digits of a number"},
          {"digits_max", 4, 1, 30, "most digits of a number"},
      },
      validate,
      generate,
      task_check_answer_line,
  };
  return suite;
}

}  // namespace tc::eval

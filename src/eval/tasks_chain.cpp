// Suite `chain`: variable-binding chains with distractors, arithmetic mod 10.
//
// Prompt: a shuffled list of one-line definitions, then the queried variables:
//   k=7          a root: a digit
//   x=k+3        a variable defined from exactly one other variable plus or minus a digit
//   ...
//   find: m p q
// The definitions form disjoint chains (every variable is used by at most one other
// definition). Each queried variable is the top of its own chain of `depth` definitions;
// the other `distractors` definitions form chains that are never needed.
//
// Trace: for each queried variable m in order, walk back from m to its chain's root. Each step
// copies the definition of the variable just reached from the prompt, then rewrites m in terms
// of the next variable down, folding the constants into one offset (mod 10):
//   m=x-4        copy of m's definition
//   m=x+6        m in terms of x (offset 0-4 = 6)
//   x=k+3        copy of x's definition
//   m=k+9        m in terms of k (offset 6+3 = 9)
//   k=7          copy of the root's definition
//   m=7+9=6      the value
//   so m=6
// and after the last query "answer: m=6 p=3 q=1". Every step is one look-up of something
// already in the context: the copied definition is the prompt line that starts with the name
// the previous line ends with (hundreds of tokens back for later queries); the rewritten line
// reads the two lines just above it; the answer reads each query's "so" line; the next query
// comes from the "find:" line. The prompt lines of a chain are needed exactly when its query's
// turn comes, and the "find:" line and the "so" lines are read again and again.
//
// Why this layout: it is what a small transformer learns fastest. Every far look-up copies the
// tokens that followed an earlier occurrence of the current token (induction): with a
// Qwen2-style pre-tokenizer "=x" is one piece, distinct from the bare "x" that starts a
// definition, so a bare name occurs once in the prompt and "x" -> "=k" -> "+" -> "3" is a
// chain of such copies. Layouts that need the inverse look-up (which line uses k?), as a
// walk-back followed by a separate forward pass does, or that find a line by its last token
// ("k+3=x"), were tried and learned far more slowly.
#include <algorithm>
#include <string>
#include <vector>

#include "eval/tasks_suites.h"
#include "util/error.h"
#include "util/rng.h"

namespace tc::eval {
namespace {

constexpr int kModulus = 10;

struct Definition {
  int name = 0;        // index into task_variable_names()
  int ref = -1;        // index of the variable it reads, -1 for a root
  char op = 0;         // '+' or '-' (0 for a root)
  int operand = 0;     // the digit: the root's value, or the constant of op
  int value = 0;       // the variable's value, mod 10
};

char name_char(int name) { return task_variable_names()[name]; }

std::string definition_line(const Definition& d) {
  std::string line(1, name_char(d.name));
  line += '=';
  if (d.ref >= 0) {
    line += name_char(d.ref);
    line += d.op;
  }
  line += char('0' + d.operand);
  line += '\n';
  return line;
}

int apply(char op, int a, int b) {
  switch (op) {
    case '+': return (a + b) % kModulus;
    case '-': return ((a - b) % kModulus + kModulus) % kModulus;
  }
  TC_THROW("internal error: chain: unknown operator '%c'", op);
}

// Appends a chain of `length` definitions (root first) using the next free names; returns
// the indices of its definitions in `defs`, root first.
std::vector<int> add_chain(Rng& rng, int length, const std::vector<int>& names,
                           size_t& next_name, std::vector<Definition>& defs) {
  std::vector<int> chain;
  for (int i = 0; i < length; ++i) {
    Definition d;
    d.name = names[next_name++];
    if (i == 0) {
      d.operand = int(rng.below(kModulus));
      d.value = d.operand;
    } else {
      const Definition& below = defs[chain.back()];
      d.ref = below.name;
      d.op = rng.below(2) ? '-' : '+';
      d.operand = 1 + int(rng.below(kModulus - 1));
      d.value = apply(d.op, below.value, d.operand);
    }
    chain.push_back(int(defs.size()));
    defs.push_back(d);
  }
  return chain;
}

void validate(const TaskParams& p) {
  if (p.get("depth_min") > p.get("depth_max"))
    TC_THROW("suite chain: depth_min=%lld is larger than depth_max=%lld", (long long)p.get("depth_min"),
             (long long)p.get("depth_max"));
  int64_t needed = p.get("queries") * p.get("depth_max") + p.get("distractors");
  int64_t available = int64_t(task_variable_names().size());
  if (needed > available)
    TC_THROW("suite chain: queries*depth_max + distractors = %lld variables, but only %lld names exist",
             (long long)needed, (long long)available);
}

TaskProblem generate(uint64_t seed, uint64_t index, const TaskParams& p) {
  Rng rng = Rng::derive(seed, index);
  const int queries = int(p.get("queries"));
  const int depth_min = int(p.get("depth_min")), depth_max = int(p.get("depth_max"));
  const int distractors = int(p.get("distractors"));
  const int distractor_depth = int(p.get("distractor_depth"));

  // A random assignment of names to variables.
  std::vector<int> names(task_variable_names().size());
  for (size_t i = 0; i < names.size(); ++i) names[i] = int(i);
  for (size_t i = names.size(); i > 1; --i) std::swap(names[i - 1], names[rng.below(i)]);

  std::vector<Definition> defs;
  size_t next_name = 0;
  std::vector<std::vector<int>> query_chains;  // each root first
  for (int q = 0; q < queries; ++q) {
    int depth = depth_min + int(rng.below(uint64_t(depth_max - depth_min + 1)));
    query_chains.push_back(add_chain(rng, depth, names, next_name, defs));
  }
  for (int left = distractors; left > 0;) {
    int length = 1 + int(rng.below(uint64_t(std::min(distractor_depth, left))));
    add_chain(rng, length, names, next_name, defs);
    left -= length;
  }

  // The prompt lists the definitions in a random order.
  std::vector<int> order(defs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = int(i);
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);

  TaskProblem problem;
  problem.suite = "chain";
  problem.id = "chain-s" + std::to_string(seed) + "-" + std::to_string(index);
  for (int i : order) problem.prompt += definition_line(defs[i]);
  problem.prompt += "find:";
  for (const auto& chain : query_chains) {
    problem.prompt += ' ';
    problem.prompt += name_char(defs[chain.back()].name);
  }
  problem.prompt += '\n';

  std::string thinking;
  for (const auto& chain : query_chains) {
    const char query = name_char(defs[chain.back()].name);
    int offset = 0;  // query = (variable reached) + offset, mod 10
    for (size_t i = chain.size(); i-- > 0;) {
      const Definition& d = defs[chain[i]];
      thinking += definition_line(d);
      thinking += query;
      thinking += '=';
      if (d.ref >= 0) {
        offset = apply(d.op, offset, d.operand);
        thinking += name_char(d.ref);
        thinking += '+';
        thinking += char('0' + offset);
      } else {
        thinking += char('0' + d.operand);
        thinking += '+';
        thinking += char('0' + offset);
        thinking += '=';
        thinking += char('0' + apply('+', d.operand, offset));
      }
      thinking += '\n';
    }
    thinking += "so ";
    thinking += query;
    thinking += '=';
    thinking += char('0' + defs[chain.back()].value);
    thinking += '\n';
  }
  for (const auto& chain : query_chains) {
    const Definition& top = defs[chain.back()];
    if (!problem.answer.empty()) problem.answer += ' ';
    problem.answer += name_char(top.name);
    problem.answer += '=';
    problem.answer += char('0' + top.value);
  }
  problem.trace = task_format_trace(thinking, problem.answer);
  return problem;
}

}  // namespace

const TaskSuite& task_suite_chain() {
  static const TaskSuite suite = {
      "chain",
      "variable-binding chains with distractors (mod 10): walk back from each query, folding offsets",
      {
          {"queries", 3, 1, 8, "queried variables, each the top of its own chain"},
          {"depth_min", 3, 1, 26, "fewest definitions in a queried chain (query to root, inclusive)"},
          {"depth_max", 6, 1, 26, "most definitions in a queried chain"},
          {"distractors", 30, 0, 51, "definitions in chains that no query needs"},
          {"distractor_depth", 4, 1, 26, "longest distractor chain"},
      },
      validate,
      generate,
      task_check_answer_line,
  };
  return suite;
}

}  // namespace tc::eval

// Suite `chain`: variable-binding chains with distractors (pointer chasing), optionally with
// arithmetic mod 10.
//
// Prompt: a shuffled list of one-line definitions, then the queried variables:
//   k=7          a root: a digit
//   x=k          an alias of exactly one other variable (arithmetic=1: x=k+3, plus or minus a digit)
//   ...
//   find: m p q
// The definitions form disjoint chains (every variable is used by at most one other
// definition). The first `queries` queried variables are the tops of their own chains of
// depth_min..depth_max definitions; the other `distractors` definitions form chains that are
// never needed.
//
// Trace: for each queried variable m in order, walk back from m to its chain's root. Each step
// copies the definition of the variable just reached from the prompt, then rewrites m in terms
// of the next variable down:
//   m=x          copy of m's definition
//   m=x          m in terms of x
//   x=k          copy of x's definition
//   m=k          m in terms of k
//   k=7          copy of the root's definition
//   m=7          the value
//   so m=7
// and after the last query "answer: m=7 p=3 q=1". With arithmetic=1 the rewrite folds the
// constants into one offset (mod 10): m=x-4 / m=x+6 / x=k+3 / m=k+9 / k=7 / m=7+9=6 / so m=6.
//
// Revisits (`revisits` > 0): after the chain tops, some queries name a variable lower on a chain
// already walked (below that chain's previous query, above its root), interleaved at random.
// Their walks copy the same prompt lines again, tens to hundreds of tokens after they were last
// read: the token-importance recurrence that LazyEviction is built on. They also make the trace
// long compared with the prompt, as in reasoning workloads. A chain's queries go down the chain,
// so a bare name is only ever followed by its own definition's reference when it is looked up.
//
// Every step is one look-up of something already in the context: the copied definition is the
// prompt line that starts with the name the previous line ends with (hundreds of tokens back
// for later queries); the rewritten line reads the two lines just above it; the answer reads
// each query's "so" line; the next query comes from the "find:" line. The prompt lines of a
// chain are needed exactly when its walks come, and the "find:" line and the "so" lines are
// read again and again.
//
// Why this layout: it is what a small transformer learns fastest. Every far look-up copies the
// tokens that followed an earlier occurrence of the current token (induction): with a
// Qwen2-style pre-tokenizer "=x" is one piece, distinct from the bare "x" that starts a
// definition, so a bare name occurs once in the prompt and "x" -> "=k" is such a copy.
// Layouts that need the inverse look-up (which line uses k?), as a walk-back followed by a
// separate forward pass does, or that find a line by its last token ("k+3=x"), were tried and
// learned far more slowly; so was the digit arithmetic of arithmetic=1 (a 1M-parameter model
// trained for 25 CPU minutes copied every definition but got 74% of the offset digits right).
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
  char op = 0;         // '+' or '-' (0 for a root, or an alias without arithmetic)
  int operand = 0;     // the digit: the root's value, or the constant of op
  int value = 0;       // the variable's value, mod 10
};

char name_char(int name) { return task_variable_names()[name]; }

std::string definition_line(const Definition& d) {
  std::string line(1, name_char(d.name));
  line += '=';
  if (d.ref >= 0) {
    line += name_char(d.ref);
    if (d.op) {
      line += d.op;
      line += char('0' + d.operand);
    }
  } else {
    line += char('0' + d.operand);
  }
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
std::vector<int> add_chain(Rng& rng, int length, bool arithmetic, const std::vector<int>& names,
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
      if (arithmetic) {
        d.op = rng.below(2) ? '-' : '+';
        d.operand = 1 + int(rng.below(kModulus - 1));
        d.value = apply(d.op, below.value, d.operand);
      } else {
        d.value = below.value;  // an alias
      }
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
  if (p.get("revisits") > p.get("queries") * std::max<int64_t>(0, p.get("depth_min") - 2))
    TC_THROW("suite chain: revisits=%lld, but queries*(depth_min-2) = %lld: a revisit needs a free variable "
             "strictly between its chain's top and root", (long long)p.get("revisits"),
             (long long)(p.get("queries") * std::max<int64_t>(0, p.get("depth_min") - 2)));
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
  const int revisits = int(p.get("revisits"));
  const bool arithmetic = p.get("arithmetic") != 0;

  // A random assignment of names to variables.
  std::vector<int> names(task_variable_names().size());
  for (size_t i = 0; i < names.size(); ++i) names[i] = int(i);
  for (size_t i = names.size(); i > 1; --i) std::swap(names[i - 1], names[rng.below(i)]);

  std::vector<Definition> defs;
  size_t next_name = 0;
  std::vector<std::vector<int>> query_chains;  // each root first
  for (int q = 0; q < queries; ++q) {
    int depth = depth_min + int(rng.below(uint64_t(depth_max - depth_min + 1)));
    query_chains.push_back(add_chain(rng, depth, arithmetic, names, next_name, defs));
  }
  for (int left = distractors; left > 0;) {
    int length = 1 + int(rng.below(uint64_t(std::min(distractor_depth, left))));
    add_chain(rng, length, arithmetic, names, next_name, defs);
    left -= length;
  }

  // The walk order: (chain, position in the chain of the queried variable, root = 0). Every
  // queried chain is walked from its top first; a revisit queries a variable lower on a chain
  // walked before (strictly below the chain's previous query, at least one step above the
  // root), so its walk re-reads definitions read earlier. Each chain's queries go down the
  // chain; the chains are interleaved at random.
  std::vector<std::vector<int>> chain_queries(query_chains.size());  // positions, descending
  {
    // Spread the revisits over the chains (a chain of depth d has room for d - 2: positions
    // 1 .. d - 2), then pick each chain's positions as a random subset of its room.
    std::vector<int> count(query_chains.size(), 0);
    for (int r = 0; r < revisits; ++r) {
      std::vector<size_t> open;
      for (size_t c = 0; c < query_chains.size(); ++c)
        if (count[c] < int(query_chains[c].size()) - 2) open.push_back(c);
      ++count[open[rng.below(open.size())]];  // validate() guarantees room
    }
    for (size_t c = 0; c < query_chains.size(); ++c) {
      const int top = int(query_chains[c].size()) - 1;
      std::vector<int> room;
      for (int position = 1; position < top; ++position) room.push_back(position);
      for (size_t i = 0; i < size_t(count[c]); ++i) std::swap(room[i], room[i + rng.below(room.size() - i)]);
      room.resize(size_t(count[c]));
      std::sort(room.begin(), room.end(), std::greater<int>());
      chain_queries[c].push_back(top);
      chain_queries[c].insert(chain_queries[c].end(), room.begin(), room.end());
    }
  }
  std::vector<std::pair<size_t, int>> walks;  // (chain, position)
  {
    std::vector<size_t> next(chain_queries.size(), 0);
    size_t left = 0;
    for (const auto& q : chain_queries) left += q.size();
    std::vector<size_t> tops(chain_queries.size());
    for (size_t c = 0; c < tops.size(); ++c) tops[c] = c;
    // The tops come in chain order (as without revisits); revisits are interleaved after their
    // chain's previous query, each at a random later point.
    for (size_t c : tops) walks.push_back({c, chain_queries[c][next[c]++]});
    left -= tops.size();
    while (left > 0) {
      std::vector<size_t> pending;
      for (size_t c = 0; c < chain_queries.size(); ++c)
        if (next[c] < chain_queries[c].size()) pending.push_back(c);
      size_t c = pending[rng.below(pending.size())];
      walks.push_back({c, chain_queries[c][next[c]++]});
      --left;
    }
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
  for (const auto& [c, position] : walks) {
    problem.prompt += ' ';
    problem.prompt += name_char(defs[query_chains[c][size_t(position)]].name);
  }
  problem.prompt += '\n';

  std::string thinking;
  for (const auto& [c, position] : walks) {
    const std::vector<int>& chain = query_chains[c];
    const Definition& top = defs[chain[size_t(position)]];
    const char query = name_char(top.name);
    int offset = 0;  // query = (variable reached) + offset, mod 10
    for (size_t i = size_t(position) + 1; i-- > 0;) {
      const Definition& d = defs[chain[i]];
      thinking += definition_line(d);
      thinking += query;
      thinking += '=';
      if (!arithmetic) {
        // The query is an alias of the variable reached (or, at the root, its value).
        thinking += d.ref >= 0 ? name_char(d.ref) : char('0' + d.operand);
      } else if (d.ref >= 0) {
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
    thinking += char('0' + top.value);
    thinking += '\n';
  }
  for (const auto& [c, position] : walks) {
    const Definition& top = defs[query_chains[c][size_t(position)]];
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
          {"queries", 3, 1, 8, "queried chains: the first queries are their tops"},
          {"depth_min", 4, 1, 26, "fewest definitions in a queried chain (top to root, inclusive)"},
          {"depth_max", 7, 1, 26, "most definitions in a queried chain"},
          {"distractors", 12, 0, 51, "definitions in chains that no query needs"},
          {"distractor_depth", 4, 1, 26, "longest distractor chain"},
          {"arithmetic", 0, 0, 1,
           "1: each definition adds or subtracts a digit (mod 10) and the walk folds the offsets; "
           "0: plain aliases (x=g), the value is the root's"},
          {"revisits", 4, 0, 26,
           "extra queries lower on an already walked chain (below its previous query, above its root): "
           "their walks re-read definitions read before; at most queries*(depth_min-2)"},
      },
      validate,
      generate,
      task_check_answer_line,
  };
  return suite;
}

}  // namespace tc::eval

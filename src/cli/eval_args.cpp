#include "cli/eval_args.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <thread>

#include "util/error.h"

namespace tc::cli {

std::vector<uint64_t> parse_seed_list(const std::string& text, const char* option) {
  std::vector<uint64_t> seeds;
  std::set<uint64_t> seen;
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    bool digits = !item.empty() && item.size() <= 19 && item.find_first_not_of("0123456789") == std::string::npos;
    TC_CHECK_ARG(digits, "%s: \"%s\" is not a seed (non-negative integers separated by commas)", option, item.c_str());
    uint64_t seed = std::strtoull(item.c_str(), nullptr, 10);
    TC_CHECK_ARG(seen.insert(seed).second, "%s: seed %s is given twice", option, item.c_str());
    seeds.push_back(seed);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return seeds;
}

int read_worker_threads(Args& args) {
  int threads = std::max(1, int(std::thread::hardware_concurrency()));
  auto given = args.value("threads");
  if (given) {
    char* end = nullptr;
    errno = 0;
    long v = std::strtol(given->c_str(), &end, 10);
    TC_CHECK_ARG(!given->empty() && *end == '\0' && errno == 0 && v >= 1 && v <= 1024,
                 "%s: --threads expects an integer in [1, 1024], got \"%s\"", args.command().c_str(), given->c_str());
    threads = int(v);
  } else if (const char* env = std::getenv("TC_THREADS")) {
    if (std::atoi(env) >= 1) threads = std::atoi(env);
  }
  if (threads > 1) ::setenv("TC_THREADS", "1", 1);
  return threads;
}

void read_eval_problem_options(Args& args, eval::EvalOptions& o) {
  const std::string& cmd = args.command();
  o.suite = args.get("suite", o.suite);
  o.params = args.values("param");
  int64_t task_seed = args.get_int64("task-seed", int64_t(o.task_seed));
  TC_CHECK_ARG(task_seed >= 0, "%s: --task-seed must be >= 0", cmd.c_str());
  o.task_seed = uint64_t(task_seed);
  int64_t start = args.get_int64("start", int64_t(o.start));
  TC_CHECK_ARG(start >= 0, "%s: --start must be >= 0", cmd.c_str());
  o.start = uint64_t(start);
  o.n = args.get_int("n", o.n);
  TC_CHECK_ARG(o.n > 0, "%s: --n must be positive, got %d", cmd.c_str(), o.n);
  auto max_tokens = args.value("max-tokens");
  auto factor = args.value("max-tokens-factor");
  TC_CHECK_ARG(!(max_tokens && factor), "%s: give --max-tokens or --max-tokens-factor, not both", cmd.c_str());
  if (max_tokens) {
    o.max_tokens = std::atoi(max_tokens->c_str());
    TC_CHECK_ARG(o.max_tokens > 0 && max_tokens->find_first_not_of("0123456789") == std::string::npos,
                 "%s: --max-tokens must be a positive integer, got \"%s\"", cmd.c_str(), max_tokens->c_str());
  }
  if (factor) {
    char* end = nullptr;
    o.max_tokens_factor = std::strtod(factor->c_str(), &end);
    TC_CHECK_ARG(!factor->empty() && *end == '\0' && o.max_tokens_factor > 0 && o.max_tokens_factor < 1000,
                 "%s: --max-tokens-factor must be a positive number, got \"%s\"", cmd.c_str(), factor->c_str());
  }
  o.sampling.temperature = float(args.get_double("temp", 0.0));
  o.sampling.top_p = float(args.get_double("top-p", 1.0));
  o.sampling.top_k = args.get_int("top-k", 0);
  TC_CHECK_ARG(o.sampling.temperature >= 0, "%s: --temp must be >= 0", cmd.c_str());
  o.kv_dtype = args.get("kv-dtype", o.kv_dtype);
  o.budget_mode = eval::budget_mode_parse(args.get("budget-mode", eval::budget_mode_name(o.budget_mode)));
  o.threads = read_worker_threads(args);
}

void make_output_dir(const std::string& dir) {
  TC_CHECK_ARG(!dir.empty(), "--out: empty folder name");
  std::string path;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    path = dir.substr(0, pos);
    if (path.empty()) continue;
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) TC_THROW("--out %s: %s exists and is not a folder", dir.c_str(), path.c_str());
      continue;
    }
    if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
      TC_THROW("--out %s: cannot create %s: %s", dir.c_str(), path.c_str(), std::strerror(errno));
  }
}

void write_text_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) TC_THROW("cannot write %s", path.c_str());
  f << text;
  f.close();
  if (!f) TC_THROW("cannot write %s", path.c_str());
}

std::string eval_command_line(const std::string& model, const eval::EvalOptions& o, const std::string& out) {
  std::string cmd = "thinkcache eval --model " + model + " --suite " + o.suite;
  for (const std::string& p : o.params) cmd += " --param " + p;
  cmd += str_printf(" --task-seed %llu --start %llu --n %d", (unsigned long long)o.task_seed,
                    (unsigned long long)o.start, o.n);
  std::string list;
  for (const auto& c : o.policies) list += (list.empty() ? "" : ",") + c.label;
  cmd += " --policies " + list;
  list.clear();
  for (const auto& b : o.budgets) list += (list.empty() ? "" : ",") + b.label;
  if (!list.empty()) cmd += " --budgets " + list;
  if (o.budget_mode != eval::BudgetMode::Suite) cmd += std::string(" --budget-mode ") + eval::budget_mode_name(o.budget_mode);
  list.clear();
  for (uint64_t s : o.seeds) list += (list.empty() ? "" : ",") + std::to_string(s);
  cmd += " --seeds " + list;
  if (o.max_tokens > 0) cmd += str_printf(" --max-tokens %d", o.max_tokens);
  else cmd += str_printf(" --max-tokens-factor %g", o.max_tokens_factor);
  if (o.sampling.temperature > 0) {
    cmd += str_printf(" --temp %g", o.sampling.temperature);
    if (o.sampling.top_p < 1) cmd += str_printf(" --top-p %g", o.sampling.top_p);
    if (o.sampling.top_k > 0) cmd += str_printf(" --top-k %d", o.sampling.top_k);
  }
  if (o.kv_dtype != "f16") cmd += " --kv-dtype " + o.kv_dtype;
  if (o.keep_text) cmd += " --keep-text";
  if (!out.empty()) cmd += " --out " + out;
  return cmd;
}

}  // namespace tc::cli

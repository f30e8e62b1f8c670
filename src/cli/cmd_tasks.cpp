// `thinkcache tasks`: writes procedurally generated reasoning problems as JSONL, lists the
// suites, or checks model outputs against their problems with the suites' exact checkers.
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "cli/args.h"
#include "eval/tasks.h"
#include "util/error.h"
#include "util/json.h"

namespace {

using namespace tc;
using namespace tc::eval;

void print_suites() {
  for (const TaskSuite* s : task_suites()) {
    std::printf("%s: %s\n", s->name, s->summary);
    for (const auto& p : s->params)
      std::printf("  %-18s default %-4lld range [%lld, %lld]  %s\n", p.name, (long long)p.default_value,
                  (long long)p.min_value, (long long)p.max_value, p.help);
  }
}

// Where the output goes: a file (--out) or stdout.
class Output {
 public:
  explicit Output(const std::string& path) {
    if (path.empty() || path == "-") return;
    file_ = std::make_unique<std::ofstream>(path, std::ios::binary | std::ios::trunc);
    if (!*file_) TC_THROW("cannot open output file %s", path.c_str());
    path_ = path;
  }
  void line(const std::string& text) {
    if (file_) {
      *file_ << text << '\n';
      if (!*file_) TC_THROW("cannot write output file %s", path_.c_str());
    } else {
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fputc('\n', stdout);
    }
  }
  void close() {
    if (file_) {
      file_->close();
      if (!*file_) TC_THROW("cannot write output file %s", path_.c_str());
    }
  }

 private:
  std::unique_ptr<std::ofstream> file_;
  std::string path_;
};

// --check FILE: every line is a problem object plus "output" (the generated completion).
int check_outputs(const std::string& path, Output& out) {
  int64_t n = 0, correct = 0;
  json_lines_for_each(path, [&](const Json& object, const std::string&) {
    const TaskProblem problem = task_problem_from_json(object);
    const Json* output = object.find("output");
    if (!output || !output->is_string()) TC_THROW("missing string field \"output\"");
    const TaskSuite& suite = task_suite(problem.suite);
    bool ok = suite.check(problem, output->as_string());
    auto extracted = task_extract_answer(output->as_string());
    Json result = Json::object();
    result.set("id", problem.id);
    result.set("correct", ok);
    result.set("extracted", extracted ? Json(*extracted) : Json());
    out.line(result.dump());
    ++n;
    correct += ok;
  });
  out.close();
  if (n == 0) TC_THROW("%s holds no problems", path.c_str());
  Json summary = Json::object();
  summary.set("n", n);
  summary.set("correct", correct);
  summary.set("accuracy", double(correct) / double(n));
  std::fprintf(stderr, "%s\n", summary.dump().c_str());
  return 0;
}

}  // namespace

TC_COMMAND(tasks,
           "--suite NAME --n N --seed S [--start I] [--param key=value ...] [--out FILE] | --list | "
           "--check FILE [--out FILE]",
           "writes generated reasoning problems as JSONL (id, suite, prompt, trace, answer), or checks outputs") {
  if (args.flag("list")) {
    args.finish();
    print_suites();
    return 0;
  }
  if (auto check_path = args.value("check")) {
    std::string out_path = args.get("out", "");
    args.finish();
    Output out(out_path);
    return check_outputs(*check_path, out);
  }
  const TaskSuite& suite = task_suite(args.require("suite"));
  int64_t n = args.get_int64("n", -1);
  if (n < 0) TC_THROW("tasks: missing required option --n (a count >= 0)");
  int64_t seed = args.get_int64("seed", -1);
  if (seed < 0) TC_THROW("tasks: missing required option --seed (an integer >= 0)");
  int64_t start = args.get_int64("start", 0);
  if (start < 0) TC_THROW("tasks: --start must be >= 0");
  TaskParams params = task_params_resolve(suite, args.values("param"));
  std::string out_path = args.get("out", "");
  args.finish();

  Output out(out_path);
  for (int64_t i = 0; i < n; ++i) out.line(task_problem_to_json(suite.generate(uint64_t(seed), uint64_t(start + i), params)));
  out.close();
  return 0;
}

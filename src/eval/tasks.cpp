#include "eval/tasks.h"

#include <cerrno>
#include <cstdlib>

#include "eval/tasks_suites.h"
#include "text/pretokenizer.h"
#include "util/error.h"

namespace tc::eval {

int64_t TaskParams::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) TC_THROW("internal error: task parameter '%s' was never resolved", name.c_str());
  return it->second;
}

const std::vector<const TaskSuite*>& task_suites() {
  static const std::vector<const TaskSuite*> suites = {&task_suite_chain(), &task_suite_arith(), &task_suite_maze(),
                                                      &task_suite_sum()};
  return suites;
}

namespace {

std::string suite_names() {
  std::string names;
  for (const TaskSuite* s : task_suites()) names += (names.empty() ? "" : ", ") + std::string(s->name);
  return names;
}

std::string param_names(const TaskSuite& suite) {
  std::string names;
  for (const auto& p : suite.params) names += (names.empty() ? "" : ", ") + std::string(p.name);
  return names;
}

const TaskParamSpec& find_param(const TaskSuite& suite, const std::string& key) {
  for (const auto& p : suite.params)
    if (key == p.name) return p;
  TC_THROW("suite %s has no parameter '%s' (known: %s)", suite.name, key.c_str(), param_names(suite).c_str());
}

}  // namespace

const TaskSuite& task_suite(std::string_view name) {
  for (const TaskSuite* s : task_suites())
    if (name == s->name) return *s;
  TC_THROW("unknown task suite '%.*s' (known: %s)", int(name.size()), name.data(), suite_names().c_str());
}

TaskParams task_params_resolve(const TaskSuite& suite, const std::map<std::string, int64_t>& overrides) {
  TaskParams params;
  for (const auto& p : suite.params) params.set(p.name, p.default_value);
  for (const auto& [key, value] : overrides) {
    const TaskParamSpec& spec = find_param(suite, key);
    if (value < spec.min_value || value > spec.max_value)
      TC_THROW("suite %s: parameter %s=%lld is out of range [%lld, %lld]", suite.name, key.c_str(),
               (long long)value, (long long)spec.min_value, (long long)spec.max_value);
    params.set(key, value);
  }
  suite.validate(params);
  return params;
}

TaskParams task_params_resolve(const TaskSuite& suite, const std::vector<std::string>& overrides) {
  std::map<std::string, int64_t> parsed;
  for (const std::string& item : overrides) {
    size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      TC_THROW("suite %s: parameter \"%s\" is not of the form key=value", suite.name, item.c_str());
    std::string key = item.substr(0, eq), text = item.substr(eq + 1);
    find_param(suite, key);  // unknown keys are reported before bad values
    errno = 0;
    char* end = nullptr;
    long long value = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno == ERANGE)
      TC_THROW("suite %s: parameter %s expects an integer, got \"%s\"", suite.name, key.c_str(), text.c_str());
    if (parsed.count(key)) TC_THROW("suite %s: parameter %s is given twice", suite.name, key.c_str());
    parsed[key] = value;
  }
  return task_params_resolve(suite, parsed);
}

std::vector<TaskProblem> task_generate(const TaskSuite& suite, uint64_t seed, uint64_t start, uint64_t n,
                                       const TaskParams& params) {
  std::vector<TaskProblem> problems;
  problems.reserve(n);
  for (uint64_t i = 0; i < n; ++i) problems.push_back(suite.generate(seed, start + i, params));
  return problems;
}

std::optional<std::string> task_extract_answer(std::string_view generated) {
  size_t close = generated.rfind("</think>");
  if (close == std::string_view::npos) return std::nullopt;
  std::string_view rest = generated.substr(close + 8);
  static constexpr std::string_view kTag = "answer:";
  size_t pos = 0;
  while (pos <= rest.size()) {
    size_t eol = rest.find('\n', pos);
    std::string_view line = rest.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    if (line.substr(0, kTag.size()) == kTag) {
      std::string_view value = line.substr(kTag.size());
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t' || value.back() == '\r'))
        value.remove_suffix(1);
      return std::string(value);
    }
    if (eol == std::string_view::npos) break;
    pos = eol + 1;
  }
  return std::nullopt;
}

bool task_check_answer_line(const TaskProblem& problem, std::string_view generated) {
  auto answer = task_extract_answer(generated);
  return answer && *answer == problem.answer;
}

std::string task_format_trace(std::string_view thinking, std::string_view answer) {
  std::string out = "<think>\n";
  out += thinking;
  out += "</think>\nanswer: ";
  out += answer;
  return out;
}

std::string task_problem_to_json(const TaskProblem& problem) {
  Json object = Json::object();
  object.set("id", problem.id);
  object.set("suite", problem.suite);
  object.set("prompt", problem.prompt);
  object.set("trace", problem.trace);
  object.set("answer", problem.answer);
  return object.dump();
}

TaskProblem task_problem_from_json(const Json& object) {
  if (!object.is_object()) TC_THROW("task problem: expected a JSON object");
  auto field = [&](const char* key) -> std::string {
    const Json* v = object.find(key);
    if (!v) TC_THROW("task problem: missing field \"%s\"", key);
    if (!v->is_string()) TC_THROW("task problem: field \"%s\" must be a string", key);
    return v->as_string();
  };
  TaskProblem p;
  p.id = field("id");
  p.suite = field("suite");
  p.prompt = field("prompt");
  p.trace = field("trace");
  p.answer = field("answer");
  return p;
}

int64_t task_text_tokens(std::string_view text) {
  int64_t tokens = 0;
  std::vector<std::string_view> pieces;
  size_t start = 0;
  while (start <= text.size()) {
    // The next think tag: counted as one token, the text before it as pre-tokenizer pieces.
    size_t open = text.find("<think>", start), close = text.find("</think>", start);
    size_t tag = std::min(open, close);
    std::string_view part = text.substr(start, tag == std::string_view::npos ? std::string_view::npos : tag - start);
    pieces.clear();
    regex_scan(RegexScanner::Qwen2, part, pieces);
    tokens += int64_t(pieces.size());
    if (tag == std::string_view::npos) break;
    ++tokens;
    start = tag + (tag == open ? 7 : 8);
  }
  return tokens;
}

std::string_view task_variable_names() { return "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"; }

}  // namespace tc::eval

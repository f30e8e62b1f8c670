#include "cli/args.h"

#include <cerrno>
#include <cstdlib>

#include "util/error.h"

namespace tc::cli {

std::vector<Command>& commands() {
  static std::vector<Command> list;
  return list;
}

Args::Args(std::string command, std::vector<std::string> tokens)
    : command_(std::move(command)), tokens_(std::move(tokens)), used_(tokens_.size(), false) {
  // Split --name=value into two tokens.
  std::vector<std::string> split;
  for (auto& t : tokens_) {
    size_t eq = t.find('=');
    if (t.rfind("--", 0) == 0 && eq != std::string::npos) {
      split.push_back(t.substr(0, eq));
      split.push_back(t.substr(eq + 1));
    } else {
      split.push_back(t);
    }
  }
  tokens_ = std::move(split);
  used_.assign(tokens_.size(), false);
}

bool Args::flag(const std::string& name) {
  bool found = false;
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (!used_[i] && tokens_[i] == "--" + name) {
      used_[i] = true;
      found = true;
    }
  }
  return found;
}

std::optional<std::string> Args::value(const std::string& name) {
  std::optional<std::string> out;
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (!used_[i] && tokens_[i] == "--" + name) {
      if (i + 1 >= tokens_.size()) TC_THROW("%s: option --%s needs a value", command_.c_str(), name.c_str());
      used_[i] = used_[i + 1] = true;
      out = tokens_[i + 1];  // the last occurrence wins
    }
  }
  return out;
}

std::vector<std::string> Args::values(const std::string& name) {
  std::vector<std::string> out;
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (!used_[i] && tokens_[i] == "--" + name) {
      if (i + 1 >= tokens_.size()) TC_THROW("%s: option --%s needs a value", command_.c_str(), name.c_str());
      used_[i] = used_[i + 1] = true;
      out.push_back(tokens_[i + 1]);
    }
  }
  return out;
}

std::string Args::require(const std::string& name) {
  auto v = value(name);
  if (!v) TC_THROW("%s: missing required option --%s", command_.c_str(), name.c_str());
  return *v;
}

std::string Args::get(const std::string& name, const std::string& def) {
  auto v = value(name);
  return v ? *v : def;
}

int64_t Args::get_int64(const std::string& name, int64_t def) {
  auto v = value(name);
  if (!v) return def;
  errno = 0;
  char* end = nullptr;
  long long x = std::strtoll(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0' || errno == ERANGE)
    TC_THROW("%s: --%s expects an integer, got \"%s\"", command_.c_str(), name.c_str(), v->c_str());
  return x;
}

int Args::get_int(const std::string& name, int def) {
  int64_t x = get_int64(name, def);
  if (x < INT32_MIN || x > INT32_MAX) TC_THROW("%s: --%s is out of range", command_.c_str(), name.c_str());
  return int(x);
}

double Args::get_double(const std::string& name, double def) {
  auto v = value(name);
  if (!v) return def;
  char* end = nullptr;
  double x = std::strtod(v->c_str(), &end);
  if (v->empty() || *end != '\0')
    TC_THROW("%s: --%s expects a number, got \"%s\"", command_.c_str(), name.c_str(), v->c_str());
  return x;
}

std::optional<std::string> Args::positional() {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (used_[i]) continue;
    if (tokens_[i].rfind("--", 0) == 0 && tokens_[i].size() > 2) return std::nullopt;
    used_[i] = true;
    return tokens_[i];
  }
  return std::nullopt;
}

void Args::finish() {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    if (used_[i]) continue;
    if (tokens_[i].rfind("--", 0) == 0)
      TC_THROW("%s: unknown option %s (see 'thinkcache %s --help')", command_.c_str(), tokens_[i].c_str(), command_.c_str());
    TC_THROW("%s: unexpected argument \"%s\"", command_.c_str(), tokens_[i].c_str());
  }
}

}  // namespace tc::cli

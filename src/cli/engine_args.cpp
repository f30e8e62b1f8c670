#include "cli/engine_args.h"

#include <cerrno>
#include <cstdlib>

#include "util/error.h"

namespace tc::cli {

namespace {
int parse_int_option(const Args& args, const char* name, const std::string& text) {
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE || v < INT32_MIN || v > INT32_MAX)
    TC_THROW("%s: --%s expects an integer, got \"%s\"", args.command().c_str(), name, text.c_str());
  return int(v);
}
}  // namespace

SamplingOptions read_sampling_options(Args& args) {
  SamplingOptions s;
  s.temperature = float(args.get_double("temp", 0.0));
  s.top_k = args.get_int("top-k", 0);
  s.top_p = float(args.get_double("top-p", 1.0));
  s.min_p = float(args.get_double("min-p", 0.0));
  s.repetition_penalty = float(args.get_double("repeat-penalty", 1.0));
  int64_t seed = args.get_int64("seed", 0);
  TC_CHECK_ARG(seed >= 0, "%s: --seed must be >= 0", args.command().c_str());
  s.seed = uint64_t(seed);
  return s;
}

KvOptions read_kv_options(Args& args, const char* default_dtype) {
  KvOptions kv;
  kv.policy = args.get("kv-policy", "full");
  auto budget = args.value("kv-budget");
  auto window = args.value("kv-window");
  if (budget) kv.budget = parse_int_option(args, "kv-budget", *budget);
  if (window) kv.window = parse_int_option(args, "kv-window", *window);
  TC_CHECK_ARG(kv.budget >= 0, "%s: --kv-budget must be >= 0, got %d", args.command().c_str(), kv.budget);
  kv.seed = uint64_t(args.get_int64("kv-seed", 0));
  for (const std::string& kv_text : args.values("kv-option")) {
    size_t eq = kv_text.find('=');
    TC_CHECK_ARG(eq != std::string::npos && eq > 0, "%s: --kv-option expects key=value, got \"%s\"",
                 args.command().c_str(), kv_text.c_str());
    kv.options[kv_text.substr(0, eq)] = kv_text.substr(eq + 1);
  }
  kv.dtype = args.get("kv-dtype", default_dtype);
  // The full cache keeps everything: a budget or window would silently mean nothing.
  if (kv.policy == "full") {
    TC_CHECK_ARG(!budget || kv.budget == 0, "%s: --kv-budget has no effect with --kv-policy full (pick an eviction policy)",
                 args.command().c_str());
    TC_CHECK_ARG(!window, "%s: --kv-window has no effect with --kv-policy full", args.command().c_str());
  }
  return kv;
}

std::vector<int32_t> parse_id_list(const std::string& text) {
  std::vector<int32_t> ids;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ',' || text[i] == ' ')) ++i;
    if (i >= text.size()) break;
    size_t j = i;
    while (j < text.size() && text[j] != ',' && text[j] != ' ') ++j;
    std::string item = text.substr(i, j - i);
    errno = 0;
    char* end = nullptr;
    long long v = std::strtoll(item.c_str(), &end, 10);
    if (*end != '\0' || errno == ERANGE || v < 0 || v > INT32_MAX)
      TC_THROW("--ids: \"%s\" is not a token id (expected non-negative integers separated by commas)", item.c_str());
    ids.push_back(int32_t(v));
    i = j;
  }
  TC_CHECK_ARG(!ids.empty(), "--ids: no token ids given");
  return ids;
}

}  // namespace tc::cli

// `thinkcache policies [--json]`: every KV eviction policy with what --kv-budget and
// --kv-window mean for it and its --kv-option parameters with their defaults.
#include <cstdio>

#include "cli/args.h"
#include "kv/policy.h"
#include "util/json.h"

namespace {

tc::Json policies_json() {
  tc::Json list = tc::Json::array();
  for (const auto& info : tc::policy_registry()) {
    tc::Json params = tc::Json::array();
    for (const auto& p : info.params) {
      tc::Json j = tc::Json::object();
      j.set("key", p.key);
      j.set("default", p.default_value);
      j.set("description", p.description);
      params.push(std::move(j));
    }
    tc::Json j = tc::Json::object();
    j.set("name", info.name);
    j.set("summary", info.summary);
    j.set("budget", info.budget_rule);
    j.set("window", info.window_rule.empty() ? tc::Json(nullptr) : tc::Json(info.window_rule));
    j.set("options", std::move(params));
    list.push(std::move(j));
  }
  return list;
}

}  // namespace

TC_COMMAND(policies, "[--json]", "lists the KV eviction policies with their parameters and defaults") {
  bool json = args.flag("json");
  args.finish();
  if (json) {
    std::printf("%s\n", policies_json().dump(2).c_str());
    return 0;
  }
  std::printf("KV eviction policies (generate --kv-policy NAME --kv-budget TOKENS [--kv-window W] "
              "[--kv-option key=value ...]):\n");
  for (const auto& info : tc::policy_registry()) {
    std::printf("\n%s\n  %s\n", info.name.c_str(), info.summary.c_str());
    std::printf("  --kv-budget: %s\n", info.budget_rule.c_str());
    std::printf("  --kv-window: %s\n", info.window_rule.empty() ? "not accepted" : info.window_rule.c_str());
    if (info.params.empty()) {
      std::printf("  options: none\n");
      continue;
    }
    std::printf("  options:\n");
    for (const auto& p : info.params)
      std::printf("    %s=%s  %s\n", p.key.c_str(), p.default_value.c_str(), p.description.c_str());
  }
  return 0;
}

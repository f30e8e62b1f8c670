#include <algorithm>

#include "kv/policies/registry_parts.h"
#include "util/error.h"

namespace tc {

namespace {
std::vector<PolicyInfo>& mutable_registry() {
  static std::vector<PolicyInfo> list;
  return list;
}
}  // namespace

// Registrars run during static initialisation (one thread); each keeps the list sorted by
// name. Lookups never modify it: evaluation workers call policy_registry() concurrently (it
// once sorted on every call, a data race that corrupted the heap under `eval --threads 2`).
PolicyRegistrar::PolicyRegistrar(PolicyInfo info) {
  auto& r = mutable_registry();
  auto at = std::upper_bound(r.begin(), r.end(), info.name,
                             [](const std::string& name, const PolicyInfo& other) { return name < other.name; });
  r.insert(at, std::move(info));
}

const std::vector<PolicyInfo>& policy_registry() { return mutable_registry(); }

const PolicyInfo* policy_info(const std::string& name) {
  for (const PolicyInfo& info : policy_registry())
    if (info.name == name) return &info;
  return nullptr;
}

void policy_spec_add_option(PolicySpec& spec, const std::string& key_equals_value) {
  size_t eq = key_equals_value.find('=');
  TC_CHECK_ARG(eq != std::string::npos, "--kv-option \"%s\" is not of the form key=value", key_equals_value.c_str());
  std::string key = key_equals_value.substr(0, eq), value = key_equals_value.substr(eq + 1);
  TC_CHECK_ARG(!key.empty(), "--kv-option \"%s\" has an empty key", key_equals_value.c_str());
  TC_CHECK_ARG(!value.empty(), "--kv-option \"%s\" has an empty value", key_equals_value.c_str());
  TC_CHECK_ARG(!spec.options.count(key), "--kv-option %s is given twice", key.c_str());
  spec.options[key] = value;
}

std::unique_ptr<KvPolicy> make_policy(const PolicySpec& spec, const KvCacheShape& shape) {
  for (const auto& info : policy_registry()) {
    if (info.name != spec.name) continue;
    for (const auto& option : spec.options) {
      const std::string& key = option.first;  // not a structured binding: clang < 16 cannot capture those
      bool known = std::any_of(info.params.begin(), info.params.end(), [&](const PolicyParam& p) { return p.key == key; });
      if (!known) {
        std::string keys;
        for (auto& p : info.params) keys += (keys.empty() ? "" : ", ") + p.key;
        TC_THROW("policy %s has no option \"%s\" (options: %s)", spec.name.c_str(), key.c_str(),
                 keys.empty() ? "none" : keys.c_str());
      }
    }
    TC_CHECK_ARG(spec.window == -1 || spec.window > 0, "policy %s: --kv-window must be positive, got %d",
                 spec.name.c_str(), spec.window);
    TC_CHECK_ARG(spec.budget >= 0, "policy %s: --kv-budget must not be negative, got %d", spec.name.c_str(),
                 spec.budget);
    return info.make(spec, shape);
  }
  std::string names;
  for (const auto& info : policy_registry()) names += (names.empty() ? "" : ", ") + info.name;
  TC_THROW("unknown KV policy \"%s\" (known: %s)", spec.name.c_str(), names.c_str());
}

}  // namespace tc

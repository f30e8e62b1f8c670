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

PolicyRegistrar::PolicyRegistrar(PolicyInfo info) { mutable_registry().push_back(std::move(info)); }

const std::vector<PolicyInfo>& policy_registry() {
  auto& r = mutable_registry();
  std::sort(r.begin(), r.end(), [](const PolicyInfo& a, const PolicyInfo& b) { return a.name < b.name; });
  return r;
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
    return info.make(spec, shape);
  }
  std::string names;
  for (const auto& info : policy_registry()) names += (names.empty() ? "" : ", ") + info.name;
  TC_THROW("unknown KV policy \"%s\" (known: %s)", spec.name.c_str(), names.c_str());
}

}  // namespace tc

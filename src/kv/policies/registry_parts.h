// Self-registration of policies: each policies/<name>.cpp calls TC_REGISTER_POLICY.
#pragma once

#include <memory>

#include "kv/policy.h"

namespace tc {

struct PolicyRegistrar {
  explicit PolicyRegistrar(PolicyInfo info);
};

}  // namespace tc

#define TC_REGISTER_POLICY(ident, summary, params, factory) \
  static ::tc::PolicyRegistrar tc_policy_reg_##ident(::tc::PolicyInfo{#ident, summary, params, factory})

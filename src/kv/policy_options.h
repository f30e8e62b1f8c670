// Typed, validated reading of a PolicySpec: --kv-option key=value pairs, --kv-window and
// --kv-budget. Every malformed or out-of-range value throws tc::Error naming the policy,
// the option and the value, so `generate --kv-option alpha=abc` fails with a clear message.
#pragma once

#include <string>
#include <vector>

#include "kv/policy.h"

namespace tc {

class PolicyOptions {
 public:
  explicit PolicyOptions(const PolicySpec& spec) : spec_(spec) {}

  const PolicySpec& spec() const { return spec_; }
  bool has(const std::string& key) const { return spec_.options.count(key) != 0; }

  // Integer in [min, max]; `def` when absent.
  int get_int(const std::string& key, int def, int min, int max) const;
  // Finite number in [min, max]; `def` when absent.
  double get_double(const std::string& key, double def, double min, double max) const;
  // 1/0, true/false, on/off, yes/no.
  bool get_bool(const std::string& key, bool def) const;
  // One of `choices`; `def` when absent.
  std::string get_choice(const std::string& key, const std::string& def, const std::vector<std::string>& choices) const;

  // --kv-budget: must be >= min_budget, i.e. exceed the protected set that `protected_what`
  // describes (e.g. "window 64 + 4 sinks").
  int budget(int min_budget, const std::string& protected_what) const;
  // --kv-window, or `def` when not given (-1); must be in [min, max].
  int window(int def, int min, int max) const;
  // Throws when the user passed --kv-window to a policy that has no window.
  void reject_window() const;

 private:
  const std::string* find(const std::string& key) const;
  const PolicySpec& spec_;
};

}  // namespace tc

#include "eval/eval_budget.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <set>

#include "kv/policy.h"
#include "util/error.h"

namespace tc::eval {

namespace {

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> items;
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    // Spaces around items are allowed ("25%, 50%").
    size_t a = item.find_first_not_of(' '), b = item.find_last_not_of(' ');
    items.push_back(a == std::string::npos ? std::string() : item.substr(a, b - a + 1));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return items;
}

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string known_policy_names() {
  std::string names;
  for (const PolicyInfo& info : policy_registry()) names += (names.empty() ? "" : ", ") + info.name;
  return names;
}

const PolicyInfo& info_of(const PolicyChoice& choice) {
  const PolicyInfo* info = policy_info(choice.name);
  TC_CHECK_ARG(info != nullptr, "internal error: policy %s is not registered", choice.name.c_str());
  return *info;
}

// Per-problem mode: a window that is a fixed default (the same at any budget: VaSE's R,
// SnapKV's w, random's W, R-KV's alpha) is scaled down with the target; a budget-relative one
// (lazy's max(16, B/8), H2O's B/2) is the policy's own scaling.
bool window_is_fixed_default(const PolicyInfo& info, const std::map<std::string, std::string>& options) {
  if (!info.default_window) return false;
  PolicySpec spec;
  spec.name = info.name;
  spec.options = options;
  return info.default_window(1 << 10, spec) == info.default_window(1 << 14, spec);
}

// round(target / 8), at least 1: the largest window the evaluation lets a budget have.
int scaled_window(int target) { return std::max(1, int(std::lround(double(target) / kWindowBudgetRatio))); }

// make_policy's verdict on (budget, window, options); the error message when it refuses.
// On success, *keeps_prompt says whether the policy keeps the prompt whole at prefill.
bool policy_accepts(const PolicyChoice& choice, int budget, int window, const std::map<std::string, std::string>& options,
                    const KvCacheShape& shape, std::string* why, bool* keeps_prompt = nullptr) {
  PolicySpec spec;
  spec.name = choice.name;
  spec.budget = budget;
  spec.window = window;
  spec.options = options;
  try {
    std::unique_ptr<KvPolicy> policy = make_policy(spec, shape);
    if (keeps_prompt) *keeps_prompt = policy->keeps_prompt();
    return true;
  } catch (const Error& e) {
    if (why) *why = e.what();
    return false;
  }
}

}  // namespace

BudgetMode budget_mode_parse(const std::string& text) {
  if (text == "suite") return BudgetMode::Suite;
  if (text == "problem") return BudgetMode::Problem;
  TC_THROW("--budget-mode: \"%s\" is not a budget mode (expected suite or problem)", text.c_str());
}

const char* budget_mode_name(BudgetMode mode) { return mode == BudgetMode::Suite ? "suite" : "problem"; }

bool budget_fits_prompt(const ResolvedBudget& r, int prompt_tokens, std::string* why) {
  if (r.budget == 0 || !r.keeps_prompt) return true;
  const int window = std::max(0, r.window);
  if (int64_t(prompt_tokens) + window <= r.budget) return true;
  if (why)
    *why = str_printf("budget %d cannot hold the %d-token prompt plus the %d-token window (the policy keeps the "
                      "prompt whole at prefill)", r.budget, prompt_tokens, window);
  return false;
}

BudgetSpec budget_parse(const std::string& item) {
  BudgetSpec spec;
  TC_CHECK_ARG(!item.empty(), "--budgets: empty budget in the list (expected tokens like 128 or a percentage like 25%%)");
  if (item.back() == '%') {
    std::string number = item.substr(0, item.size() - 1);
    errno = 0;
    char* end = nullptr;
    double percent = number.empty() ? NAN : std::strtod(number.c_str(), &end);
    bool numeric = !number.empty() && end && *end == '\0' && errno == 0 && std::isfinite(percent) &&
                   (std::isdigit(static_cast<unsigned char>(number[0])) || number[0] == '.');
    TC_CHECK_ARG(numeric, "--budgets: \"%s\" is not a percentage (expected e.g. 25%%)", item.c_str());
    TC_CHECK_ARG(percent > 0 && percent <= 100, "--budgets: %s is outside (0%%, 100%%]", item.c_str());
    spec.kind = BudgetSpec::Kind::Fraction;
    spec.fraction = percent / 100.0;
    spec.label = str_printf("%g%%", percent);
    return spec;
  }
  TC_CHECK_ARG(all_digits(item), "--budgets: \"%s\" is not a budget (expected tokens like 128 or a percentage like 25%%)",
               item.c_str());
  errno = 0;
  long long tokens = std::strtoll(item.c_str(), nullptr, 10);
  TC_CHECK_ARG(errno == 0 && tokens <= (1 << 30), "--budgets: %s tokens is too large", item.c_str());
  TC_CHECK_ARG(tokens > 0, "--budgets: the budget must be positive, got %s", item.c_str());
  spec.kind = BudgetSpec::Kind::Tokens;
  spec.tokens = int(tokens);
  spec.label = std::to_string(tokens);
  return spec;
}

std::vector<BudgetSpec> budget_parse_list(const std::string& text) {
  std::vector<BudgetSpec> list;
  std::set<std::string> seen;
  for (const std::string& item : split_commas(text)) {
    BudgetSpec spec = budget_parse(item);
    TC_CHECK_ARG(seen.insert(spec.label).second, "--budgets: %s is given twice", spec.label.c_str());
    list.push_back(spec);
  }
  return list;
}

PolicyChoice policy_choice_parse(const std::string& item) {
  TC_CHECK_ARG(!item.empty(), "--policies: empty policy name in the list");
  PolicyChoice choice;
  size_t colon = item.find(':');
  choice.name = item.substr(0, colon);
  const PolicyInfo* info = policy_info(choice.name);
  if (!info) TC_THROW("--policies: unknown KV policy \"%s\" (known: %s)", choice.name.c_str(), known_policy_names().c_str());
  while (colon != std::string::npos) {
    size_t next = item.find(':', colon + 1);
    std::string kv = item.substr(colon + 1, next == std::string::npos ? std::string::npos : next - colon - 1);
    size_t eq = kv.find('=');
    TC_CHECK_ARG(eq != std::string::npos && eq > 0 && eq + 1 < kv.size(),
                 "--policies: \"%s\" in \"%s\" is not of the form key=value", kv.c_str(), item.c_str());
    std::string key = kv.substr(0, eq), value = kv.substr(eq + 1);
    if (key == "window") {
      TC_CHECK_ARG(choice.window == -1, "--policies: window is given twice in \"%s\"", item.c_str());
      TC_CHECK_ARG(all_digits(value) && value.size() < 9 && std::atoi(value.c_str()) > 0,
                   "--policies: window=%s in \"%s\" is not a positive integer", value.c_str(), item.c_str());
      TC_CHECK_ARG(!info->window_rule.empty(), "--policies: policy %s has no window (in \"%s\")", choice.name.c_str(),
                   item.c_str());
      choice.window = std::atoi(value.c_str());
    } else {
      bool known = std::any_of(info->params.begin(), info->params.end(), [&](const PolicyParam& p) { return p.key == key; });
      if (!known) {
        std::string keys;
        for (const PolicyParam& p : info->params) keys += (keys.empty() ? "" : ", ") + p.key;
        TC_THROW("--policies: policy %s has no option \"%s\" (options: %s%s)", choice.name.c_str(), key.c_str(),
                 info->window_rule.empty() ? "" : "window, ", keys.empty() ? "none" : keys.c_str());
      }
      TC_CHECK_ARG(!choice.options.count(key), "--policies: %s is given twice in \"%s\"", key.c_str(), item.c_str());
      choice.options[key] = value;
    }
    colon = next;
  }
  TC_CHECK_ARG(choice.name != "full" || (choice.window == -1 && choice.options.empty()),
               "--policies: full takes no options");
  choice.seeded = info->seeded;
  // Canonical label: name, then window, then the options by key.
  choice.label = choice.name;
  if (choice.window > 0) choice.label += ":window=" + std::to_string(choice.window);
  for (const auto& [key, value] : choice.options) choice.label += ":" + key + "=" + value;
  return choice;
}

std::vector<PolicyChoice> policy_choice_parse_list(const std::string& text) {
  std::vector<PolicyChoice> list;
  std::set<std::string> seen;
  for (const std::string& item : split_commas(text)) {
    PolicyChoice choice = policy_choice_parse(item);
    TC_CHECK_ARG(seen.insert(choice.label).second, "--policies: %s is given twice", choice.label.c_str());
    list.push_back(choice);
  }
  return list;
}

const PolicyChoice* policy_choice_find_full(const std::vector<PolicyChoice>& choices) {
  for (const PolicyChoice& c : choices)
    if (c.name == "full") return &c;
  return nullptr;
}

int policy_default_window(const PolicyChoice& choice, int budget, const std::map<std::string, std::string>& options) {
  const PolicyInfo& info = info_of(choice);
  if (!info.default_window) return -1;
  PolicySpec spec;
  spec.name = choice.name;
  spec.budget = budget;
  spec.options = options;
  return info.default_window(budget, spec);
}

ResolvedBudget budget_resolve(const PolicyChoice& choice, const BudgetSpec& spec, int full_length,
                              const KvCacheShape& shape, BudgetMode mode) {
  const bool scale = mode == BudgetMode::Problem;
  ResolvedBudget r;
  r.options = choice.options;
  if (choice.name == "full") return r;
  TC_CHECK_ARG(full_length > 0, "internal error: budget_resolve needs the full-cache length");
  const bool fraction = spec.kind == BudgetSpec::Kind::Fraction;
  r.target = fraction ? std::max(1, int(std::lround(spec.fraction * full_length))) : spec.tokens;

  const PolicyInfo& info = info_of(choice);
  // The period option (rkv's "every") scales with the target unless the user set it.
  if (scale && !info.period_option.empty() && !r.options.count(info.period_option)) {
    int period = info.default_period;
    if (period * kWindowBudgetRatio > r.target) period = scaled_window(r.target);
    r.options[info.period_option] = std::to_string(period);
  }
  // The window for a candidate budget: fixed by the user, scaled from the target, or the
  // policy's own (possibly budget-relative) default.
  const bool window_fixed = choice.window > 0;
  int scaled = -1;
  if (scale && !window_fixed && window_is_fixed_default(info, r.options)) {
    scaled = policy_default_window(choice, r.target, r.options);
    if (scaled * kWindowBudgetRatio > r.target) scaled = scaled_window(r.target);
  }
  auto window_for = [&](int budget) {
    if (window_fixed) return choice.window;
    if (scaled > 0) return scaled;
    return policy_default_window(choice, budget, r.options);
  };

  std::string why;
  if (!fraction) {
    // A user's token budget is never changed; only a scaled window may shrink to fit it.
    const int budget = spec.tokens;
    int window = window_for(budget);
    if (policy_accepts(choice, budget, window, r.options, shape, &why, &r.keeps_prompt)) {
      r.budget = budget;
      r.window = window;
      return r;
    }
    if (scaled > 0) {
      for (int w = window - 1; w >= 1; --w) {
        if (policy_accepts(choice, budget, w, r.options, shape, nullptr, &r.keeps_prompt)) {
          r.budget = budget;
          r.window = w;
          return r;
        }
      }
    }
    TC_THROW("--budgets %s is not valid for policy %s: %s", spec.label.c_str(), choice.label.c_str(), why.c_str());
  }
  // A fraction: the nearest valid budget, the larger one on a tie.
  const int limit = std::max(256, 2 * r.target);
  for (int d = 0; d <= limit; ++d) {
    for (int side = 0; side < (d == 0 ? 1 : 2); ++side) {
      const int budget = side == 0 ? r.target + d : r.target - d;
      if (budget < 1) continue;
      const int window = window_for(budget);
      if (policy_accepts(choice, budget, window, r.options, shape, d == 0 ? &why : nullptr, &r.keeps_prompt)) {
        r.budget = budget;
        r.window = window;
        return r;
      }
    }
  }
  TC_THROW("--budgets %s: no valid budget for policy %s near %d tokens (%d-token full sequence): %s",
           spec.label.c_str(), choice.label.c_str(), r.target, full_length, why.c_str());
}

}  // namespace tc::eval

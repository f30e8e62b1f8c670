#include "kv/policy_options.h"

#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>

#include "util/error.h"

namespace tc {

const std::string* PolicyOptions::find(const std::string& key) const {
  auto it = spec_.options.find(key);
  return it == spec_.options.end() ? nullptr : &it->second;
}

int PolicyOptions::get_int(const std::string& key, int def, int min, int max) const {
  const std::string* s = find(key);
  if (!s) return def;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(s->c_str(), &end, 10);
  if (s->empty() || *end != '\0' || errno == ERANGE)
    TC_THROW("policy %s: option %s=\"%s\" is not an integer", spec_.name.c_str(), key.c_str(), s->c_str());
  if (v < min || v > max)
    TC_THROW("policy %s: option %s=%lld is out of range [%d, %d]", spec_.name.c_str(), key.c_str(), v, min, max);
  return int(v);
}

double PolicyOptions::get_double(const std::string& key, double def, double min, double max) const {
  const std::string* s = find(key);
  if (!s) return def;
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(s->c_str(), &end);
  if (s->empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v))
    TC_THROW("policy %s: option %s=\"%s\" is not a finite number", spec_.name.c_str(), key.c_str(), s->c_str());
  if (v < min || v > max)
    TC_THROW("policy %s: option %s=%g is out of range [%g, %g]", spec_.name.c_str(), key.c_str(), v, min, max);
  return v;
}

bool PolicyOptions::get_bool(const std::string& key, bool def) const {
  const std::string* s = find(key);
  if (!s) return def;
  if (*s == "1" || *s == "true" || *s == "on" || *s == "yes") return true;
  if (*s == "0" || *s == "false" || *s == "off" || *s == "no") return false;
  TC_THROW("policy %s: option %s=\"%s\" is not a boolean (use 1/0, true/false, on/off)", spec_.name.c_str(),
           key.c_str(), s->c_str());
}

std::string PolicyOptions::get_choice(const std::string& key, const std::string& def,
                                      const std::vector<std::string>& choices) const {
  const std::string* s = find(key);
  if (!s) return def;
  for (const auto& c : choices)
    if (*s == c) return c;
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
  TC_THROW("policy %s: option %s=\"%s\" is not one of: %s", spec_.name.c_str(), key.c_str(), s->c_str(),
           list.c_str());
}

int PolicyOptions::budget(int min_budget, const std::string& protected_what) const {
  if (spec_.budget <= 0)
    TC_THROW("policy %s needs a positive --kv-budget (tokens kept per head), got %d", spec_.name.c_str(),
             spec_.budget);
  if (spec_.budget < min_budget)
    TC_THROW("policy %s: --kv-budget %d is too small: it must be at least %d to exceed the protected set (%s)",
             spec_.name.c_str(), spec_.budget, min_budget, protected_what.c_str());
  return spec_.budget;
}

int PolicyOptions::window(int def, int min, int max) const {
  if (spec_.window == -1) return def;
  if (spec_.window < min || spec_.window > max)
    TC_THROW("policy %s: --kv-window %d is out of range [%d, %d]", spec_.name.c_str(), spec_.window, min, max);
  return spec_.window;
}

void PolicyOptions::reject_window() const {
  if (spec_.window != -1)
    TC_THROW("policy %s has no window: --kv-window %d is not accepted", spec_.name.c_str(), spec_.window);
}

}  // namespace tc

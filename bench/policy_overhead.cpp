// Per-step cost of each KV policy (hooks + scoring + eviction) next to the decode step it
// rides on, at the same resident cache size.
//
// Each policy runs through the hook contract with a real KvCache and cpu::attention on
// synthetic tokens (kv/policy_driver_test_util.h): the prompt fills the cache to the
// budget, `--warmup` decode steps reach the steady state (the eviction cycle), then
// `--steps` decode steps are measured. `full` runs the same number of steps at the same
// mean resident size. The machine is shared, so every run is repeated `--repeats` times
// with identical data and each step keeps its fastest repeat (the work of a step is
// deterministic; interference only adds): sums of per-step minima, divided by the steps.
// Run with TC_THREADS=1 for stable numbers. Reported per policy:
//   resident     mean live tokens per (layer, head) over the measured steps
//   attn_us      attention per step in the policy's run
//   hook_us      the policy's own time per step (PolicyStats::scoring_seconds: every hook,
//                tracking, scoring, selection, compaction; evictions amortised)
//   overhead     hook_us / attn_us — the policy's cost relative to the attention over the same
//                tokens: an upper bound on its share of a real decode step, which also runs
//                the model's matmuls (bench that end to end once the engine lands)
//   step_us      whole decode step with the policy (attention + hooks + the driver's own work)
//   full_us      whole decode step with `full` at the same mean resident size
//   vs_full      step_us / full_us
//
// usage: policy_overhead [--layers 4] [--heads 16] [--kv-heads 8] [--head-dim 128]
//                        [--budget 1024] [--steps 256] [--warmup 192] [--repeats 5]
//                        [--dtype f16] [--policies lazy,vase,...] [--json]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "kv/policy.h"
#include "kv/policy_driver_test_util.h"
#include "util/error.h"
#include "util/json.h"
#include "util/thread_pool.h"

using namespace tc;

namespace {

struct Options {
  KvCacheShape shape{4, 16, 8, 128};
  int budget = 1024;
  int steps = 256;
  int warmup = 192;
  int repeats = 5;
  DType dtype = DType::F16;
  std::vector<std::string> policies = {"lazy", "vase", "vase-dkv", "curdkv", "snapkv", "rkv",
                                       "h2o", "tova", "streaming", "random"};
  bool json = false;
};

// Per measured step: whole step, attention, policy (seconds, steady clock); each keeps the
// minimum over the repeats.
struct StepTimes {
  std::vector<double> step, attn, hook;
  double resident = 0;
  int64_t evictions = 0;

  void keep_min(const StepTimes& o) {
    if (step.empty()) {
      *this = o;
      return;
    }
    for (size_t i = 0; i < step.size(); ++i) {
      step[i] = std::min(step[i], o.step[i]);
      attn[i] = std::min(attn[i], o.attn[i]);
      hook[i] = std::min(hook[i], o.hook[i]);
    }
  }
  static double mean_us(const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return s / double(v.size()) * 1e6;
  }
};

StepTimes measure(const Options& o, const PolicySpec& spec, int prompt) {
  testing::DriverSpec ds;
  ds.shape = o.shape;
  ds.dtype = o.dtype;
  ds.prompt_tokens = prompt;
  ds.max_new_tokens = o.warmup + o.steps;
  ds.prefill_chunk = 256;
  ds.token_pool = 4096;
  testing::PolicyDriver d(ds, make_policy(spec, o.shape), ThreadPool::global());
  d.prefill();
  for (int t = 0; t < o.warmup; ++t) d.decode();
  StepTimes r;
  const int64_t ev0 = d.policy().stats().evictions;
  for (int t = 0; t < o.steps; ++t) {
    const double attn0 = d.attention_seconds(), hook0 = d.policy().stats().scoring_seconds;
    const auto c0 = std::chrono::steady_clock::now();
    d.decode();
    r.step.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count());
    r.attn.push_back(d.attention_seconds() - attn0);
    r.hook.push_back(d.policy().stats().scoring_seconds - hook0);
    r.resident += d.size_before_eviction();
  }
  r.resident /= o.steps;
  r.evictions = d.policy().stats().evictions - ev0;
  return r;
}

struct Result {
  std::string policy;
  double resident = 0, attn_us = 0, hook_us = 0, step_us = 0, full_us = 0;
  int64_t evictions = 0;
  double overhead() const { return hook_us / attn_us; }
  double vs_full() const { return step_us / full_us; }
};

Result compare(const Options& o, const std::string& name) {
  PolicySpec spec;
  spec.name = name;
  spec.budget = o.budget;
  spec.seed = 1;
  if (name == "snapkv") spec.options["mode"] = "decode";  // the prefill mode never evicts while decoding
  PolicySpec full;
  full.name = "full";
  StepTimes pol, ful;
  int full_prompt = 0;
  for (int rep = 0; rep < o.repeats; ++rep) {
    pol.keep_min(measure(o, spec, o.budget));
    // full grows by one token per step: start it half the measured steps below the mean.
    if (rep == 0) full_prompt = std::max(1, int(pol.resident + 0.5) - o.warmup - o.steps / 2);
    ful.keep_min(measure(o, full, full_prompt));
  }
  Result r;
  r.policy = name;
  r.resident = pol.resident;
  r.evictions = pol.evictions;
  r.attn_us = StepTimes::mean_us(pol.attn);
  r.hook_us = StepTimes::mean_us(pol.hook);
  r.step_us = StepTimes::mean_us(pol.step);
  r.full_us = StepTimes::mean_us(ful.step);
  return r;
}

int parse_int(const char* flag, const char* v) {
  char* end = nullptr;
  long x = std::strtol(v, &end, 10);
  if (!*v || *end || x <= 0) TC_THROW("%s needs a positive integer, got \"%s\"", flag, v);
  return int(x);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) TC_THROW("%s needs a value", a.c_str());
      return argv[++i];
    };
    if (a == "--layers") o.shape.n_layers = parse_int("--layers", next());
    else if (a == "--heads") o.shape.n_heads = parse_int("--heads", next());
    else if (a == "--kv-heads") o.shape.n_kv_heads = parse_int("--kv-heads", next());
    else if (a == "--head-dim") o.shape.head_dim = parse_int("--head-dim", next());
    else if (a == "--budget") o.budget = parse_int("--budget", next());
    else if (a == "--steps") o.steps = parse_int("--steps", next());
    else if (a == "--warmup") o.warmup = parse_int("--warmup", next());
    else if (a == "--repeats") o.repeats = parse_int("--repeats", next());
    else if (a == "--json") o.json = true;
    else if (a == "--dtype") {
      std::string d = next();
      if (d == "f16") o.dtype = DType::F16;
      else if (d == "bf16") o.dtype = DType::BF16;
      else if (d == "f32") o.dtype = DType::F32;
      else TC_THROW("--dtype must be f16, bf16 or f32, got %s", d.c_str());
    } else if (a == "--policies") {
      o.policies.clear();
      std::stringstream ss(next());
      for (std::string p; std::getline(ss, p, ',');) o.policies.push_back(p);
    } else {
      TC_THROW("unknown argument %s", a.c_str());
    }
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    Options o = parse(argc, argv);
    std::vector<Result> results;
    for (const std::string& name : o.policies) {
      Result r = compare(o, name);
      results.push_back(r);
      std::fprintf(stderr, "%-10s resident %7.1f  attn %8.1f us  hooks %7.1f us  overhead %6.2f%%  step %8.1f us  "
                   "full %8.1f us  vs full %.3f\n",
                   r.policy.c_str(), r.resident, r.attn_us, r.hook_us, 100 * r.overhead(), r.step_us, r.full_us,
                   r.vs_full());
    }
    if (o.json) {
      Json out = Json::object();
      Json cfg = Json::object();
      cfg.set("layers", o.shape.n_layers);
      cfg.set("heads", o.shape.n_heads);
      cfg.set("kv_heads", o.shape.n_kv_heads);
      cfg.set("head_dim", o.shape.head_dim);
      cfg.set("budget", o.budget);
      cfg.set("steps", o.steps);
      cfg.set("warmup", o.warmup);
      cfg.set("repeats", o.repeats);
      cfg.set("threads", ThreadPool::global().size());
      out.set("config", std::move(cfg));
      Json rows = Json::array();
      for (const Result& r : results) {
        Json j = Json::object();
        j.set("policy", r.policy);
        j.set("resident", r.resident);
        j.set("attn_us", r.attn_us);
        j.set("hook_us", r.hook_us);
        j.set("overhead", r.overhead());
        j.set("step_us", r.step_us);
        j.set("full_us", r.full_us);
        j.set("vs_full", r.vs_full());
        j.set("evictions", r.evictions);
        rows.push(std::move(j));
      }
      out.set("results", std::move(rows));
      std::printf("%s\n", out.dump(2).c_str());
    } else {
      std::printf("%-10s %9s %9s %9s %9s %9s %9s %8s %10s\n", "policy", "resident", "attn_us", "hook_us", "overhead",
                  "step_us", "full_us", "vs_full", "evictions");
      for (const Result& r : results)
        std::printf("%-10s %9.1f %9.1f %9.1f %8.2f%% %9.1f %9.1f %8.3f %10lld\n", r.policy.c_str(), r.resident,
                    r.attn_us, r.hook_us, 100 * r.overhead(), r.step_us, r.full_us, r.vs_full(),
                    (long long)r.evictions);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "policy_overhead: error: %s\n", e.what());
    return 1;
  }
}

// Per-step cost of each KV policy (hooks + scoring + eviction) next to the decode step it
// rides on, at the same resident cache size.
//
// Each policy runs through the hook contract with a real KvCache and cpu::attention on
// synthetic tokens (kv/policy_driver_test_util.h): the prompt fills the cache to the
// budget, `--warmup` decode steps reach the steady state (the eviction cycle), then
// `--steps` decode steps are measured with the thread's CPU clock (the machine is shared;
// preemption does not count; run with TC_THREADS=1 so all the work is on that thread).
// `full` runs the same number of steps at the same mean resident size, and each pair of
// runs is repeated `--repeats` times, keeping the fastest. Reported per policy:
//   resident     mean live tokens per (layer, head) over the measured steps
//   step_us      decode step with the policy (attention + hooks + the driver's own work)
//   full_us      decode step with `full` at the same mean resident size
//   attn_us      the attention alone in those `full` steps
//   delta_us     step_us − full_us: what the policy adds per step (amortised evictions included)
//   overhead     delta_us / attn_us: the policy's cost relative to the attention over the same
//                tokens — an upper bound on its share of a real decode step, which also runs
//                the model's matmuls (bench that end to end once the engine lands)
//   hook_us      the policy's own time per step measured around each hook (a second run,
//                with a clock read per hook: attribution, slightly inflated)
//
// usage: policy_overhead [--layers 4] [--heads 16] [--kv-heads 8] [--head-dim 128]
//                        [--budget 1024] [--steps 384] [--warmup 192] [--repeats 3]
//                        [--dtype f16] [--policies lazy,vase,...] [--json]
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
  int steps = 384;
  int warmup = 192;
  int repeats = 3;
  DType dtype = DType::F16;
  std::vector<std::string> policies = {"lazy", "vase", "vase-dkv", "curdkv", "snapkv", "rkv",
                                       "h2o", "tova", "streaming", "random"};
  bool json = false;
};

struct Run {
  double step_us = 0, attn_us = 0, hook_us = 0, resident = 0;
  int64_t evictions = 0;
};

// One run of `spec` with the cache filled to `prompt` tokens: `warmup` steps, then `steps`
// measured ones. With hook_clock, the attention and every hook are also timed (perturbing
// the step time a little).
Run measure(const Options& o, const PolicySpec& spec, int prompt, bool hook_clock) {
  testing::DriverSpec ds;
  ds.shape = o.shape;
  ds.dtype = o.dtype;
  ds.prompt_tokens = prompt;
  ds.max_new_tokens = o.warmup + o.steps;
  ds.prefill_chunk = 256;
  ds.token_pool = 4096;
  ds.cpu_clock = hook_clock;
  testing::PolicyDriver d(ds, make_policy(spec, o.shape), ThreadPool::global());
  d.prefill();
  for (int t = 0; t < o.warmup; ++t) d.decode();
  const double attn0 = d.attention_cpu_seconds(), hook0 = d.policy_cpu_seconds();
  const int64_t ev0 = d.policy().stats().evictions;
  double step = 0, resident = 0;
  for (int t = 0; t < o.steps; ++t) {
    const double c0 = testing::thread_cpu_seconds();
    d.decode();
    step += testing::thread_cpu_seconds() - c0;
    resident += d.size_before_eviction();
  }
  Run r;
  r.step_us = step / o.steps * 1e6;
  r.attn_us = (d.attention_cpu_seconds() - attn0) / o.steps * 1e6;
  r.hook_us = (d.policy_cpu_seconds() - hook0) / o.steps * 1e6;
  r.resident = resident / o.steps;
  r.evictions = d.policy().stats().evictions - ev0;
  return r;
}

struct Result {
  std::string policy;
  double resident = 0, step_us = 0, full_us = 0, attn_us = 0, hook_us = 0;
  int64_t evictions = 0;
  double delta_us() const { return step_us - full_us; }
  double overhead() const { return delta_us() / attn_us; }
};

Result compare(const Options& o, const std::string& name) {
  PolicySpec spec;
  spec.name = name;
  spec.budget = o.budget;
  spec.seed = 1;
  if (name == "snapkv") spec.options["mode"] = "decode";  // the prefill mode never evicts while decoding
  PolicySpec full;
  full.name = "full";
  Result r;
  r.policy = name;
  r.step_us = r.full_us = 1e300;
  int full_prompt = 0;
  for (int rep = 0; rep < o.repeats; ++rep) {
    Run p = measure(o, spec, o.budget, false);
    r.resident = p.resident;
    r.evictions = p.evictions;
    r.step_us = std::min(r.step_us, p.step_us);
    // full grows by one token per step: start it half the measured steps below the mean.
    if (rep == 0) full_prompt = std::max(1, int(p.resident + 0.5) - o.warmup - o.steps / 2);
    r.full_us = std::min(r.full_us, measure(o, full, full_prompt, false).step_us);
  }
  r.attn_us = measure(o, full, full_prompt, true).attn_us;
  r.hook_us = measure(o, spec, o.budget, true).hook_us - measure(o, full, full_prompt, true).hook_us;
  return r;
}

int parse_int(const char* flag, const char* v) {
  char* end = nullptr;
  long x = std::strtol(v, &end, 10);
  if (!*v || *end || x <= 0) TC_THROW("policy_overhead: %s needs a positive integer, got \"%s\"", flag, v);
  return int(x);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) TC_THROW("policy_overhead: %s needs a value", a.c_str());
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
      else TC_THROW("policy_overhead: --dtype must be f16, bf16 or f32, got %s", d.c_str());
    } else if (a == "--policies") {
      o.policies.clear();
      std::stringstream ss(next());
      for (std::string p; std::getline(ss, p, ',');) o.policies.push_back(p);
    } else {
      TC_THROW("policy_overhead: unknown argument %s", a.c_str());
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
      std::fprintf(stderr, "%-10s resident %7.1f  step %8.1f us  full %8.1f us  attn %8.1f us  delta %7.1f us  "
                   "overhead %6.2f%%  hooks %7.1f us\n",
                   r.policy.c_str(), r.resident, r.step_us, r.full_us, r.attn_us, r.delta_us(), 100 * r.overhead(),
                   r.hook_us);
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
        j.set("step_us", r.step_us);
        j.set("full_us", r.full_us);
        j.set("attn_us", r.attn_us);
        j.set("delta_us", r.delta_us());
        j.set("overhead", r.overhead());
        j.set("vs_full", r.step_us / r.full_us);
        j.set("hook_us", r.hook_us);
        j.set("evictions", r.evictions);
        rows.push(std::move(j));
      }
      out.set("results", std::move(rows));
      std::printf("%s\n", out.dump(2).c_str());
    } else {
      std::printf("%-10s %9s %9s %9s %9s %9s %9s %8s %9s\n", "policy", "resident", "step_us", "full_us", "attn_us",
                  "delta_us", "overhead", "vs_full", "hook_us");
      for (const Result& r : results)
        std::printf("%-10s %9.1f %9.1f %9.1f %9.1f %9.1f %8.2f%% %8.3f %9.1f\n", r.policy.c_str(), r.resident,
                    r.step_us, r.full_us, r.attn_us, r.delta_us(), 100 * r.overhead(), r.step_us / r.full_us,
                    r.hook_us);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "policy_overhead: error: %s\n", e.what());
    return 1;
  }
}

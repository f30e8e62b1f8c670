// Per-step cost of each KV policy's hooks + scoring + eviction, next to the cost of the
// attention of the same decode steps at the same resident cache size.
//
// Each policy runs through the hook contract with a real KvCache and cpu::attention on
// synthetic tokens (kv/policy_driver_test_util.h): the prompt fills the cache to the
// budget, `--warmup` decode steps reach the steady state (the eviction cycle), then
// `--steps` decode steps are measured. Reported per policy:
//   attn_us      attention time per decode step (all layers)
//   policy_us    time inside the policy per decode step (every hook: tracking, scoring,
//                selection, compaction), amortised over the eviction cycle
// Both are measured with the thread's CPU clock (run with TC_THREADS=1 so all work is on
// the timed thread): the machine is shared and wall time includes preemption. The wall
// time the policy itself records (PolicyStats::scoring_seconds) is reported as policy_wall_us.
//   overhead     policy_us / attn_us: the extra work per step relative to the attention
//                over the same resident tokens (the end-to-end ratio with the model's
//                matmuls included is smaller; bench it once the engine lands)
//   resident     mean live tokens per (layer, head) during the measured steps
//   full_attn_us the attention time per step of `full` at that resident size, and
//   vs_full      (attn_us + policy_us) / full_attn_us
//
// usage: policy_overhead [--layers 4] [--heads 16] [--kv-heads 8] [--head-dim 128]
//                        [--budget 1024] [--steps 512] [--warmup 256] [--dtype f16]
//                        [--policies lazy,vase,...] [--json]
// Set TC_THREADS to pin the thread count (the attention and the evictions use the global pool).
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
  int steps = 512;
  int warmup = 256;
  DType dtype = DType::F16;
  std::vector<std::string> policies = {"full", "lazy", "vase", "vase-dkv", "curdkv", "snapkv", "rkv",
                                       "h2o", "tova", "streaming", "random"};
  bool json = false;
};

struct Result {
  std::string policy;
  double attn_us = 0, policy_us = 0, policy_wall_us = 0, resident = 0, full_attn_us = 0;
  int64_t evictions = 0;
};

// Runs `spec` with the cache filled to `prompt` tokens; measures `steps` decode steps after `warmup`.
Result measure(const Options& o, const PolicySpec& spec, int prompt) {
  testing::DriverSpec ds;
  ds.shape = o.shape;
  ds.dtype = o.dtype;
  ds.prompt_tokens = prompt;
  ds.max_new_tokens = o.warmup + o.steps;
  ds.prefill_chunk = 256;
  ds.cpu_clock = true;
  testing::PolicyDriver d(ds, make_policy(spec, o.shape), ThreadPool::global());
  d.prefill();
  for (int t = 0; t < o.warmup; ++t) d.decode();
  double attn0 = d.attention_cpu_seconds(), pol0 = d.policy_cpu_seconds();
  double wall0 = d.policy().stats().scoring_seconds;
  int64_t ev0 = d.policy().stats().evictions;
  double resident = 0;
  for (int t = 0; t < o.steps; ++t) {
    d.decode();
    resident += d.size_before_eviction();
  }
  Result r;
  r.policy = spec.name;
  r.attn_us = (d.attention_cpu_seconds() - attn0) / o.steps * 1e6;
  r.policy_us = (d.policy_cpu_seconds() - pol0) / o.steps * 1e6;
  r.policy_wall_us = (d.policy().stats().scoring_seconds - wall0) / o.steps * 1e6;
  r.resident = resident / o.steps;
  r.evictions = d.policy().stats().evictions - ev0;
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
      PolicySpec spec;
      spec.name = name;
      spec.budget = name == "full" ? 0 : o.budget;
      spec.seed = 1;
      if (name == "snapkv") spec.options["mode"] = "decode";  // the prefill mode never evicts while decoding
      Result r = measure(o, spec, o.budget);
      // full at the policy's mean resident size: the prompt sits half the measured steps below it.
      int full_prompt = std::max(1, int(r.resident + 0.5) - o.warmup - o.steps / 2);
      PolicySpec full;
      full.name = "full";
      r.full_attn_us = measure(o, full, full_prompt).attn_us;
      results.push_back(r);
      if (!o.json)
        std::fprintf(stderr, "%-10s resident %7.1f  attn %9.1f us  policy %8.1f us  overhead %6.2f%%  vs full %6.3f\n",
                     r.policy.c_str(), r.resident, r.attn_us, r.policy_us, 100 * r.policy_us / r.attn_us,
                     (r.attn_us + r.policy_us) / r.full_attn_us);
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
      cfg.set("threads", ThreadPool::global().size());
      out.set("config", std::move(cfg));
      Json rows = Json::array();
      for (const Result& r : results) {
        Json j = Json::object();
        j.set("policy", r.policy);
        j.set("resident", r.resident);
        j.set("attn_us", r.attn_us);
        j.set("policy_us", r.policy_us);
        j.set("policy_wall_us", r.policy_wall_us);
        j.set("overhead", r.policy_us / r.attn_us);
        j.set("full_attn_us", r.full_attn_us);
        j.set("vs_full", (r.attn_us + r.policy_us) / r.full_attn_us);
        j.set("evictions", r.evictions);
        rows.push(std::move(j));
      }
      out.set("results", std::move(rows));
      std::printf("%s\n", out.dump(2).c_str());
    } else {
      std::printf("%-10s %9s %10s %10s %9s %12s %8s\n", "policy", "resident", "attn_us", "policy_us", "overhead",
                  "full_attn_us", "vs_full");
      for (const Result& r : results)
        std::printf("%-10s %9.1f %10.1f %10.1f %8.2f%% %12.1f %8.3f\n", r.policy.c_str(), r.resident, r.attn_us,
                    r.policy_us, 100 * r.policy_us / r.attn_us, r.full_attn_us,
                    (r.attn_us + r.policy_us) / r.full_attn_us);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "policy_overhead: error: %s\n", e.what());
    return 1;
  }
}

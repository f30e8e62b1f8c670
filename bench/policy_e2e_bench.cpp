// policy_e2e_bench: the end-to-end cost of each KV eviction policy in real decoding, against
// the full cache at the same resident size.
//
// Method, per resident size S (default 512 and 2048 tokens of SmolLM2 context):
//   (b) policy: a session with budget B = S is prefilled with S tokens of text and decodes
//       `--warmup` steps into its steady state (the eviction cycle: it holds B .. B + period
//       tokens); its mean resident size R (the live tokens each decode step attends over) is
//       measured over the last `--steps` warm-up steps;
//   (a) full: a full-cache session is prefilled with L = R − (N + 1)/2 tokens, so that N decode
//       steps attend over L + 1 .. L + N tokens, the same mean R. After each block its N
//       newest slots are dropped again, so every block sees the same sizes.
// Blocks of N = `--steps` greedy decode steps (a multiple of every eviction period, so each
// block holds the same number of evictions at the same step indices) are interleaved: for
// every repeat, each policy's block and its full block, alternating which goes first (an order
// effect cancels). `full` in the list is the control: two identical full sessions. Reported:
//   min ms       ms/token from per-step minima: step i of a block does the same work in every
//                repeat, and interference on a shared machine only adds, so each step keeps
//                its fastest repeat (sum of per-step minima / N) — the headline numbers;
//   ratio        min policy / min full, and `median ratio`, the median of the per-repeat
//                block ratios (paired, so slow drift cancels) as a cross-check;
//   policy-own   the policy's own time (PolicyStats::scoring_seconds: every hook, tracking,
//                scoring, selection, compaction) per token, median over repeats, and its
//                share of the policy's decode time; it excludes the attention kernel's extra
//                work for the probabilities a policy asks for, which the ratio includes;
//   evict/blk    eviction events per block.
// With TC_THREADS=1 all work runs on this thread and times are this thread's CPU time
// (preemption by other processes does not count); otherwise wall time.
//
// usage: policy_e2e_bench [--model PATH] [--sizes 512,2048] [--policies lazy,vase,...]
//                         [--steps 256] [--warmup 512] [--repeats 5] [--kv-dtype f16] [--json]
// A policy is NAME or NAME:key=value:key=value (--kv-option pairs); snapkv runs mode=decode.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "engine/generate.h"
#include "engine/session.h"
#include "model/model.h"
#include "text/tokenizer.h"
#include "util/error.h"
#include "util/json.h"
#include "util/thread_pool.h"

namespace {

std::string load_average() {
  std::ifstream f("/proc/loadavg");
  std::string s;
  std::getline(f, s);
  return s;
}

double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= s.size()) {
    size_t j = s.find(sep, i);
    if (j == std::string::npos) j = s.size();
    out.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Text for the prompts: a chain of reasoning, repeated as often as needed.
const char* kPassage =
    "Let us work through the problem step by step. First, we write down what is given: a train leaves the "
    "station at nine o'clock and travels at sixty kilometres per hour, while a second train leaves an hour later "
    "at eighty kilometres per hour on the same track. We want the time at which the second train catches up. "
    "After one hour the first train is sixty kilometres ahead. The second train gains twenty kilometres every "
    "hour, so it needs sixty divided by twenty, which is three hours, to close the gap. Wait, let me check this "
    "again: in three hours the second train covers two hundred and forty kilometres, and the first train, which "
    "has been travelling for four hours, also covers two hundred and forty kilometres. So the answer is one "
    "o'clock in the afternoon. Now consider a harder variant in which the first train stops for twenty minutes. ";

std::vector<int32_t> text_ids(const tc::Tokenizer& tok, int n) {
  std::vector<int32_t> one = tok.encode(kPassage);
  TC_CHECK_ARG(!one.empty(), "the tokenizer produced no tokens");
  std::vector<int32_t> ids;
  while (int(ids.size()) < n) ids.insert(ids.end(), one.begin(), one.end());
  ids.resize(size_t(n));
  return ids;
}

int32_t argmax(const float* logits, int n) {
  int32_t best = 0;
  for (int i = 1; i < n; ++i)
    if (logits[i] > logits[best]) best = i;
  return best;
}

struct Timer {
  bool cpu;
  double now() const { return cpu ? thread_cpu_seconds() : wall_seconds(); }
};

// A session with its cache and policy, decoding greedily from where it stopped.
struct Runner {
  tc::KvSetup kv;
  std::unique_ptr<tc::Session> session;
  int32_t next = 0;
  int vocab = 0;

  Runner(const tc::Model& model, const tc::KvOptions& options, const std::vector<int32_t>& prompt, int max_new) {
    kv = tc::make_kv_setup(model, options, int(prompt.size()), max_new);
    tc::SessionOptions so;
    so.prefill_chunk = 256;
    session = std::make_unique<tc::Session>(model, *kv.cache, kv.policy.get(), so);
    session->prefill(prompt.data(), int(prompt.size()));
    vocab = model.config().vocab;
    next = argmax(session->logits(), vocab);
  }
  // One decode step; returns the live tokens its attention saw.
  int step() {
    const int seen = kv.cache->max_size() + 1;
    next = argmax(session->decode(next), vocab);
    return seen;
  }
  // Drops the newest n slots of every (layer, head): back to the size before n steps.
  void drop_newest(int n) {
    tc::KvCache& c = *kv.cache;
    std::vector<int32_t> slots(static_cast<size_t>(n));
    for (int l = 0; l < c.n_layers(); ++l)
      for (int h = 0; h < c.n_store_heads(); ++h) {
        const int size = c.size(l, h);
        for (int i = 0; i < n; ++i) slots[size_t(i)] = size - n + i;
        c.remove(l, h, slots.data(), n);
      }
  }
};

struct Block {
  double seconds = 0, policy_seconds = 0, mean_seen = 0;
  int64_t evictions = 0;
  std::vector<double> step_seconds;  // [steps]
};

// Sum over step indices of the fastest repeat of each step.
double min_step_sum(const std::vector<Block>& blocks) {
  double sum = 0;
  for (size_t i = 0; i < blocks[0].step_seconds.size(); ++i) {
    double m = blocks[0].step_seconds[i];
    for (const Block& b : blocks) m = std::min(m, b.step_seconds[i]);
    sum += m;
  }
  return sum;
}

Block run_block(Runner& r, int steps, const Timer& timer) {
  Block b;
  const tc::PolicyStats s0 = r.kv.policy->stats();
  double seen = 0;
  b.step_seconds.resize(size_t(steps));
  const double t0 = timer.now();
  double last = t0;
  for (int i = 0; i < steps; ++i) {
    seen += r.step();
    const double now = timer.now();
    b.step_seconds[size_t(i)] = now - last;
    last = now;
  }
  b.seconds = last - t0;
  b.policy_seconds = r.kv.policy->stats().scoring_seconds - s0.scoring_seconds;
  b.evictions = r.kv.policy->stats().evictions - s0.evictions;
  b.mean_seen = seen / steps;
  return b;
}

struct PolicyRun {
  std::string label;
  tc::KvOptions kv;
  std::unique_ptr<Runner> policy, full;
  int full_prompt = 0;
  bool control = false;  // `full` against `full`
  std::vector<Block> policy_blocks, full_blocks;
};

}  // namespace

int main(int argc, char** argv) {
  const char* assets = std::getenv("TC_ASSETS");
  std::string model_path = std::string(assets ? assets : "assets") + "/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
  std::vector<int> sizes = {512, 2048};
  std::vector<std::string> policies = {"full", "lazy", "vase", "vase-dkv", "curdkv", "snapkv",
                                       "rkv", "h2o", "tova", "streaming", "random"};
  int steps = 256, warmup = 512, repeats = 5;
  std::string kv_dtype = "f16";
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "policy_e2e_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--model") model_path = next();
    else if (a == "--sizes") {
      sizes.clear();
      for (const std::string& s : split(next(), ',')) sizes.push_back(std::atoi(s.c_str()));
    } else if (a == "--policies") policies = split(next(), ',');
    else if (a == "--steps") steps = std::atoi(next().c_str());
    else if (a == "--warmup") warmup = std::atoi(next().c_str());
    else if (a == "--repeats") repeats = std::atoi(next().c_str());
    else if (a == "--kv-dtype") kv_dtype = next();
    else if (a == "--json") json = true;
    else {
      std::fprintf(stderr, "policy_e2e_bench: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  try {
    TC_CHECK_ARG(steps > 0 && warmup >= steps && repeats > 0,
                 "policy_e2e_bench: need --steps > 0, --warmup >= --steps and --repeats > 0");
    auto model = tc::Model::load(model_path);
    const tc::ModelConfig& c = model->config();
    tc::ThreadPool& pool = tc::ThreadPool::global();
    const Timer timer{pool.size() == 1};
    std::printf("model: %s\n  %s\n", model_path.c_str(), c.describe().c_str());
    std::printf("threads: %d (%s time), kv dtype %s, blocks of %d greedy decode steps, %d warm-up steps, %d repeats\n",
                pool.size(), timer.cpu ? "thread CPU" : "wall", kv_dtype.c_str(), steps, warmup, repeats);
    std::printf("loadavg before: %s\n", load_average().c_str());
    tc::Json out = tc::Json::array();

    for (int size : sizes) {
      std::vector<PolicyRun> runs;
      for (const std::string& spec_text : policies) {
        std::vector<std::string> parts = split(spec_text, ':');
        PolicyRun run;
        run.label = spec_text;
        run.kv.policy = parts[0];
        run.kv.budget = size;
        run.kv.dtype = kv_dtype;
        if (parts[0] == "snapkv") run.kv.options["mode"] = "decode";
        for (size_t p = 1; p < parts.size(); ++p) {
          const size_t eq = parts[p].find('=');
          TC_CHECK_ARG(eq != std::string::npos, "policy_e2e_bench: \"%s\" is not key=value in %s", parts[p].c_str(),
                       spec_text.c_str());
          run.kv.options[parts[p].substr(0, eq)] = parts[p].substr(eq + 1);
        }
        const int total = size + warmup + steps * repeats;
        TC_CHECK_ARG(total <= c.context_length, "policy_e2e_bench: %d tokens exceed the model's context of %d", total,
                     c.context_length);
        if (parts[0] == "full") {
          // The control: two identical full-cache sessions (both trimmed after each block), so
          // the ratio shows the method's own noise and bias.
          run.kv.budget = 0;
          run.control = true;
          run.full_prompt = size;
          run.policy = std::make_unique<Runner>(*model, run.kv, text_ids(model->require_tokenizer(), size), steps);
          run.full = std::make_unique<Runner>(*model, run.kv, text_ids(model->require_tokenizer(), size), steps);
          runs.push_back(std::move(run));
          continue;
        }
        // (b): prompt = S tokens, then the warm-up into the eviction cycle.
        run.policy = std::make_unique<Runner>(*model, run.kv, text_ids(model->require_tokenizer(), size),
                                              warmup + steps * repeats);
        double seen = 0;
        for (int i = 0; i < warmup; ++i) {
          const int s = run.policy->step();
          if (i >= warmup - steps) seen += s;
        }
        const double resident = seen / steps;
        // (a): full with L + 1 .. L + N live tokens over a block, mean = the policy's resident size.
        run.full_prompt = std::max(1, int(std::lround(resident - (steps + 1) / 2.0)));
        tc::KvOptions full;
        full.dtype = kv_dtype;
        run.full = std::make_unique<Runner>(*model, full, text_ids(model->require_tokenizer(), run.full_prompt), steps);
        std::fprintf(stderr, "S=%d %s: resident %.1f, full prompt %d\n", size, spec_text.c_str(), resident,
                     run.full_prompt);
        runs.push_back(std::move(run));
      }
      for (int r = 0; r < repeats; ++r) {
        for (PolicyRun& run : runs) {
          // Alternate which of the pair runs first, so an order effect cancels in the medians.
          if (r % 2 == 0) run.policy_blocks.push_back(run_block(*run.policy, steps, timer));
          run.full_blocks.push_back(run_block(*run.full, steps, timer));
          if (r % 2 == 1) run.policy_blocks.push_back(run_block(*run.policy, steps, timer));
          run.full->drop_newest(steps);
          if (run.control) run.policy->drop_newest(steps);
        }
      }

      std::printf("\nresident size S = %d (budget %d); medians over %d interleaved repeats\n", size, size, repeats);
      std::printf("%-12s %9s %9s %10s %10s %8s %9s %9s %11s %8s %10s\n", "policy", "resident", "full res",
                  "policy ms", "full ms", "ratio", "overhead", "med ratio", "policy-own", "share", "evict/blk");
      for (PolicyRun& run : runs) {
        std::vector<double> pm, fm, ratio, own, share, res, fres;
        for (int r = 0; r < repeats; ++r) {
          const Block& p = run.policy_blocks[size_t(r)];
          const Block& f = run.full_blocks[size_t(r)];
          pm.push_back(p.seconds / steps * 1e3);
          fm.push_back(f.seconds / steps * 1e3);
          ratio.push_back(p.seconds / f.seconds);
          own.push_back(p.policy_seconds / steps * 1e3);
          share.push_back(p.policy_seconds / p.seconds);
          res.push_back(p.mean_seen);
          fres.push_back(f.mean_seen);
        }
        const double pmin = min_step_sum(run.policy_blocks), fmin = min_step_sum(run.full_blocks);
        const double rat = pmin / fmin;
        std::printf("%-12s %9.1f %9.1f %10.3f %10.3f %8.4f %8.2f%% %9.4f %8.3f ms %7.2f%% %10lld\n", run.label.c_str(),
                    median(res), median(fres), pmin / steps * 1e3, fmin / steps * 1e3, rat, 100.0 * (rat - 1.0),
                    median(ratio), median(own), 100.0 * median(share), (long long)run.policy_blocks.back().evictions);
        tc::Json j = tc::Json::object();
        j.set("size", size);
        j.set("policy", run.label);
        j.set("resident", median(res));
        j.set("full_resident", median(fres));
        j.set("policy_ms_per_token", pmin / steps * 1e3);
        j.set("full_ms_per_token", fmin / steps * 1e3);
        j.set("policy_ms_per_token_median", median(pm));
        j.set("full_ms_per_token_median", median(fm));
        j.set("ratio", rat);
        j.set("median_ratio", median(ratio));
        j.set("policy_own_ms_per_token", median(own));
        j.set("policy_own_share", median(share));
        j.set("evictions_per_block", run.policy_blocks.back().evictions);
        tc::Json all = tc::Json::array();
        for (double x : ratio) all.push(x);
        j.set("ratios", std::move(all));
        out.push(std::move(j));
      }
      std::fflush(stdout);
    }
    std::printf("\nloadavg after: %s\n", load_average().c_str());
    if (json) std::printf("%s\n", out.dump(2).c_str());
  } catch (const tc::Error& e) {
    std::fprintf(stderr, "policy_e2e_bench: error: %s\n", e.what());
    return 1;
  }
  return 0;
}

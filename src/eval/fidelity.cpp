#include "eval/fidelity.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>

#include "engine/generate.h"
#include "engine/session.h"
#include "eval/eval_report.h"
#include "eval/eval_runner.h"
#include "eval/svg_plot.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace tc::eval {

namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// out[i] = logits[i] - logsumexp(logits), rounded to f32 (the reference is stored in f32 and a
// policy's distribution goes through the same rounding, so equal logits give KL = 0 exactly).
// Returns the argmax (lowest id on ties, as the greedy sampler).
int log_softmax(const float* logits, int n, float* out) {
  int arg = 0;
  float m = logits[0];
  for (int i = 1; i < n; ++i)
    if (logits[i] > m) {
      m = logits[i];
      arg = i;
    }
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += std::exp(double(logits[i]) - double(m));
  const double lse = double(m) + std::log(sum);
  for (int i = 0; i < n; ++i) out[i] = float(double(logits[i]) - lse);
  return arg;
}

// KL(p || q) from log-probabilities: sum_i p_i (log p_i - log q_i).
double kl_divergence(const float* logp, const float* logq, int n) {
  double kl = 0;
  for (int i = 0; i < n; ++i) {
    const double lp = logp[i];
    if (lp == -INFINITY) continue;
    kl += std::exp(lp) * (lp - double(logq[i]));
  }
  return std::max(0.0, kl);
}

// The full cache's distributions at every evaluated position.
struct Reference {
  int vocab = 0;
  std::vector<float> logp;       // logp: [positions][vocab]
  std::vector<int32_t> argmax;   // [positions]
  uint64_t peak_kv_bytes = 0;
};

struct Sums {
  int n = 0;
  double agree = 0, kl = 0, kl_max = 0, nll_full = 0, nll_policy = 0;
  FidelityMetrics metrics() const {
    FidelityMetrics m;
    m.positions = n;
    if (n == 0) return m;
    m.top1_agreement = agree / n;
    m.kl_mean = kl / n;
    m.kl_max = kl_max;
    m.nll_full = nll_full / n;
    m.nll_policy = nll_policy / n;
    return m;
  }
};

// Runs one configuration over the text. With `fill` set it records the reference.
FidelityRow run_config(const Model& model, const FidelityOptions& o, const FidelityText& text, const RunSpec& run,
                       const Reference* reference, Reference* fill, ThreadPool& pool) {
  const int T = int(text.tokens.size()), k = text.prompt_tokens;
  const int positions = T - k;
  const int vocab = model.config().vocab;
  KvOptions kv;
  kv.policy = run.choice.name;
  kv.budget = run.resolved.budget;
  kv.window = run.resolved.window;
  kv.seed = run.seed;
  kv.options = run.resolved.options;
  kv.dtype = o.kv_dtype;
  KvSetup setup = make_kv_setup(model, kv, k, positions);
  SessionOptions so;
  so.prefill_chunk = o.prefill_chunk;
  Session session(model, *setup.cache, setup.policy.get(), so, pool);

  if (fill) {
    fill->vocab = vocab;
    fill->logp.assign(size_t(positions) * size_t(vocab), 0.0f);
    fill->argmax.assign(size_t(positions), 0);
  }
  std::vector<float> logq(static_cast<size_t>(vocab));  // logq: [vocab]
  Sums sums;
  FidelityRow row;
  const double t0 = now_seconds();
  session.prefill(text.tokens.data(), k);
  const float* logits = session.logits();
  size_t next_checkpoint = 0;
  std::vector<int> checkpoints = o.checkpoints;
  std::sort(checkpoints.begin(), checkpoints.end());
  for (int p = 0; p < positions; ++p) {
    if (p > 0) logits = session.decode(text.tokens[size_t(k - 1 + p)]);
    const int32_t next = text.tokens[size_t(k + p)];
    float* lq = fill ? fill->logp.data() + size_t(p) * vocab : logq.data();
    const int arg = log_softmax(logits, vocab, lq);
    if (fill) fill->argmax[size_t(p)] = arg;
    const float* lp = reference ? reference->logp.data() + size_t(p) * vocab : lq;
    const double kl = reference ? kl_divergence(lp, lq, vocab) : 0.0;
    sums.n += 1;
    sums.agree += (reference ? reference->argmax[size_t(p)] == arg : true) ? 1 : 0;
    sums.kl += kl;
    sums.kl_max = std::max(sums.kl_max, kl);
    sums.nll_full -= double(lp[next]);
    sums.nll_policy -= double(lq[next]);
    while (next_checkpoint < checkpoints.size() && checkpoints[next_checkpoint] < p + 1) ++next_checkpoint;
    if (next_checkpoint < checkpoints.size() && checkpoints[next_checkpoint] == p + 1 && p + 1 < positions)
      row.prefixes.emplace_back(p + 1, sums.metrics());
  }
  const double seconds = now_seconds() - t0;

  row.text = text.name;
  row_set_run(row, run);
  row.sequence_tokens = T;
  row.prompt_tokens = k;
  row.all = sums.metrics();
  const SessionStats& st = session.stats();
  row.peak_tokens = st.peak_tokens;
  row.peak_kv_bytes = uint64_t(st.peak_live_slots) * 2 * setup.cache->row_bytes();
  row.full_peak_kv_bytes = reference ? reference->peak_kv_bytes : row.peak_kv_bytes;
  if (fill) fill->peak_kv_bytes = row.peak_kv_bytes;
  row.evictions = setup.policy->stats().evictions;
  row.seconds = seconds;
  row.tokens_per_s = seconds > 0 ? double(T) / seconds : 0;
  return row;
}

std::vector<RunSpec> policy_runs(const FidelityOptions& o, const FidelityText& text, const KvCacheShape& shape) {
  std::vector<RunSpec> runs;
  for (const PolicyChoice& c : o.policies) {
    if (c.name == "full") continue;
    for (const BudgetSpec& b : o.budgets) {
      std::vector<uint64_t> seeds = c.seeded ? o.seeds : std::vector<uint64_t>{o.seeds.front()};
      for (uint64_t seed : seeds) {
        RunSpec run;
        run.choice = c;
        run.budget_label = b.label;
        run.resolved = budget_resolve(c, b, int(text.tokens.size()), shape);
        run.seed = seed;
        runs.push_back(run);
      }
    }
  }
  return runs;
}

Json metrics_json(const FidelityMetrics& m) {
  Json o = Json::object();
  o.set("positions", m.positions);
  o.set("top1_agreement", m.top1_agreement);
  o.set("kl_mean", m.kl_mean);
  o.set("kl_max", m.kl_max);
  o.set("nll_full", m.nll_full);
  o.set("nll_policy", m.nll_policy);
  o.set("ppl_full", m.ppl_full());
  o.set("ppl_policy", m.ppl_policy());
  return o;
}

// Mean of the metrics of several seeds of one (policy, budget).
struct FidelityGroup {
  const FidelityRow* first = nullptr;
  int runs = 0;
  double agree = 0, kl = 0, kl_max = 0, ppl = 0, budget = 0, fraction = 0, peak_fraction = 0, peak = 0, tps = 0;
  int min_window = -1, max_window = -1;
};

std::vector<FidelityGroup> group_rows(const std::vector<FidelityRow>& rows, const std::string& text) {
  std::vector<FidelityGroup> groups;
  for (const FidelityRow& r : rows) {
    if (r.text != text) continue;
    FidelityGroup* g = nullptr;
    for (FidelityGroup& x : groups)
      if (x.first->policy == r.policy && x.first->budget_label == r.budget_label) g = &x;
    if (!g) {
      groups.push_back(FidelityGroup{});
      g = &groups.back();
      g->first = &r;
      g->min_window = g->max_window = r.window;
    }
    g->runs += 1;
    g->agree += r.all.top1_agreement;
    g->kl += r.all.kl_mean;
    g->kl_max = std::max(g->kl_max, r.all.kl_max);
    g->ppl += r.all.ppl_policy();
    const bool full = r.policy_name == "full";
    g->budget += full ? r.sequence_tokens : r.budget;
    g->fraction += full ? 1.0 : double(r.budget) / r.sequence_tokens;
    g->peak += double(r.peak_kv_bytes);
    g->peak_fraction += r.full_peak_kv_bytes ? double(r.peak_kv_bytes) / double(r.full_peak_kv_bytes) : 1.0;
    g->tps += r.tokens_per_s;
    g->min_window = std::min(g->min_window, r.window);
    g->max_window = std::max(g->max_window, r.window);
  }
  for (FidelityGroup& g : groups) {
    const double n = g.runs;
    g.agree /= n;
    g.kl /= n;
    g.ppl /= n;
    g.budget /= n;
    g.fraction /= n;
    g.peak /= n;
    g.peak_fraction /= n;
    g.tps /= n;
  }
  return groups;
}

std::vector<std::string> text_names(const std::vector<FidelityRow>& rows) {
  std::vector<std::string> names;
  for (const FidelityRow& r : rows)
    if (std::find(names.begin(), names.end(), r.text) == names.end()) names.push_back(r.text);
  return names;
}

}  // namespace

double FidelityMetrics::ppl_full() const { return std::exp(nll_full); }
double FidelityMetrics::ppl_policy() const { return std::exp(nll_policy); }

int fidelity_runs_per_text(const FidelityOptions& o) {
  int runs = 1;
  for (const PolicyChoice& c : o.policies)
    if (c.name != "full") runs += int(o.budgets.size() * (c.seeded ? o.seeds.size() : 1));
  return runs;
}

void fidelity_run(const Model& model, const FidelityOptions& o, const std::vector<FidelityText>& texts,
                  const FidelityRowSink& sink, const FidelityProgressFn& progress) {
  TC_CHECK_ARG(!o.policies.empty(), "--policies: no policy given");
  TC_CHECK_ARG(!o.seeds.empty(), "--seeds: no seed given");
  TC_CHECK_ARG(o.threads >= 1, "--threads must be >= 1");
  const bool any_evicting =
      std::any_of(o.policies.begin(), o.policies.end(), [](const PolicyChoice& c) { return c.name != "full"; });
  TC_CHECK_ARG(!any_evicting || !o.budgets.empty(), "--budgets: no budget given for the evicting policies");
  const KvCacheShape shape = kv_cache_shape(model.config());
  for (const FidelityText& t : texts) {
    TC_CHECK_ARG(t.prompt_tokens >= 1, "text %s: the prompt part must hold at least one token", t.name.c_str());
    TC_CHECK_ARG(int(t.tokens.size()) >= t.prompt_tokens + 1,
                 "text %s: %zu tokens leave nothing after the %d prompt tokens", t.name.c_str(), t.tokens.size(),
                 t.prompt_tokens);
    TC_CHECK_ARG(int64_t(t.tokens.size()) <= model.config().context_length,
                 "text %s: %zu tokens exceed the model's context of %d", t.name.c_str(), t.tokens.size(),
                 model.config().context_length);
    for (int32_t id : t.tokens)
      TC_CHECK_ARG(id >= 0 && id < model.config().vocab, "text %s: token id %d is outside the vocabulary", t.name.c_str(), id);
    policy_runs(o, t, shape);  // budgets are checked before any work
  }
  const int total = int(texts.size()) * fidelity_runs_per_text(o);
  int done = 0;
  std::mutex mutex;
  for (const FidelityText& text : texts) {
    // The reference, on one kernel thread like every run (the attention's chunking depends on
    // the pool size, so a different pool would change the last bits).
    ThreadPool reference_pool(1);
    Reference reference;
    RunSpec full_run;
    const PolicyChoice* full = policy_choice_find_full(o.policies);
    full_run.choice = full ? *full : policy_choice_parse("full");
    full_run.requested = full != nullptr;
    full_run.seed = o.seeds.front();
    FidelityRow full_row = run_config(model, o, text, full_run, nullptr, &reference, reference_pool);
    if (sink) sink(full_row);
    if (progress) progress(++done, total);

    std::vector<RunSpec> runs = policy_runs(o, text, shape);
    std::vector<std::optional<FidelityRow>> results(runs.size());
    std::atomic<size_t> next{0};
    size_t emitted = 0;
    std::exception_ptr error;
    std::atomic<bool> failed{false};
    auto worker = [&]() {
      ThreadPool pool(1);
      while (!failed.load()) {
        const size_t i = next.fetch_add(1);
        if (i >= runs.size()) break;
        try {
          FidelityRow row = run_config(model, o, text, runs[i], &reference, nullptr, pool);
          std::lock_guard<std::mutex> lock(mutex);
          results[i] = std::move(row);
          while (emitted < results.size() && results[emitted]) {
            if (sink) sink(*results[emitted]);
            ++emitted;
          }
          if (progress) progress(++done, total);
        } catch (...) {
          std::lock_guard<std::mutex> lock(mutex);
          if (!error) error = std::current_exception();
          failed = true;
        }
      }
    };
    const int n_workers = std::max(1, std::min<int>(o.threads, int(runs.size())));
  eval_check_worker_pool(n_workers);
    std::vector<std::thread> threads;
    for (int t = 1; t < n_workers; ++t) threads.emplace_back(worker);
    worker();
    for (std::thread& t : threads) t.join();
    if (error) std::rethrow_exception(error);
  }
}

Json fidelity_row_json(const FidelityRow& r) {
  const bool full = r.policy_name == "full";
  Json options = Json::object();
  for (const auto& [key, value] : r.options) options.set(key, value);
  Json o = Json::object();
  o.set("text", r.text);
  o.set("policy", r.policy);
  o.set("policy_name", r.policy_name);
  o.set("requested", r.requested);
  o.set("budget_spec", r.budget_label);
  o.set("budget_target", full ? Json(nullptr) : Json(r.budget_target));
  o.set("budget", full ? Json(nullptr) : Json(r.budget));
  o.set("window", r.window > 0 ? Json(r.window) : Json(nullptr));
  o.set("options", std::move(options));
  o.set("seed", Json(r.seed));
  o.set("sequence_tokens", r.sequence_tokens);
  o.set("prompt_tokens", r.prompt_tokens);
  Json all = metrics_json(r.all);
  for (const auto& [key, value] : all.as_object()) o.set(key, value);
  Json prefixes = Json::array();
  for (const auto& [m, metrics] : r.prefixes) prefixes.push(metrics_json(metrics));
  o.set("prefixes", std::move(prefixes));
  o.set("peak_tokens", r.peak_tokens);
  o.set("peak_kv_bytes", Json(r.peak_kv_bytes));
  o.set("full_peak_kv_bytes", Json(r.full_peak_kv_bytes));
  o.set("evictions", Json(r.evictions));
  Json timing = Json::object();
  timing.set("seconds", r.seconds);
  timing.set("tokens_per_s", r.tokens_per_s);
  o.set("timing", std::move(timing));
  return o;
}

namespace {
const Json& fid_field(const Json& o, const char* key) {
  const Json* f = o.find(key);
  if (!f) TC_THROW("fidelity row: missing field \"%s\"", key);
  return *f;
}
double fid_number(const Json& o, const char* key) {
  const Json& f = fid_field(o, key);
  if (!f.is_number()) TC_THROW("fidelity row: field \"%s\" is not a number", key);
  return f.as_double();
}
FidelityMetrics metrics_from_json(const Json& o) {
  FidelityMetrics m;
  m.positions = int(fid_number(o, "positions"));
  m.top1_agreement = fid_number(o, "top1_agreement");
  m.kl_mean = fid_number(o, "kl_mean");
  m.kl_max = fid_number(o, "kl_max");
  m.nll_full = fid_number(o, "nll_full");
  m.nll_policy = fid_number(o, "nll_policy");
  return m;
}
}  // namespace

FidelityRow fidelity_row_from_json(const Json& o) {
  TC_CHECK_ARG(o.is_object(), "fidelity row: not a JSON object");
  FidelityRow r;
  auto str = [&](const char* key) {
    const Json& f = fid_field(o, key);
    if (!f.is_string()) TC_THROW("fidelity row: field \"%s\" is not a string", key);
    return f.as_string();
  };
  auto int_or_null = [&](const char* key, int if_null) {
    const Json& f = fid_field(o, key);
    return f.is_null() ? if_null : int(fid_number(o, key));
  };
  r.text = str("text");
  r.policy = str("policy");
  r.policy_name = str("policy_name");
  r.requested = fid_field(o, "requested").as_bool();
  r.budget_label = str("budget_spec");
  r.budget_target = int_or_null("budget_target", 0);
  r.budget = int_or_null("budget", 0);
  r.window = int_or_null("window", -1);
  for (const auto& [key, value] : fid_field(o, "options").as_object()) r.options[key] = value.as_string();
  r.seed = uint64_t(fid_number(o, "seed"));
  r.sequence_tokens = int(fid_number(o, "sequence_tokens"));
  r.prompt_tokens = int(fid_number(o, "prompt_tokens"));
  r.all = metrics_from_json(o);
  for (const Json& p : fid_field(o, "prefixes").as_array()) r.prefixes.emplace_back(int(fid_number(p, "positions")), metrics_from_json(p));
  r.peak_tokens = int(fid_number(o, "peak_tokens"));
  r.peak_kv_bytes = uint64_t(fid_number(o, "peak_kv_bytes"));
  r.full_peak_kv_bytes = uint64_t(fid_number(o, "full_peak_kv_bytes"));
  r.evictions = int64_t(fid_number(o, "evictions"));
  const Json& timing = fid_field(o, "timing");
  r.seconds = timing.get_double("seconds", 0);
  r.tokens_per_s = timing.get_double("tokens_per_s", 0);
  return r;
}

std::string fidelity_markdown(const std::vector<FidelityRow>& rows, const std::string& title, const std::string& command,
                              const std::vector<std::string>& notes) {
  std::string md = "# " + title + "\n\n";
  if (!command.empty()) md += "```\n" + command + "\n```\n\n";
  for (const std::string& n : notes) md += n + "\n";
  if (!notes.empty()) md += "\n";
  for (const std::string& text : text_names(rows)) {
    std::vector<FidelityGroup> groups = group_rows(rows, text);
    const FidelityRow& any = *groups.front().first;
    md += str_printf("## %s (%d tokens: %d prompt + %d teacher-forced positions)\n\n", text.c_str(), any.sequence_tokens,
                     any.prompt_tokens, any.all.positions);
    md += "| policy | budget | budget tokens | window | top-1 agreement | mean KL(full‖policy) | max KL | perplexity "
          "(full → policy) | peak KV | peak KV / full | tokens/s | seeds |\n";
    md += "|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    for (const FidelityGroup& g : groups) {
      const FidelityRow& r = *g.first;
      const bool full = r.policy_name == "full";
      std::string window = g.max_window <= 0 ? "—"
                           : g.min_window == g.max_window ? std::to_string(g.max_window)
                                                          : str_printf("%d–%d", g.min_window, g.max_window);
      md += str_printf("| %s%s | %s | %s | %s | %.2f%% | %.4f | %.3f | %.3f → %.3f | %s | %.1f%% | %.1f | %d |\n",
                       r.policy.c_str(), r.requested ? "" : " (reference)", full ? "—" : r.budget_label.c_str(),
                       full ? str_printf("%d (all)", r.sequence_tokens).c_str()
                            : str_printf("%.0f (%.1f%%)", g.budget, 100 * g.fraction).c_str(),
                       window.c_str(), 100 * g.agree, g.kl, g.kl_max, r.all.ppl_full(), g.ppl,
                       format_bytes(g.peak).c_str(), 100 * g.peak_fraction, g.tps, g.runs);
    }
    md += "\n";
  }
  md += "top-1 agreement: share of positions where the policy's most likely next token is the full cache's. KL: "
        "KL(full‖policy) of the next-token distributions in nats, mean and max over positions. perplexity: of the "
        "text's own next tokens under the full cache and under the policy (mean over seeds for seeded policies). "
        "budget tokens: per layer and KV head (share of the whole sequence). peak KV: K+V bytes of the most live "
        "slots. tokens/s: per worker thread, single-threaded kernels (not reproducible; the machine is shared).\n";
  return md;
}

std::string fidelity_plot_svg(const std::vector<FidelityRow>& rows, const std::string& text, const std::string& metric) {
  TC_CHECK_ARG(metric == "agreement" || metric == "kl", "internal error: fidelity metric \"%s\"", metric.c_str());
  std::vector<FidelityGroup> groups = group_rows(rows, text);
  PlotSpec spec;
  spec.title = text + (metric == "agreement" ? ": top-1 agreement with the full cache" : ": mean KL(full‖policy)");
  spec.x_label = "KV budget (share of the sequence length)";
  spec.y_label = metric == "agreement" ? "top-1 agreement" : "mean KL (nats)";
  spec.x_percent = true;
  spec.y_percent = metric == "agreement";
  spec.x_min = 0;
  if (metric == "agreement") spec.y_max = 1;
  spec.y_min = 0;
  std::vector<std::string> order;
  std::map<std::string, PlotSeries> series;
  for (const FidelityGroup& g : groups) {
    const FidelityRow& r = *g.first;
    const double y = metric == "agreement" ? g.agree : g.kl;
    if (r.policy_name == "full") {
      spec.references.push_back({"full cache", y});
      continue;
    }
    if (!series.count(r.policy)) {
      order.push_back(r.policy);
      series[r.policy].name = r.policy;
    }
    series[r.policy].x.push_back(g.fraction);
    series[r.policy].y.push_back(y);
  }
  for (const std::string& name : order) spec.series.push_back(series[name]);
  return svg_line_plot(spec);
}

}  // namespace tc::eval

// `thinkcache analyze`: one real generation with a KvObserver around the KV policy. It records
// the phenomena the seed methods rest on (LazyEviction's token importance recurrence and
// VaSE's value-range outliers, see kv/kv_observer.h) and prints the LazyEviction window the
// paper would pick for this model and prompt (W = the 80th percentile of token MRI).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/engine_args.h"
#include "cli/prompt_input.h"
#include "engine/generate.h"
#include "engine/session.h"
#include "kv/kv_observer.h"
#include "model/model.h"
#include "util/error.h"
#include "util/json.h"
#include "util/npy.h"

namespace {

// "2,8,32" -> {2, 8, 32}: positive, strictly increasing step counts.
std::vector<int> parse_gaps(const std::string& text) {
  std::vector<int> gaps;
  size_t i = 0;
  while (i <= text.size()) {
    size_t j = text.find(',', i);
    if (j == std::string::npos) j = text.size();
    const std::string item = text.substr(i, j - i);
    char* end = nullptr;
    const long v = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || v < 1 || v > (1 << 30))
      TC_THROW("analyze: --gaps expects positive step counts separated by commas, got \"%s\"", text.c_str());
    if (!gaps.empty() && v <= gaps.back())
      TC_THROW("analyze: --gaps must be strictly increasing, got \"%s\"", text.c_str());
    gaps.push_back(int(v));
    i = j + 1;
  }
  return gaps;
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  f.close();
  if (!f) TC_THROW("analyze: cannot write %s", path.c_str());
}

void print_summary(std::FILE* out, const tc::GenerateResult& r, const tc::KvObserver& obs,
                   const tc::ObserverOptions& oo) {
  const tc::RecurrenceSummary rec = obs.recurrence();
  std::fprintf(out, "analyze: %d prompt + %d generated tokens, kv policy %s (%lld evictions)\n", r.prompt_tokens,
               r.generated_tokens, r.kv.policy.c_str(), (long long)r.kv.evictions);
  std::fprintf(out, "recurrence (alpha %g, per %s head): %lld tracked (layer, head, token) triples, %.1f%% never active\n",
               oo.alpha, oo.per_kv_head ? "KV" : "query", (long long)rec.tokens,
               rec.tokens ? 100.0 * double(rec.never_active) / double(rec.tokens) : 0.0);
  std::fprintf(out, "  MRI of active tokens: p50 %g  p80 %g  p90 %g  p95 %g  p99 %g  max %g\n", rec.p50, rec.p80,
               rec.p90, rec.p95, rec.p99, rec.max);
  std::fprintf(out, "  recurring (active again after a gap of at least g steps):");
  for (size_t g = 0; g < rec.gaps.size(); ++g)
    std::fprintf(out, "  g=%d %.1f%%", rec.gaps[g], 100.0 * rec.share_recurring[g]);
  std::fprintf(out, "\n");
  if (rec.recommended_window > 0)
    std::fprintf(out, "  recommended LazyEviction window: --kv-window %d (80th percentile of token MRI)\n",
                 rec.recommended_window);
  else
    std::fprintf(out, "  no token reached alpha %g: no window to recommend (lower --alpha or generate longer)\n",
                 oo.alpha);
  std::fprintf(out, "value ranges (max - min over a KV head's value channels), outliers above %g x median:\n",
               oo.outlier_factor);
  std::fprintf(out, "  %5s %10s %10s %10s %10s %9s %11s\n", "layer", "median", "p99", "max", "max/med", "outliers",
               "sinks/med");
  const std::vector<tc::ValueRangeLayer> vr = obs.value_ranges();
  for (size_t l = 0; l < vr.size(); ++l) {
    const tc::ValueRangeLayer& v = vr[l];
    std::fprintf(out, "  %5zu %10.4g %10.4g %10.4g %10.2f %8.2f%% %11.3f\n", l, v.median, v.p99, v.max,
                 v.median > 0 ? v.max / v.median : 0.0, 100.0 * v.outlier_share, v.sink_ratio);
  }
}

}  // namespace

TC_COMMAND(analyze,
           "--model PATH " TC_PROMPT_USAGE " " TC_CHAT_USAGE " [--max-tokens N] " TC_SAMPLING_USAGE
           " [--ignore-eos] " TC_KV_USAGE
           " [--alpha A] [--heads query|kv] [--gaps 2,8,32,128] [--outlier-factor F] [--out DIR [--save-tracks]]"
           " [--prefill-chunk N] [--json]\n\n"
           "Generates as `generate` does, with an observer around the KV policy (default full) that records:\n"
           "  - token importance recurrence (LazyEviction): per (layer, head, token) the last decode step at which\n"
           "    the current query's attention probability was >= alpha (TS) and the largest gap between two such\n"
           "    activations (MRI), with LazyEviction's conventions; the MRI distribution, the share of tokens that\n"
           "    come back after at least g quiet steps, and the recommended --kv-window = ceil(80th percentile\n"
           "    of MRI over the tokens active at least once), as the paper picks W. --heads query tracks every\n"
           "    query head (the released code's repeat_kv state); kv tracks KV heads, a token being active when\n"
           "    any query head of the group is (what `lazy` does by default).\n"
           "  - value ranges (VaSE): per layer the distribution of max - min over each KV head's value channels\n"
           "    of every token, its outliers (> F x median, default 5) and the sink tokens' ratio to the median.\n"
           "Prints a summary (stderr with --json, which prints the JSON to stdout). --out DIR writes\n"
           "DIR/analysis.json and DIR/analysis.svg; --save-tracks also DIR/mri.npy and DIR/ts.npy, int32\n"
           "[layers][heads][positions] (-1: never tracked).",
           "measure attention recurrence and value outliers during a generation") {
  const std::string model_path = args.require("model");
  tc::cli::PromptInput input = tc::cli::read_prompt_input(args, true);
  tc::GenerateOptions options;
  options.max_tokens = args.get_int("max-tokens", 256);
  options.sampling = tc::cli::read_sampling_options(args);
  options.ignore_eos = args.flag("ignore-eos");
  options.kv = tc::cli::read_kv_options(args);
  options.prefill_chunk = args.get_int("prefill-chunk", 256);
  tc::ObserverOptions oo;
  oo.alpha = args.get_double("alpha", 1e-4);
  const std::string heads = args.get("heads", "query");
  oo.outlier_factor = args.get_double("outlier-factor", 5.0);
  if (auto gaps = args.value("gaps")) oo.recurrence_gaps = parse_gaps(*gaps);
  const auto out_dir = args.value("out");
  const bool save_tracks = args.flag("save-tracks");
  const bool json = args.flag("json");
  args.finish();
  TC_CHECK_ARG(oo.alpha > 0 && oo.alpha <= 1, "analyze: --alpha must be a probability in (0, 1], got %g", oo.alpha);
  TC_CHECK_ARG(heads == "query" || heads == "kv", "analyze: --heads must be query or kv, got \"%s\"", heads.c_str());
  oo.per_kv_head = heads == "kv";
  TC_CHECK_ARG(oo.outlier_factor > 0 && oo.outlier_factor < 1e30,
               "analyze: --outlier-factor must be a positive number, got %g", oo.outlier_factor);
  TC_CHECK_ARG(options.max_tokens >= 1, "analyze: --max-tokens must be >= 1 (recurrence is measured on decode steps)");
  TC_CHECK_ARG(options.prefill_chunk > 0, "analyze: --prefill-chunk must be positive");
  TC_CHECK_ARG(!save_tracks || out_dir, "analyze: --save-tracks needs --out DIR");

  tc::ModelLoadOptions load;
  load.load_tokenizer = !input.from_ids;
  auto model = tc::Model::load(model_path, load);
  const tc::ModelConfig& config = model->config();
  std::vector<int32_t> prompt = input.from_ids ? input.ids : tc::cli::tokenize_prompt(input, model->require_tokenizer());
  if (int64_t(prompt.size()) > config.context_length)
    TC_THROW("the prompt (%zu tokens) is longer than the model's context of %d tokens", prompt.size(),
             config.context_length);

  const int max_new = int(std::min<int64_t>(options.max_tokens, config.context_length - int64_t(prompt.size())));
  tc::KvObserver* observer = nullptr;
  tc::KvSetup kv = tc::make_kv_setup(*model, options.kv, int(prompt.size()), max_new,
                                     [&](std::unique_ptr<tc::KvPolicy> policy) -> std::unique_ptr<tc::KvPolicy> {
                                       auto o = std::make_unique<tc::KvObserver>(std::move(policy), oo);
                                       observer = o.get();
                                       return o;
                                     });
  tc::SessionOptions so;
  so.prefill_chunk = options.prefill_chunk;
  tc::Session session(*model, *kv.cache, kv.policy.get(), so);
  tc::GenerateResult result = tc::run_generation(session, prompt, options, {}, nullptr);

  tc::Json report = tc::Json::object();
  report.set("model", model_path);
  report.set("generation", tc::generate_result_json(result));
  tc::Json analysis = observer->to_json();
  report.set("recurrence", analysis.at("recurrence"));
  report.set("value_ranges", analysis.at("value_ranges"));
  report.set("recommended_kv_window", observer->recurrence().recommended_window);

  std::FILE* summary = json ? stderr : stdout;
  print_summary(summary, result, *observer, oo);
  if (out_dir) {
    std::error_code ec;
    std::filesystem::create_directories(*out_dir, ec);
    if (ec) TC_THROW("analyze: cannot create the output directory %s: %s", out_dir->c_str(), ec.message().c_str());
    const std::string base = *out_dir + "/";
    write_text(base + "analysis.json", report.dump(2) + "\n");
    write_text(base + "analysis.svg", observer->to_svg());
    std::string written = base + "analysis.json, " + base + "analysis.svg";
    if (save_tracks) {
      const std::vector<int64_t> shape = {config.n_layers, observer->tracked_heads(), observer->table_positions()};
      tc::npy_write_i32(base + "mri.npy", observer->mri_table().data(), shape);
      tc::npy_write_i32(base + "ts.npy", observer->ts_table().data(), shape);
      written += ", " + base + "mri.npy, " + base + "ts.npy";
    }
    std::fprintf(summary, "wrote %s\n", written.c_str());
  }
  if (json) std::printf("%s\n", report.dump(2).c_str());
  return 0;
}

#include "engine/generate.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "engine/sampler.h"
#include "engine/stop_strings.h"
#include "text/tokenizer.h"
#include "util/error.h"

namespace tc {

const char* stop_reason_name(StopReason reason) {
  switch (reason) {
    case StopReason::Eos: return "eos";
    case StopReason::StopString: return "stop_string";
    case StopReason::MaxTokens: return "max_tokens";
    case StopReason::Context: return "context";
    case StopReason::Cancelled: return "cancelled";
  }
  return "?";
}

KvCacheShape kv_cache_shape(const ModelConfig& c) {
  KvCacheShape s;
  s.n_layers = c.n_layers;
  s.n_heads = c.n_heads;
  s.n_kv_heads = c.n_kv_heads;
  s.head_dim = c.head_dim;
  return s;
}

DType kv_dtype_from_name(const std::string& name) {
  if (name == "f16" || name == "F16") return DType::F16;
  if (name == "bf16" || name == "BF16") return DType::BF16;
  if (name == "f32" || name == "F32") return DType::F32;
  TC_THROW("unknown KV cache dtype \"%s\" (f16, bf16 or f32)", name.c_str());
}

PolicySpec kv_policy_spec(const KvOptions& kv) {
  PolicySpec spec;
  spec.name = kv.policy;
  spec.budget = kv.budget;
  spec.window = kv.window;
  spec.seed = kv.seed;
  spec.options = kv.options;
  return spec;
}

KvSetup make_kv_setup(const Model& model, const KvOptions& kv, int prompt_tokens, int max_new_tokens,
                      const KvPolicyWrapper& wrap) {
  KvCacheShape shape = kv_cache_shape(model.config());
  KvSetup setup;
  setup.policy = make_policy(kv_policy_spec(kv), shape);
  if (wrap) setup.policy = wrap(std::move(setup.policy));
  TC_ASSERT(setup.policy != nullptr);
  KvCacheOptions options;
  options.dtype = kv_dtype_from_name(kv.dtype);
  options.layout = setup.policy->layout();
  options.capacity = std::max(1, setup.policy->capacity_for(prompt_tokens, max_new_tokens));
  setup.cache = std::make_unique<KvCache>(shape, options);
  setup.policy->attach(*setup.cache);
  return setup;
}

namespace {
double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
double ratio(double a, double b) { return b > 0 ? a / b : 0.0; }
}  // namespace

GenerateResult run_generation(Session& session, const std::vector<int32_t>& prompt, const GenerateOptions& options,
                              const StreamCallback& on_piece, std::vector<int32_t>* history) {
  const Model& model = session.model();
  const ModelConfig& config = model.config();
  const Tokenizer* tokenizer = model.tokenizer();
  TC_CHECK_ARG(!prompt.empty(), "the prompt is empty");
  TC_CHECK_ARG(options.max_tokens >= 0, "max tokens must be >= 0, got %d", options.max_tokens);
  if (session.n_past() + int64_t(prompt.size()) > config.context_length)
    TC_THROW("the prompt (%zu tokens%s) is longer than the model's context of %d tokens", prompt.size(),
             session.n_past() ? str_printf(" after %lld earlier tokens", (long long)session.n_past()).c_str() : "",
             config.context_length);
  TC_CHECK_ARG(options.stop.empty() || tokenizer, "stop strings need the model's tokenizer");
  for (int32_t id : prompt)
    TC_CHECK_ARG(id >= 0 && id < config.vocab, "prompt token id %d is outside the vocabulary [0, %d)", id, config.vocab);

  std::vector<int32_t> local_history;
  if (!history) history = &local_history;
  Sampler sampler(options.sampling);
  StopStringMatcher stops(options.stop);
  std::optional<StreamDecoder> decoder;
  if (tokenizer) decoder.emplace(*tokenizer);
  const auto& eos = model.eos_ids();

  GenerateResult result;
  result.prompt_tokens = int(prompt.size());
  const SessionStats before = session.stats();
  const int64_t evicted_before = session.cache().slots_evicted();
  const int64_t tokens_before = session.n_past();
  const PolicyStats policy_before = session.policy() ? session.policy()->stats() : PolicyStats{};

  history->insert(history->end(), prompt.begin(), prompt.end());
  session.prefill(prompt.data(), int(prompt.size()));
  const double decode_start = now_seconds();

  // Room left in the model's context and (for a fixed-size full cache) in the cache.
  const int64_t room = config.context_length - session.n_past();
  const int max_new = int(std::min<int64_t>(options.max_tokens, room + 1));  // the last token needs no forward
  result.stop_reason = StopReason::MaxTokens;
  const float* logits = session.logits();
  for (int i = 0; i < options.max_tokens; ++i) {
    if (i >= max_new) {
      result.stop_reason = StopReason::Context;
      break;
    }
    int32_t id = sampler.sample(logits, config.vocab, *history);
    result.tokens.push_back(id);
    history->push_back(id);
    bool is_eos = !options.ignore_eos && std::find(eos.begin(), eos.end(), id) != eos.end();
    if (is_eos) {
      result.stop_reason = StopReason::Eos;
      break;
    }
    StreamPiece piece;
    piece.token = id;
    if (decoder) {
      piece.text = stops.push(decoder->push(id));
      result.text += piece.text;
    }
    if (on_piece && !on_piece(piece)) {
      result.stop_reason = StopReason::Cancelled;
      break;
    }
    if (stops.stopped()) {
      result.stop_reason = StopReason::StopString;
      break;
    }
    if (i + 1 == options.max_tokens) break;
    if (i + 1 >= max_new) {
      result.stop_reason = StopReason::Context;
      break;
    }
    logits = session.decode(id);
  }
  if (decoder && !stops.stopped()) {
    StreamPiece tail;
    tail.text = stops.push(decoder->flush());
    tail.text += stops.flush();
    if (!tail.text.empty()) {
      result.text += tail.text;
      if (on_piece) on_piece(tail);
    }
  }
  result.generated_tokens = int(result.tokens.size());

  // Timings: prefill = the prompt's forward passes; decode = everything after (forward
  // passes of the generated tokens plus sampling and detokenisation).
  const SessionStats& after = session.stats();
  GenerateTimings& t = result.timings;
  t.prefill_seconds = after.prefill_seconds - before.prefill_seconds;
  t.decode_seconds = now_seconds() - decode_start;
  t.prefill_bytes = after.prefill_bytes - before.prefill_bytes;
  t.decode_bytes = after.decode_bytes - before.decode_bytes;
  const int64_t decode_steps = after.decode_steps - before.decode_steps;
  t.prefill_tokens_per_s = ratio(double(prompt.size()), t.prefill_seconds);
  t.decode_tokens_per_s = ratio(double(decode_steps), t.decode_seconds);
  t.prefill_gb_per_s = ratio(double(t.prefill_bytes) * 1e-9, t.prefill_seconds);
  t.decode_gb_per_s = ratio(double(t.decode_bytes) * 1e-9, t.decode_seconds);

  KvCache& cache = session.cache();
  KvReport& kv = result.kv;
  KvPolicy* policy = session.policy();
  kv.policy = policy ? policy->name() : "full";
  kv.budget = policy ? policy->budget() : 0;
  kv.dtype = cache.dtype() == DType::F32 ? "f32" : cache.dtype() == DType::BF16 ? "bf16" : "f16";  // as --kv-dtype
  kv.capacity_slots = cache.capacity();
  kv.peak_tokens = after.peak_tokens;
  kv.peak_live_slots = after.peak_live_slots;
  kv.mean_live_slots = decode_steps > 0 ? double(after.decode_live_slot_steps - before.decode_live_slot_steps) /
                                              double(decode_steps)
                                        : double(cache.live_slots());
  kv.bytes_allocated = cache.kv_bytes_allocated();
  // The whole sequence (earlier turns, the prompt and every generated token, the last one
  // included although it was never forwarded) in a native GQA cache of the same dtype.
  const int64_t sequence_tokens = tokens_before + int64_t(prompt.size()) + result.generated_tokens;
  kv.bytes_full_cache_equivalent =
      config.kv_bytes_per_token(dtype_row_bytes(cache.dtype(), 1)) * uint64_t(sequence_tokens);
  if (policy) {
    kv.evictions = policy->stats().evictions - policy_before.evictions;
    kv.eviction_seconds = policy->stats().scoring_seconds - policy_before.scoring_seconds;
  }
  kv.slots_evicted = cache.slots_evicted() - evicted_before;
  return result;
}

GenerateResult generate(const Model& model, const std::vector<int32_t>& prompt, const GenerateOptions& options,
                        const StreamCallback& on_piece) {
  const ModelConfig& config = model.config();
  if (int64_t(prompt.size()) > config.context_length)
    TC_THROW("the prompt (%zu tokens) is longer than the model's context of %d tokens", prompt.size(),
             config.context_length);
  TC_CHECK_ARG(options.max_tokens >= 0, "max tokens must be >= 0, got %d", options.max_tokens);
  // A generation never needs more slots than the context allows.
  const int max_new = int(std::min<int64_t>(options.max_tokens, config.context_length - int64_t(prompt.size())));
  KvSetup kv = make_kv_setup(model, options.kv, int(prompt.size()), max_new);
  SessionOptions so;
  so.prefill_chunk = options.prefill_chunk;
  Session session(model, *kv.cache, kv.policy.get(), so);
  return run_generation(session, prompt, options, on_piece, nullptr);
}

Json generate_result_json(const GenerateResult& r) {
  Json tokens = Json::array();
  for (int32_t id : r.tokens) tokens.push(Json(int64_t(id)));
  Json timings = Json::object();
  const GenerateTimings& t = r.timings;
  timings.set("prefill_seconds", t.prefill_seconds);
  timings.set("decode_seconds", t.decode_seconds);
  timings.set("prefill_tokens_per_s", t.prefill_tokens_per_s);
  timings.set("decode_tokens_per_s", t.decode_tokens_per_s);
  timings.set("prefill_bytes", Json(t.prefill_bytes));
  timings.set("decode_bytes", Json(t.decode_bytes));
  timings.set("prefill_gb_per_s", t.prefill_gb_per_s);
  timings.set("decode_gb_per_s", t.decode_gb_per_s);
  const KvReport& kv = r.kv;
  Json out = Json::object();
  out.set("text", r.text);
  out.set("tokens", std::move(tokens));
  out.set("prompt_tokens", r.prompt_tokens);
  out.set("generated_tokens", r.generated_tokens);
  out.set("stop_reason", stop_reason_name(r.stop_reason));
  out.set("timings", std::move(timings));
  out.set("kv_policy", kv.policy);
  out.set("kv_budget", kv.budget);
  out.set("kv_dtype", kv.dtype);
  out.set("kv_capacity_slots", kv.capacity_slots);
  out.set("kv_peak_tokens", kv.peak_tokens);
  out.set("kv_peak_live_slots", Json(kv.peak_live_slots));
  out.set("kv_mean_live_slots", kv.mean_live_slots);
  out.set("kv_bytes_allocated", Json(kv.bytes_allocated));
  out.set("kv_bytes_full_cache_equivalent", Json(kv.bytes_full_cache_equivalent));
  out.set("evictions", Json(kv.evictions));
  out.set("slots_evicted", Json(kv.slots_evicted));
  out.set("eviction_seconds", kv.eviction_seconds);
  return out;
}

std::string generate_result_summary(const GenerateResult& r) {
  const GenerateTimings& t = r.timings;
  return str_printf(
      "prefill: %d tokens in %.3f s (%.1f tok/s, %.2f GB/s) | decode: %d tokens in %.3f s (%.2f tok/s, %.2f GB/s) | "
      "stop: %s | kv %s: %d slots/head, peak %d, %.2f MiB allocated (full cache: %.2f MiB), %lld evictions (%lld "
      "slots, %.3f s)",
      r.prompt_tokens, t.prefill_seconds, t.prefill_tokens_per_s, t.prefill_gb_per_s, r.generated_tokens,
      t.decode_seconds, t.decode_tokens_per_s, t.decode_gb_per_s, stop_reason_name(r.stop_reason), r.kv.policy.c_str(),
      r.kv.capacity_slots, r.kv.peak_tokens, double(r.kv.bytes_allocated) / 1048576.0,
      double(r.kv.bytes_full_cache_equivalent) / 1048576.0, (long long)r.kv.evictions, (long long)r.kv.slots_evicted,
      r.kv.eviction_seconds);
}

}  // namespace tc

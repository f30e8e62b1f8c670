// thinkcache public API: options and results of a generation run.
//
// These are plain structs (standard library only) shared by the CLI, the evaluation runner
// and a future server. The functions that run a generation take the engine's types and are
// declared in src/engine/generate.h:
//
//   auto model = tc::Model::load(path);                                   // weights + tokenizer
//   std::vector<int32_t> prompt = model->require_tokenizer().encode(text);
//   tc::GenerateOptions opt;  opt.max_tokens = 128;  opt.kv.policy = "full";
//   tc::GenerateResult r = tc::generate(*model, prompt, opt, [](const tc::StreamPiece& p) {
//     std::fputs(p.text.c_str(), stdout);  return true;                  // false stops early
//   });
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace tc {

// Token selection. Order of application (as HF transformers' generate): repetition penalty,
// then temperature, top-k, top-p, min-p, then a draw from the remaining distribution.
struct SamplingOptions {
  float temperature = 0.0f;         // <= 0: greedy (argmax; ties -> lowest id)
  int top_k = 0;                    // keep the k most likely (ties with the k-th kept); 0 = off
  float top_p = 1.0f;               // keep the smallest top set with mass >= top_p; 1 = off
  float min_p = 0.0f;               // drop tokens with p < min_p * p_max; 0 = off
  float repetition_penalty = 1.0f;  // HF/CTRL rule over prompt + generated ids; 1 = off
  uint64_t seed = 0;                // the draw is reproducible for a given seed
};

// The KV cache and its eviction policy.
struct KvOptions {
  std::string policy = "full";  // a name from the policy registry (`thinkcache policies`)
  int budget = 0;               // tokens kept per (layer, KV head) after an eviction; 0 for full
  int window = -1;              // recent / observation window; -1 = the policy's default
  uint64_t seed = 0;            // for stochastic policies
  std::map<std::string, std::string> options;  // policy-specific key=value
  std::string dtype = "f16";    // storage of K and V: f16, bf16 or f32
};

struct GenerateOptions {
  int max_tokens = 256;            // new tokens at most
  SamplingOptions sampling;
  std::vector<std::string> stop;   // stop strings: generation ends when the text contains one;
                                   // the returned text ends just before it
  bool ignore_eos = false;         // keep going past EOS (benchmarks)
  KvOptions kv;
  int prefill_chunk = 256;         // prompt tokens per forward call (bounds activation memory)
};

enum class StopReason : uint8_t {
  Eos,         // the model produced an end-of-sequence token
  StopString,  // the text reached a stop string
  MaxTokens,   // max_tokens reached
  Context,     // the model's context length reached
  Cancelled,   // the stream callback returned false
};
const char* stop_reason_name(StopReason reason);

struct GenerateTimings {
  double prefill_seconds = 0;
  double decode_seconds = 0;        // forward passes after the first token, plus sampling
  double prefill_tokens_per_s = 0;
  double decode_tokens_per_s = 0;   // decode forward passes per second
  // Achieved bandwidth from an exact byte count: weight bytes read per forward call plus
  // the K/V bytes of the live slots each layer's attention reads.
  uint64_t prefill_bytes = 0;
  uint64_t decode_bytes = 0;
  double prefill_gb_per_s = 0;      // 1 GB = 1e9 bytes
  double decode_gb_per_s = 0;
};

// The KV side of one run_generation call (counters are this call's, not the session's).
struct KvReport {
  std::string policy;
  int budget = 0;
  std::string dtype;                       // f16, bf16 or f32 (the --kv-dtype spelling)
  int capacity_slots = 0;                  // slots allocated per (layer, store head)
  int peak_tokens = 0;                     // most live slots any (layer, head) held (before eviction)
  int64_t peak_live_slots = 0;             // most live slots summed over (layer, head)
  double mean_live_slots = 0;              // live slots summed over (layer, head), averaged over the
                                           // decode steps (what each step's attention read)
  uint64_t bytes_allocated = 0;            // K+V storage allocated once: capacity x bytes per slot
  // A native (GQA) full cache of the same dtype holding the whole sequence: earlier tokens of
  // the session + prompt + every generated token.
  uint64_t bytes_full_cache_equivalent = 0;
  // Eviction events: forward calls (or prefill ends) after which the policy compacted the
  // cache (PolicyStats::evictions). A windowed policy (lazy, vase, ...) has one per period
  // once over budget; a rolling one (h2o, tova, streaming) one at every decode step once
  // over budget (it drops one token per step). R-KV also compacts at exactly B (freeing none).
  int64_t evictions = 0;
  int64_t slots_evicted = 0;               // (layer, store head, slot) triples freed
  double eviction_seconds = 0;             // the policy's own time: hooks, scoring, selection, compaction
};

struct GenerateResult {
  std::string text;              // generated text (empty without a tokenizer)
  std::vector<int32_t> tokens;   // generated ids, including a final EOS id if one was produced
  int prompt_tokens = 0;
  int generated_tokens = 0;
  StopReason stop_reason = StopReason::MaxTokens;
  GenerateTimings timings;
  KvReport kv;
};

// One streamed step: the id just generated and the text that became final with it (may be
// empty while a multi-byte character or a possible stop string is pending).
struct StreamPiece {
  int32_t token = -1;
  std::string text;
};
// Return false to stop generating (StopReason::Cancelled).
using StreamCallback = std::function<bool(const StreamPiece&)>;

}  // namespace tc

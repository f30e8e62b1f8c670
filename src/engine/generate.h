// The generation loop shared by the CLI, evaluation and a future server: KV cache + policy
// set-up, chunked prefill, decode with sampling, EOS and stop strings, streaming, stats.
// Options and results are the public structs of include/thinkcache/generate.h.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/session.h"
#include "kv/kv_cache.h"
#include "kv/policy.h"
#include "model/model.h"
#include "thinkcache/generate.h"
#include "util/json.h"

namespace tc {

// The cache geometry of a model.
KvCacheShape kv_cache_shape(const ModelConfig& config);
// "f16" | "bf16" | "f32" -> DType; throws naming the text otherwise.
DType kv_dtype_from_name(const std::string& name);

// A policy and the cache it manages, allocated once at the policy's capacity.
struct KvSetup {
  std::unique_ptr<KvPolicy> policy;
  std::unique_ptr<KvCache> cache;
};
// Takes the policy built from KvOptions before it is attached and returns the policy the
// cache is managed by (e.g. a KvObserver around it).
using KvPolicyWrapper = std::function<std::unique_ptr<KvPolicy>(std::unique_ptr<KvPolicy>)>;
// The PolicySpec that KvOptions name.
PolicySpec kv_policy_spec(const KvOptions& kv);
// capacity = policy->capacity_for(prompt_tokens, max_new_tokens). Throws on a bad policy
// spec (unknown name/option, budget) or dtype. wrap (optional) is applied before attach.
KvSetup make_kv_setup(const Model& model, const KvOptions& kv, int prompt_tokens, int max_new_tokens,
                      const KvPolicyWrapper& wrap = {});

// Prefills `prompt` on top of whatever `session` already holds, then decodes up to
// options.max_tokens tokens. history: every id of the session so far (for the repetition
// penalty); the prompt and the generated ids are appended to it. KV fields of the result are
// filled from the session's cache and policy.
GenerateResult run_generation(Session& session, const std::vector<int32_t>& prompt, const GenerateOptions& options,
                              const StreamCallback& on_piece, std::vector<int32_t>* history);

// One-shot: a fresh cache and session sized for this prompt, then run_generation.
// Throws tc::Error when the prompt does not fit the model's context.
GenerateResult generate(const Model& model, const std::vector<int32_t>& prompt, const GenerateOptions& options,
                        const StreamCallback& on_piece = {});

// --json form: text, tokens, counts, timings and the KV report.
Json generate_result_json(const GenerateResult& result);
// One human line for stderr: tokens/s and GB/s of prefill and decode, KV bytes.
std::string generate_result_summary(const GenerateResult& result);

}  // namespace tc

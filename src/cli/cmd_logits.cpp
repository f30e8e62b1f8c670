// `thinkcache logits`: the parity tool. Runs a prompt through the model and writes the
// float32 logits of every position, [n_tokens][vocab], as .npy.
#include <cstdio>

#include "cli/args.h"
#include "cli/engine_args.h"
#include "cli/prompt_input.h"
#include "engine/generate.h"
#include "engine/session.h"
#include "model/model.h"
#include "util/error.h"
#include "util/npy.h"

TC_COMMAND(logits,
           "--model PATH " TC_PROMPT_USAGE " --out F.npy [--kv-dtype f16|bf16|f32] [--prefill-chunk N]\n\n"
           "Writes float32 logits [n_tokens][vocab] for every prompt position (full KV cache). A text prompt\n"
           "gets BOS when the tokenizer's metadata asks for it; --ids are used exactly as given.",
           "write the logits of every prompt position to a .npy file") {
  const std::string model_path = args.require("model");
  tc::cli::PromptInput input = tc::cli::read_prompt_input(args, false);
  const std::string out_path = args.require("out");
  const std::string kv_dtype = args.get("kv-dtype", "f16");
  const int chunk = args.get_int("prefill-chunk", 256);
  args.finish();
  TC_CHECK_ARG(chunk > 0, "logits: --prefill-chunk must be positive");

  tc::ModelLoadOptions load;
  load.load_tokenizer = !input.from_ids;
  auto model = tc::Model::load(model_path, load);
  std::vector<int32_t> ids = input.from_ids ? input.ids : tc::cli::tokenize_prompt(input, model->require_tokenizer());
  const tc::ModelConfig& config = model->config();
  if (int64_t(ids.size()) > config.context_length)
    TC_THROW("the prompt (%zu tokens) is longer than the model's context of %d tokens", ids.size(), config.context_length);

  tc::KvOptions kv;
  kv.dtype = kv_dtype;
  tc::KvSetup setup = tc::make_kv_setup(*model, kv, int(ids.size()), 0);
  tc::SessionOptions so;
  so.prefill_chunk = chunk;
  tc::Session session(*model, *setup.cache, setup.policy.get(), so);
  // logits: [n_tokens][vocab]
  std::vector<float> logits(ids.size() * size_t(config.vocab));
  session.prefill(ids.data(), int(ids.size()), logits.data());
  tc::npy_write_f32(out_path, logits.data(), {int64_t(ids.size()), int64_t(config.vocab)});
  const tc::SessionStats& s = session.stats();
  std::fprintf(stderr, "logits: %zu tokens x %d vocab -> %s (%.3f s, %.1f tok/s, %.2f GB/s)\n", ids.size(), config.vocab,
               out_path.c_str(), s.prefill_seconds, s.prefill_seconds > 0 ? double(ids.size()) / s.prefill_seconds : 0.0,
               s.prefill_seconds > 0 ? double(s.prefill_bytes) * 1e-9 / s.prefill_seconds : 0.0);
  return 0;
}

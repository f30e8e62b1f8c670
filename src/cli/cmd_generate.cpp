// `thinkcache generate`: one prompt in, streamed text out, with speed and KV statistics.
#include <cstdio>

#include "cli/args.h"
#include "cli/engine_args.h"
#include "cli/prompt_input.h"
#include "engine/generate.h"
#include "model/model.h"
#include "text/tokenizer.h"
#include "util/error.h"

TC_COMMAND(generate,
           "--model PATH " TC_PROMPT_USAGE " " TC_CHAT_USAGE
           " [--max-tokens N] " TC_SAMPLING_USAGE " [--stop TEXT ...] [--ignore-eos] " TC_KV_USAGE
           " [--prefill-chunk N] [--json]\n\n"
           "Streams the generated text to stdout and prefill/decode tokens/s and GB/s to stderr; --json prints one\n"
           "object instead (text, tokens, counts, timings, KV report). With --ids the model's tokenizer is not used:\n"
           "the prompt is the given ids and the output is the generated ids. --kv-budget/--kv-window are rejected\n"
           "with the full policy, where they would mean nothing. Threads: TC_THREADS (default: all cores).",
           "generate text from a prompt") {
  const std::string model_path = args.require("model");
  tc::cli::PromptInput input = tc::cli::read_prompt_input(args, true);
  tc::GenerateOptions options;
  options.max_tokens = args.get_int("max-tokens", 256);
  options.sampling = tc::cli::read_sampling_options(args);
  options.stop = args.values("stop");
  options.ignore_eos = args.flag("ignore-eos");
  options.kv = tc::cli::read_kv_options(args);
  options.prefill_chunk = args.get_int("prefill-chunk", 256);
  const bool json = args.flag("json");
  args.finish();
  TC_CHECK_ARG(options.max_tokens >= 0, "generate: --max-tokens must be >= 0");
  TC_CHECK_ARG(options.prefill_chunk > 0, "generate: --prefill-chunk must be positive");
  TC_CHECK_ARG(options.stop.empty() || !input.from_ids, "generate: --stop needs a text prompt (the tokenizer), not --ids");

  tc::ModelLoadOptions load;
  load.load_tokenizer = !input.from_ids;
  auto model = tc::Model::load(model_path, load);
  std::vector<int32_t> prompt = input.from_ids ? input.ids : tc::cli::tokenize_prompt(input, model->require_tokenizer());

  tc::StreamCallback stream;
  if (!json) {
    stream = [&](const tc::StreamPiece& piece) {
      if (input.from_ids) {
        if (piece.token >= 0) std::printf("%d ", piece.token);
      } else {
        std::fwrite(piece.text.data(), 1, piece.text.size(), stdout);
      }
      std::fflush(stdout);
      return true;
    };
  }
  tc::GenerateResult result = tc::generate(*model, prompt, options, stream);
  if (json) {
    tc::Json out = tc::generate_result_json(result);
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    if (input.from_ids && !result.tokens.empty() && result.stop_reason == tc::StopReason::Eos)
      std::printf("%d", result.tokens.back());  // the EOS id is not streamed as text
    std::printf("\n");
    std::fflush(stdout);
    std::fprintf(stderr, "%s\n", tc::generate_result_summary(result).c_str());
  }
  return 0;
}

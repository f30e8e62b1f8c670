// `thinkcache chat`: an interactive conversation. Each user line is rendered with the model's
// chat template; only the tokens the session has not seen yet are prefilled, so the KV cache
// carries the conversation from turn to turn (when the template re-renders earlier turns
// differently, e.g. Qwen3 dropping old <think> blocks, the session starts over).
#include <cstdio>
#include <iostream>
#include <memory>

#include "cli/args.h"
#include "cli/engine_args.h"
#include "engine/generate.h"
#include "model/model.h"
#include "text/tokenizer.h"
#include "util/error.h"

namespace {

struct Conversation {
  tc::KvSetup kv;
  std::unique_ptr<tc::Session> session;
  std::vector<int32_t> seen;     // ids the session has processed, in order
  std::vector<int32_t> history;  // every id so far (repetition penalty)
};

void start_session(Conversation& c, const tc::Model& model, const tc::KvOptions& kv_options, int ctx, int chunk) {
  c.session.reset();
  c.kv = tc::make_kv_setup(model, kv_options, ctx, 0);
  tc::SessionOptions so;
  so.prefill_chunk = chunk;
  c.session = std::make_unique<tc::Session>(model, *c.kv.cache, c.kv.policy.get(), so);
  c.seen.clear();
  c.history.clear();
}

}  // namespace

TC_COMMAND(chat,
           "--model PATH [--system TEXT] [--chat-template NAME] [--no-think] [--max-tokens N] [--ctx N] "
           TC_SAMPLING_USAGE " " TC_KV_USAGE "\n\n"
           "Reads one user message per line from stdin and streams the reply. /reset starts a new conversation,\n"
           "/exit (or end of input) quits. --ctx bounds the conversation in tokens (default: the model's context,\n"
           "at most 4096); the KV cache is allocated once for it. Speed statistics go to stderr after each reply.",
           "chat with a model interactively") {
  const std::string model_path = args.require("model");
  const std::string system = args.get("system", "");
  const std::string template_name = args.get("chat-template", "");
  tc::ChatOptions chat_options;
  chat_options.enable_thinking = !args.flag("no-think");
  tc::GenerateOptions options;
  options.max_tokens = args.get_int("max-tokens", 1024);
  options.sampling = tc::cli::read_sampling_options(args);
  options.kv = tc::cli::read_kv_options(args);
  const int chunk = args.get_int("prefill-chunk", 256);
  int ctx = args.get_int("ctx", 0);
  args.finish();
  TC_CHECK_ARG(options.max_tokens > 0, "chat: --max-tokens must be positive");
  TC_CHECK_ARG(chunk > 0, "chat: --prefill-chunk must be positive");

  auto model = tc::Model::load(model_path);
  const tc::Tokenizer& tokenizer = model->require_tokenizer();
  tc::ChatTemplate tmpl = tc::ChatTemplate::detect(tokenizer, template_name);
  if (ctx <= 0) ctx = std::min(model->config().context_length, 4096);
  TC_CHECK_ARG(ctx <= model->config().context_length, "chat: --ctx %d exceeds the model's context of %d tokens", ctx,
               model->config().context_length);
  TC_CHECK_ARG(ctx > options.max_tokens, "chat: --ctx %d leaves no room for --max-tokens %d", ctx, options.max_tokens);

  Conversation conv;
  start_session(conv, *model, options.kv, ctx, chunk);
  std::vector<tc::ChatMessage> messages;
  if (!system.empty()) messages.push_back({"system", system});
  std::fprintf(stderr, "chat: %s (%s template); /reset, /exit\n", model_path.c_str(), tmpl.name().c_str());

  std::string line;
  while (true) {
    std::printf("> ");
    std::fflush(stdout);
    if (!std::getline(std::cin, line) || line == "/exit") break;
    if (line.empty()) continue;
    if (line == "/reset") {
      messages.resize(system.empty() ? 0 : 1);
      start_session(conv, *model, options.kv, ctx, chunk);
      continue;
    }
    messages.push_back({"user", line});
    std::vector<int32_t> ids = tokenizer.encode(tmpl.render(messages, chat_options));
    if (int64_t(ids.size()) + options.max_tokens > ctx) {
      // Keep the system message and the newest user line only.
      std::fprintf(stderr, "chat: the conversation no longer fits --ctx %d; starting over from this message\n", ctx);
      messages.erase(messages.begin() + (system.empty() ? 0 : 1), messages.end() - 1);
      ids = tokenizer.encode(tmpl.render(messages, chat_options));
      TC_CHECK_ARG(int64_t(ids.size()) + options.max_tokens <= ctx,
                   "chat: the message (%zu tokens) and --max-tokens %d do not fit --ctx %d", ids.size(),
                   options.max_tokens, ctx);
      start_session(conv, *model, options.kv, ctx, chunk);
    }
    // Reuse the cache when the session has seen a prefix of this rendering.
    bool prefix = conv.seen.size() < ids.size() && std::equal(conv.seen.begin(), conv.seen.end(), ids.begin());
    if (!prefix) start_session(conv, *model, options.kv, ctx, chunk);
    std::vector<int32_t> fresh(ids.begin() + int64_t(conv.seen.size()), ids.end());

    tc::GenerateResult r = tc::run_generation(*conv.session, fresh, options, [](const tc::StreamPiece& piece) {
      std::fwrite(piece.text.data(), 1, piece.text.size(), stdout);
      std::fflush(stdout);
      return true;
    }, &conv.history);
    std::printf("\n");
    std::fflush(stdout);
    std::fprintf(stderr, "%s\n", tc::generate_result_summary(r).c_str());

    // The session has processed the rendering plus every generated token but the last.
    conv.seen = ids;
    size_t processed = size_t(conv.session->n_past()) - ids.size();
    conv.seen.insert(conv.seen.end(), r.tokens.begin(), r.tokens.begin() + int64_t(processed));
    messages.push_back({"assistant", r.text});
  }
  return 0;
}

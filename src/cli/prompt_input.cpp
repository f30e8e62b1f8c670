#include "cli/prompt_input.h"

#include "cli/engine_args.h"
#include "text/tokenizer.h"
#include "util/error.h"
#include "util/mapped_file.h"

namespace tc::cli {

PromptInput read_prompt_input(Args& args, bool allow_chat) {
  PromptInput in;
  auto prompt = args.value("prompt");
  auto prompt_file = args.value("prompt-file");
  auto ids = args.value("ids");
  int sources = int(bool(prompt)) + int(bool(prompt_file)) + int(bool(ids));
  TC_CHECK_ARG(sources == 1, "%s: give exactly one of --prompt, --prompt-file or --ids", args.command().c_str());
  if (ids) {
    in.ids = parse_id_list(*ids);
    in.from_ids = true;
  } else {
    in.text = prompt ? *prompt : read_file(*prompt_file);
  }
  if (allow_chat) {
    in.chat = args.flag("chat");
    auto system = args.value("system");
    auto tmpl = args.value("chat-template");
    bool no_think = args.flag("no-think");
    TC_CHECK_ARG(in.chat || (!system && !tmpl && !no_think), "%s: --system, --chat-template and --no-think need --chat",
                 args.command().c_str());
    TC_CHECK_ARG(!(in.chat && in.from_ids), "%s: --chat needs a text prompt, not --ids", args.command().c_str());
    in.system = system.value_or("");
    in.chat_template = tmpl.value_or("");
    in.enable_thinking = !no_think;
  }
  return in;
}

std::vector<int32_t> tokenize_prompt(const PromptInput& input, const Tokenizer& tokenizer) {
  if (input.chat) {
    ChatTemplate tmpl = ChatTemplate::detect(tokenizer, input.chat_template);
    std::vector<ChatMessage> messages;
    if (!input.system.empty()) messages.push_back({"system", input.system});
    messages.push_back({"user", input.text});
    ChatOptions options;
    options.enable_thinking = input.enable_thinking;
    // The rendered template carries its own BOS text where the family has one.
    return tokenizer.encode(tmpl.render(messages, options));
  }
  std::vector<int32_t> ids;
  if (tokenizer.add_bos() && tokenizer.bos_id() >= 0) ids.push_back(tokenizer.bos_id());
  std::vector<int32_t> text_ids = tokenizer.encode(input.text);
  ids.insert(ids.end(), text_ids.begin(), text_ids.end());
  return ids;
}

}  // namespace tc::cli

// Turns the prompt options of a command into token ids: --ids (no tokenizer involved),
// --prompt TEXT or --prompt-file F, optionally through the model's chat template (--chat,
// --system, --chat-template NAME, --no-think).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cli/args.h"

namespace tc {
class Tokenizer;
}

namespace tc::cli {

struct PromptInput {
  std::vector<int32_t> ids;    // given with --ids (the model is then loaded without a tokenizer)
  std::string text;            // --prompt / --prompt-file
  bool from_ids = false;
  bool chat = false;
  std::string system;          // --system
  std::string chat_template;   // --chat-template override
  bool enable_thinking = true; // cleared by --no-think
};

// Reads --ids | --prompt | --prompt-file and the chat flags. Exactly one prompt source.
PromptInput read_prompt_input(Args& args, bool allow_chat);
// The ids of a text prompt: the chat rendering when asked, else the text with BOS when the
// tokenizer's metadata says prompts start with it.
std::vector<int32_t> tokenize_prompt(const PromptInput& input, const Tokenizer& tokenizer);

#define TC_PROMPT_USAGE "(--prompt TEXT | --prompt-file F | --ids 1,2,3)"
#define TC_CHAT_USAGE "[--chat [--system TEXT] [--chat-template NAME] [--no-think]]"

}  // namespace tc::cli

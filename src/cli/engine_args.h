// Options shared by the commands that run the engine (generate, chat, logits): model path,
// sampling, KV policy and cache dtype, prompt input. Each reader consumes its options from
// Args and validates them, so every command spells them the same way.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cli/args.h"
#include "thinkcache/generate.h"

namespace tc::cli {

// --temp --top-k --top-p --min-p --repeat-penalty --seed
SamplingOptions read_sampling_options(Args& args);
// --kv-policy --kv-budget --kv-window --kv-option key=value (repeatable) --kv-dtype --kv-seed
KvOptions read_kv_options(Args& args, const char* default_dtype = "f16");
// "1,2,3" (commas and/or spaces) -> ids; throws naming the bad item.
std::vector<int32_t> parse_id_list(const std::string& text);
// The usage text of the options above, for TC_COMMAND usage strings.
#define TC_SAMPLING_USAGE "[--temp T] [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty R] [--seed S]"
#define TC_KV_USAGE \
  "[--kv-policy NAME] [--kv-budget TOKENS] [--kv-window W] [--kv-option key=value ...] [--kv-dtype f16|bf16|f32]"

}  // namespace tc::cli

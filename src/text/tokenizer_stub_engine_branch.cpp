// TEMPORARY (engine branch only): the tokenizer lands from the tokenizer branch. This file
// lets the engine link meanwhile; every entry point throws. The lead deletes it at merge.
#include "text/tokenizer.h"

#include "util/error.h"

namespace tc {

std::unique_ptr<Tokenizer> Tokenizer::load(const std::string&) { TC_THROW("tokenizer not available"); }
std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const GgufFile&) { TC_THROW("tokenizer not available"); }
std::unique_ptr<Tokenizer> Tokenizer::from_hf_folder(const std::string&) { TC_THROW("tokenizer not available"); }
std::string StreamDecoder::push(int32_t) { TC_THROW("tokenizer not available"); }
std::string StreamDecoder::flush() { TC_THROW("tokenizer not available"); }
ChatTemplate ChatTemplate::detect(const Tokenizer&, const std::string&) { TC_THROW("tokenizer not available"); }
std::vector<std::string> ChatTemplate::known_names() { return {}; }
std::string ChatTemplate::render(const std::vector<ChatMessage>&, const ChatOptions&) const {
  TC_THROW("tokenizer not available");
}

}  // namespace tc

// Chat formatting for the supported families. Each renderer is a transcription of the
// family's official jinja template for plain messages (role + content strings), so that the
// output is byte-identical to transformers' apply_chat_template. Detection matches
// distinctive substrings of the template source shipped with the model.
#include <algorithm>

#include "text/tokenizer.h"
#include "text/unicode.h"
#include "util/error.h"

namespace tc {

namespace {

// The DeepSeek tokens use fullwidth bars (U+FF5C) and U+2581 in place of spaces.
#define TC_FW_BAR "\xEF\xBD\x9C"
#define TC_LOWBAR "\xE2\x96\x81"
const char* const kDsUser = "<" TC_FW_BAR "User" TC_FW_BAR ">";
const char* const kDsAssistant = "<" TC_FW_BAR "Assistant" TC_FW_BAR ">";
const char* const kDsEndOfSentence = "<" TC_FW_BAR "end" TC_LOWBAR "of" TC_LOWBAR "sentence" TC_FW_BAR ">";
const char* const kDsToolOutputsBegin = "<" TC_FW_BAR "tool" TC_LOWBAR "outputs" TC_LOWBAR "begin" TC_FW_BAR ">";
const char* const kDsToolOutputsEnd = "<" TC_FW_BAR "tool" TC_LOWBAR "outputs" TC_LOWBAR "end" TC_FW_BAR ">";
const char* const kDsToolOutputBegin = "<" TC_FW_BAR "tool" TC_LOWBAR "output" TC_LOWBAR "begin" TC_FW_BAR ">";
const char* const kDsToolOutputEnd = "<" TC_FW_BAR "tool" TC_LOWBAR "output" TC_LOWBAR "end" TC_FW_BAR ">";

const char* const kQwenDefaultSystem = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";
const char* const kSmolDefaultSystem = "You are a helpful AI assistant named SmolLM, trained by Hugging Face";

bool contains(const std::string& s, const char* what) { return s.find(what) != std::string::npos; }
bool starts_with(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }
bool ends_with(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

// Python's str.lstrip(chars) / rstrip(chars) for a single ASCII char.
std::string lstrip_char(const std::string& s, char c) {
  size_t i = 0;
  while (i < s.size() && s[i] == c) ++i;
  return s.substr(i);
}
std::string rstrip_char(const std::string& s, char c) {
  size_t n = s.size();
  while (n > 0 && s[n - 1] == c) --n;
  return s.substr(0, n);
}
// Python's str.strip() with no argument (jinja's `trim`): strips str.isspace() characters.
std::string python_strip(const std::string& s) {
  size_t begin = 0, end = s.size();
  while (begin < end) {
    Utf8Char c = utf8_decode(s, begin);
    if (!c.valid || !unicode_is_python_space(c.cp)) break;
    begin += c.len;
  }
  while (end > begin) {
    size_t start = end - 1;
    while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    Utf8Char c = utf8_decode(s, start);
    if (!c.valid || start + c.len != end || !unicode_is_python_space(c.cp)) break;
    end = start;
  }
  return s.substr(begin, end - begin);
}
// s.split(sep)[-1] and s.split(sep)[0].
std::string after_last(const std::string& s, const std::string& sep) {
  size_t p = s.rfind(sep);
  return p == std::string::npos ? s : s.substr(p + sep.size());
}
std::string before_first(const std::string& s, const std::string& sep) {
  size_t p = s.find(sep);
  return p == std::string::npos ? s : s.substr(0, p);
}

// ChatML tool-response block shared by the Qwen templates.
void render_qwen_tool(const std::vector<ChatMessage>& m, size_t i, std::string& out) {
  if (i == 0 || m[i - 1].role != "tool") out += "<|im_start|>user";
  out += "\n<tool_response>\n" + m[i].content + "\n</tool_response>";
  if (i + 1 == m.size() || m[i + 1].role != "tool") out += "<|im_end|>\n";
}

std::string render_qwen3(const std::vector<ChatMessage>& m, const ChatOptions& o) {
  std::string out;
  if (!m.empty() && m[0].role == "system") out += "<|im_start|>system\n" + m[0].content + "<|im_end|>\n";
  // The last user turn that is not a tool response: reasoning is kept only after it.
  long last_query = long(m.size()) - 1;
  for (long i = long(m.size()) - 1; i >= 0; --i) {
    const std::string& c = m[i].content;
    if (m[i].role == "user" && !(starts_with(c, "<tool_response>") && ends_with(c, "</tool_response>"))) {
      last_query = i;
      break;
    }
  }
  for (size_t i = 0; i < m.size(); ++i) {
    const ChatMessage& msg = m[i];
    if (msg.role == "user" || (msg.role == "system" && i != 0)) {
      out += "<|im_start|>" + msg.role + "\n" + msg.content + "<|im_end|>\n";
    } else if (msg.role == "assistant") {
      std::string content = msg.content, reasoning;
      if (contains(msg.content, "</think>")) {
        content = lstrip_char(after_last(msg.content, "</think>"), '\n');
        reasoning = lstrip_char(after_last(rstrip_char(before_first(msg.content, "</think>"), '\n'), "<think>"), '\n');
      }
      if (long(i) > last_query && (i + 1 == m.size() || !reasoning.empty())) {
        out += "<|im_start|>assistant\n<think>\n" + rstrip_char(lstrip_char(reasoning, '\n'), '\n') +
               "\n</think>\n\n" + lstrip_char(content, '\n');
      } else {
        out += "<|im_start|>assistant\n" + content;
      }
      out += "<|im_end|>\n";
    } else if (msg.role == "tool") {
      render_qwen_tool(m, i, out);
    }
  }
  if (o.add_generation_prompt) {
    out += "<|im_start|>assistant\n";
    if (!o.enable_thinking) out += "<think>\n\n</think>\n\n";
  }
  return out;
}

std::string render_qwen25(const std::vector<ChatMessage>& m, const ChatOptions& o) {
  std::string out;
  if (!m.empty() && m[0].role == "system") out += "<|im_start|>system\n" + m[0].content + "<|im_end|>\n";
  else out += std::string("<|im_start|>system\n") + kQwenDefaultSystem + "<|im_end|>\n";
  for (size_t i = 0; i < m.size(); ++i) {
    const ChatMessage& msg = m[i];
    if (msg.role == "user" || (msg.role == "system" && i != 0) || msg.role == "assistant") {
      out += "<|im_start|>" + msg.role + "\n" + msg.content + "<|im_end|>\n";
    } else if (msg.role == "tool") {
      render_qwen_tool(m, i, out);
    }
  }
  if (o.add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

std::string render_smollm2(const std::vector<ChatMessage>& m, const ChatOptions& o) {
  std::string out;
  for (size_t i = 0; i < m.size(); ++i) {
    if (i == 0 && m[0].role != "system") out += std::string("<|im_start|>system\n") + kSmolDefaultSystem + "<|im_end|>\n";
    out += "<|im_start|>" + m[i].role + "\n" + m[i].content + "<|im_end|>\n";
  }
  if (o.add_generation_prompt) out += "<|im_start|>assistant\n";
  return out;
}

// Llama-3 (3.0) template: it always ends with the assistant header, whatever
// add_generation_prompt says, and trims every message.
std::string render_llama3(const std::vector<ChatMessage>& m, const std::string& bos) {
  std::string out;
  for (size_t i = 0; i < m.size(); ++i) {
    if (i == 0) out += bos;
    out += "<|start_header_id|>" + m[i].role + "<|end_header_id|>\n\n" + python_strip(m[i].content) + "<|eot_id|>";
  }
  out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

std::string render_deepseek_r1(const std::vector<ChatMessage>& m, const ChatOptions& o, const std::string& bos) {
  std::string system;
  for (const ChatMessage& msg : m) {
    if (msg.role == "system") system = msg.content;  // the last system message wins
  }
  std::string out = bos + system;
  bool is_tool = false, first_output = true;
  for (const ChatMessage& msg : m) {
    if (msg.role == "user") {
      is_tool = false;
      out += kDsUser + msg.content;
    } else if (msg.role == "assistant") {
      if (is_tool) {
        out += kDsToolOutputsEnd + msg.content + kDsEndOfSentence;
        is_tool = false;
      } else {
        out += kDsAssistant + after_last(msg.content, "</think>") + kDsEndOfSentence;
      }
    } else if (msg.role == "tool") {
      is_tool = true;
      if (first_output) {
        out += std::string(kDsToolOutputsBegin) + kDsToolOutputBegin + msg.content + kDsToolOutputEnd;
        first_output = false;
      } else {
        out += "\n" + (kDsToolOutputBegin + msg.content) + kDsToolOutputEnd;
      }
    }
  }
  if (is_tool) out += kDsToolOutputsEnd;
  if (o.add_generation_prompt && !is_tool) out += std::string(kDsAssistant) + "<think>\n";
  return out;
}

std::string known_list() {
  std::string s;
  for (const std::string& n : ChatTemplate::known_names()) s += (s.empty() ? "" : ", ") + n;
  return s;
}

}  // namespace

std::vector<std::string> ChatTemplate::known_names() {
  return {"qwen3", "qwen2.5", "deepseek-r1-distill", "llama3", "smollm2"};
}

std::string ChatTemplate::detect_name(const std::string& src) {
  if (contains(src, kDsUser) && contains(src, kDsAssistant)) return "deepseek-r1-distill";
  if (contains(src, "<|start_header_id|>") && contains(src, "<|eot_id|>")) {
    // Llama-3.1+ templates add a dated system preamble and tool calling; not transcribed.
    if (contains(src, "Cutting Knowledge Date")) return "";
    return "llama3";
  }
  if (contains(src, "<|im_start|>")) {
    if (contains(src, "<think>") && contains(src, "enable_thinking")) return "qwen3";
    if (contains(src, kQwenDefaultSystem)) return "qwen2.5";
    if (contains(src, kSmolDefaultSystem)) return "smollm2";
  }
  return "";
}

ChatTemplate ChatTemplate::by_name(const std::string& name, const std::string& bos_text) {
  auto names = known_names();
  if (std::find(names.begin(), names.end(), name) == names.end())
    TC_THROW("unknown chat template '%s' (known: %s)", name.c_str(), known_list().c_str());
  ChatTemplate t;
  t.name_ = name;
  t.bos_text_ = bos_text;
  return t;
}

ChatTemplate ChatTemplate::detect(const Tokenizer& tokenizer, const std::string& override_name) {
  std::string bos = tokenizer.bos_id() >= 0 ? tokenizer.token_string(tokenizer.bos_id()) : "";
  if (!override_name.empty()) return by_name(override_name, bos);
  const std::string& src = tokenizer.chat_template_source();
  if (src.empty())
    TC_THROW("the model has no chat template; choose one of %s with --chat-template NAME", known_list().c_str());
  std::string name = detect_name(src);
  if (name.empty()) {
    std::string head = src.substr(0, 80);
    std::replace(head.begin(), head.end(), '\n', ' ');
    TC_THROW("unsupported chat template \"%s...\" (%zu bytes; supported families: %s); choose one "
             "with --chat-template NAME", head.c_str(), src.size(), known_list().c_str());
  }
  return by_name(name, bos);
}

std::string ChatTemplate::render(const std::vector<ChatMessage>& messages, const ChatOptions& options) const {
  if (name_ == "qwen3") return render_qwen3(messages, options);
  if (name_ == "qwen2.5") return render_qwen25(messages, options);
  if (name_ == "smollm2") return render_smollm2(messages, options);
  if (name_ == "llama3") return render_llama3(messages, bos_text_);
  if (name_ == "deepseek-r1-distill") return render_deepseek_r1(messages, options, bos_text_);
  TC_THROW("chat template '%s' has no renderer", name_.c_str());
}

}  // namespace tc

// `thinkcache tokenize` and `thinkcache detokenize`: text <-> token ids with a model's own
// tokenizer (a model folder with tokenizer.json, or a GGUF file). Batch modes (--jsonl) read
// one JSON value per line and write one per line, so tests and scripts load the tokenizer once.
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/args.h"
#include "text/tokenizer.h"
#include "text/unicode.h"
#include "util/error.h"
#include "util/json.h"

namespace {

std::string read_file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) TC_THROW("cannot open %s", path.c_str());
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_stdout(const std::string& s) { std::fwrite(s.data(), 1, s.size(), stdout); }

std::string ids_json(const std::vector<int32_t>& ids) {
  std::string out = "[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(ids[i]);
  }
  return out + "]";
}

// JSON text for arbitrary bytes: invalid UTF-8 becomes U+FFFD per maximal invalid subpart.
std::string quote_text(std::string_view bytes) { return tc::json_quote(tc::utf8_sanitize(bytes)); }

// Runs `fn` on each line of a JSONL file, writing its results to stdout.
template <typename Fn>
void for_each_jsonl_line(const std::string& path, Fn fn) {
  std::ifstream f(path, std::ios::binary);
  if (!f) TC_THROW("cannot open %s", path.c_str());
  std::string line, out;
  size_t line_no = 0;
  while (std::getline(f, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    tc::Json value = tc::Json::parse(line, tc::str_printf("%s:%zu", path.c_str(), line_no));
    out += fn(value, line_no);
    out += '\n';
    if (out.size() > (1 << 20)) {
      write_stdout(out);
      out.clear();
    }
  }
  write_stdout(out);
}

std::vector<tc::ChatMessage> parse_messages(const tc::Json& list, const std::string& where) {
  if (!list.is_array()) TC_THROW("%s: expected a JSON array of {\"role\", \"content\"} messages", where.c_str());
  std::vector<tc::ChatMessage> messages;
  for (const tc::Json& m : list.as_array()) {
    const tc::Json* role = m.is_object() ? m.find("role") : nullptr;
    const tc::Json* content = m.is_object() ? m.find("content") : nullptr;
    if (!role || !content || !role->is_string() || !content->is_string())
      TC_THROW("%s: message %zu needs string \"role\" and \"content\"", where.c_str(), messages.size());
    messages.push_back({role->as_string(), content->as_string()});
  }
  return messages;
}

std::vector<tc::ChatMessage> read_messages(const std::string& path) {
  tc::Json doc = tc::Json::parse_file(path);
  const tc::Json* list = doc.is_object() ? doc.find("messages") : &doc;
  return parse_messages(list ? *list : tc::Json(), path);
}

std::vector<int32_t> parse_id_list(const std::string& text, const std::string& what) {
  std::vector<int32_t> ids;
  std::string cur;
  auto flush = [&] {
    if (cur.empty()) return;
    char* end = nullptr;
    long long v = std::strtoll(cur.c_str(), &end, 10);
    if (*end != '\0' || v < INT32_MIN || v > INT32_MAX) TC_THROW("%s: '%s' is not a token id", what.c_str(), cur.c_str());
    ids.push_back(int32_t(v));
    cur.clear();
  };
  for (char c : text) {
    if (c == ',' || c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '[' || c == ']') flush();
    else cur += c;
  }
  flush();
  return ids;
}

std::vector<int32_t> json_ids(const tc::Json& v, const std::string& what) {
  if (!v.is_array()) TC_THROW("%s: expected a JSON array of token ids", what.c_str());
  std::vector<int32_t> ids;
  for (const tc::Json& x : v.as_array()) {
    if (!x.is_int() || x.as_int() < INT32_MIN || x.as_int() > INT32_MAX) TC_THROW("%s: expected integer token ids", what.c_str());
    ids.push_back(int32_t(x.as_int()));
  }
  return ids;
}

}  // namespace

TC_COMMAND(tokenize,
           "--model PATH (--text T | --file F | --jsonl F | --chat MESSAGES.json | --chat-jsonl F) [--json] "
           "[--no-special] [--pretokenize] [--chat-template NAME] [--no-generation-prompt] [--no-thinking] [--info]",
           "prints the token ids (and pieces) of a text. --jsonl F: one JSON string per line in, one JSON "
           "array of ids per line out (--pretokenize: the pre-token strings instead). --chat renders a JSON "
           "list of {role, content} messages with the model's chat template (or --chat-template NAME) "
           "first; --chat-jsonl F: one {\"messages\", \"add_generation_prompt\", \"enable_thinking\"} per "
           "line in, one {\"text\", \"ids\"} per line out") {
  std::string model = args.require("model");
  auto text = args.value("text");
  auto file = args.value("file");
  auto jsonl = args.value("jsonl");
  auto chat = args.value("chat");
  auto chat_jsonl = args.value("chat-jsonl");
  bool pretokenize = args.flag("pretokenize");
  bool as_json = args.flag("json");
  bool allow_special = !args.flag("no-special");
  std::string template_name = args.get("chat-template", "");
  tc::ChatOptions chat_options;
  chat_options.add_generation_prompt = !args.flag("no-generation-prompt");
  chat_options.enable_thinking = !args.flag("no-thinking");
  bool info = args.flag("info");
  args.finish();
  int sources = int(bool(text)) + int(bool(file)) + int(bool(jsonl)) + int(bool(chat)) + int(bool(chat_jsonl));
  if (sources != 1) TC_THROW("tokenize: give exactly one of --text, --file, --jsonl, --chat, --chat-jsonl");
  if (pretokenize && !jsonl) TC_THROW("tokenize: --pretokenize works with --jsonl");

  auto tokenizer = tc::Tokenizer::load(model);
  if (info) std::fprintf(stderr, "%s\n", tokenizer->describe().c_str());

  if (jsonl) {
    for_each_jsonl_line(*jsonl, [&](const tc::Json& v, size_t line_no) {
      if (!v.is_string()) TC_THROW("%s:%zu: expected a JSON string", jsonl->c_str(), line_no);
      if (!pretokenize) return ids_json(tokenizer->encode(v.as_string(), allow_special));
      std::string out = "[";
      for (const std::string& piece : tokenizer->pre_tokenize(v.as_string())) out += (out.size() > 1 ? "," : "") + quote_text(piece);
      return out + "]";
    });
    return 0;
  }
  if (chat_jsonl) {
    tc::ChatTemplate tmpl = tc::ChatTemplate::detect(*tokenizer, template_name);
    for_each_jsonl_line(*chat_jsonl, [&](const tc::Json& v, size_t line_no) {
      std::string where = tc::str_printf("%s:%zu", chat_jsonl->c_str(), line_no);
      if (!v.is_object()) TC_THROW("%s: expected a JSON object", where.c_str());
      tc::ChatOptions options = chat_options;
      options.add_generation_prompt = v.get_bool("add_generation_prompt", options.add_generation_prompt);
      options.enable_thinking = v.get_bool("enable_thinking", options.enable_thinking);
      std::string rendered = tmpl.render(parse_messages(v.contains("messages") ? v.at("messages") : tc::Json(), where), options);
      return "{\"text\":" + quote_text(rendered) + ",\"ids\":" + ids_json(tokenizer->encode(rendered, allow_special)) +
             ",\"chat_template\":" + tc::json_quote(tmpl.name()) + "}";
    });
    return 0;
  }
  std::string input;
  std::string chat_name;
  if (chat) {
    tc::ChatTemplate tmpl = tc::ChatTemplate::detect(*tokenizer, template_name);
    chat_name = tmpl.name();
    input = tmpl.render(read_messages(*chat), chat_options);
  } else {
    input = text ? *text : read_file_bytes(*file);
  }
  std::vector<int32_t> ids = tokenizer->encode(input, allow_special);
  if (as_json) {
    std::string out = "{\"ids\":" + ids_json(ids) + ",\"tokens\":[";
    for (size_t i = 0; i < ids.size(); ++i) out += (i ? "," : "") + quote_text(tokenizer->token_string(ids[i]));
    out += "],\"pieces\":[";
    for (size_t i = 0; i < ids.size(); ++i) out += (i ? "," : "") + quote_text(tokenizer->token_bytes(ids[i]));
    out += "],\"n_tokens\":" + std::to_string(ids.size());
    if (chat) out += ",\"chat_template\":" + tc::json_quote(chat_name) + ",\"text\":" + quote_text(input);
    out += "}\n";
    write_stdout(out);
    return 0;
  }
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? "," : "") + std::to_string(ids[i]);
  out += "\n";
  for (int32_t id : ids) out += tc::str_printf("%8d  %s\n", id, quote_text(tokenizer->token_bytes(id)).c_str());
  write_stdout(out);
  return 0;
}

TC_COMMAND(detokenize,
           "--model PATH (--ids 1,2,3 | --file F | --jsonl F) [--json] [--skip-special]",
           "prints the text of token ids (raw bytes; --json quotes it, invalid UTF-8 as U+FFFD); "
           "--jsonl F: one JSON array of ids per line in, one JSON string per line out") {
  std::string model = args.require("model");
  auto ids_arg = args.value("ids");
  auto file = args.value("file");
  auto jsonl = args.value("jsonl");
  bool as_json = args.flag("json");
  bool skip_special = args.flag("skip-special");
  args.finish();
  int sources = int(bool(ids_arg)) + int(bool(file)) + int(bool(jsonl));
  if (sources != 1) TC_THROW("detokenize: give exactly one of --ids, --file, --jsonl");

  auto tokenizer = tc::Tokenizer::load(model);
  if (jsonl) {
    for_each_jsonl_line(*jsonl, [&](const tc::Json& v, size_t line_no) {
      return quote_text(tokenizer->decode(json_ids(v, tc::str_printf("%s:%zu", jsonl->c_str(), line_no)), skip_special));
    });
    return 0;
  }
  std::vector<int32_t> ids = ids_arg ? parse_id_list(*ids_arg, "--ids") : parse_id_list(read_file_bytes(*file), *file);
  std::string text = tokenizer->decode(ids, skip_special);
  if (as_json) {
    write_stdout("{\"text\":" + quote_text(text) + ",\"n_tokens\":" + std::to_string(ids.size()) + "}\n");
  } else {
    write_stdout(text);
  }
  return 0;
}

// `thinkcache fidelity`: teacher-forced next-token fidelity of KV policies against the full
// cache (top-1 agreement, KL, perplexity) on real texts and on the model's own generations.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "cli/args.h"
#include "cli/eval_args.h"
#include "engine/generate.h"
#include "engine/session.h"
#include "eval/fidelity.h"
#include "eval/progress.h"
#include "model/model.h"
#include "text/tokenizer.h"
#include "util/error.h"
#include "util/json.h"
#include "util/thread_pool.h"

namespace {

using namespace tc;
using namespace tc::eval;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) TC_THROW("--text-file: cannot open %s", path.c_str());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string base_name(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::vector<int> parse_int_list(const std::string& text, const char* option) {
  std::vector<int> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    TC_CHECK_ARG(!item.empty() && item.find_first_not_of("0123456789") == std::string::npos && item.size() < 9,
                 "%s: \"%s\" is not a positive integer", option, item.c_str());
    out.push_back(std::atoi(item.c_str()));
    TC_CHECK_ARG(out.back() > 0, "%s: values must be positive", option);
  }
  return out;
}

// A text file: BOS (when the tokenizer asks for it) + the text's tokens, cut to max_tokens.
FidelityText text_from_file(const Tokenizer& tok, const std::string& path, int max_tokens, int prompt_tokens) {
  FidelityText t;
  t.name = base_name(path);
  t.source = path;
  if (tok.add_bos() && tok.bos_id() >= 0) t.tokens.push_back(tok.bos_id());
  std::vector<int32_t> ids = tok.encode(read_file(path));
  t.tokens.insert(t.tokens.end(), ids.begin(), ids.end());
  if (int(t.tokens.size()) > max_tokens) t.tokens.resize(size_t(max_tokens));
  t.prompt_tokens = prompt_tokens;
  TC_CHECK_ARG(int(t.tokens.size()) > prompt_tokens, "--text-file %s: %zu tokens, not more than --prompt-tokens %d",
               path.c_str(), t.tokens.size(), prompt_tokens);
  return t;
}

// The model's own greedy continuation of a prompt (full cache, one kernel thread as every
// fidelity run, so the same command gives the same tokens on any machine thread count).
FidelityText text_from_generation(const Model& model, const std::string& prompt, bool chat, int gen_tokens,
                                  const std::string& kv_dtype) {
  const Tokenizer& tok = model.require_tokenizer();
  std::vector<int32_t> ids;
  if (chat) {
    ChatTemplate tmpl = ChatTemplate::detect(tok);
    ids = tok.encode(tmpl.render({{"user", prompt}}));
  } else {
    if (tok.add_bos() && tok.bos_id() >= 0) ids.push_back(tok.bos_id());
    std::vector<int32_t> text = tok.encode(prompt);
    ids.insert(ids.end(), text.begin(), text.end());
  }
  GenerateOptions go;
  go.max_tokens = gen_tokens;
  go.kv.dtype = kv_dtype;
  const int max_new = int(std::min<int64_t>(gen_tokens, int64_t(model.config().context_length) - int64_t(ids.size())));
  TC_CHECK_ARG(max_new > 1, "--generate-prompt: the prompt (%zu tokens) leaves no room in the model's context", ids.size());
  go.max_tokens = max_new;
  KvSetup kv = make_kv_setup(model, go.kv, int(ids.size()), max_new);
  ThreadPool pool(1);
  Session session(model, *kv.cache, kv.policy.get(), SessionOptions{}, pool);
  GenerateResult r = run_generation(session, ids, go, {}, nullptr);
  FidelityText t;
  t.name = "generation";
  t.source = prompt;
  t.prompt_tokens = int(ids.size());
  t.tokens = ids;
  for (int32_t id : r.tokens) {
    if (std::find(model.eos_ids().begin(), model.eos_ids().end(), id) != model.eos_ids().end()) break;
    t.tokens.push_back(id);
  }
  return t;
}

// --sequences FILE: texts saved by an earlier run (sequences.jsonl), cut to max_tokens.
std::vector<FidelityText> texts_from_sequences(const std::string& path, int max_tokens) {
  std::vector<FidelityText> texts;
  json_lines_for_each(path, [&](const Json& o, const std::string&) {
    FidelityText t;
    TC_CHECK_ARG(o.is_object() && o.contains("name") && o.contains("tokens") && o.contains("prompt_tokens"),
                 "expected an object with name, prompt_tokens and tokens");
    t.name = o.at("name").as_string();
    t.source = o.get_string("source", path);
    t.prompt_tokens = int(o.at("prompt_tokens").as_int());
    for (const Json& id : o.at("tokens").as_array()) t.tokens.push_back(int32_t(id.as_int()));
    if (int(t.tokens.size()) > max_tokens) t.tokens.resize(size_t(max_tokens));
    texts.push_back(std::move(t));
  });
  TC_CHECK_ARG(!texts.empty(), "--sequences: %s holds no sequences", path.c_str());
  return texts;
}

// Writes results.md and the plots of `rows` into `out`.
void write_reports(const std::string& out, const std::vector<FidelityRow>& rows, const std::string& title,
                   const std::string& command, const std::vector<std::string>& notes) {
  cli::write_text_file(out + "/results.md", fidelity_markdown(rows, title, command, notes));
  std::vector<std::string> names;
  for (const FidelityRow& r : rows)
    if (std::find(names.begin(), names.end(), r.text) == names.end()) names.push_back(r.text);
  for (const std::string& name : names) {
    cli::write_text_file(out + "/plot_" + name + "_agreement.svg", fidelity_plot_svg(rows, name, "agreement"));
    cli::write_text_file(out + "/plot_" + name + "_kl.svg", fidelity_plot_svg(rows, name, "kl"));
  }
}

// --rows FILE: results.md and the plots again from an existing rows.jsonl.
int report_from_rows(const std::string& path, const std::string& out, const std::string& title,
                     const std::string& command) {
  std::vector<FidelityRow> rows;
  json_lines_for_each(path, [&](const Json& row, const std::string&) { rows.push_back(fidelity_row_from_json(row)); });
  TC_CHECK_ARG(!rows.empty(), "%s holds no result rows", path.c_str());
  cli::make_output_dir(out);
  write_reports(out, rows, title, command, {"Aggregated from " + path + str_printf(" (%zu rows).", rows.size())});
  std::fprintf(stderr, "wrote %s/results.md and the plots\n", out.c_str());
  return 0;
}

}  // namespace

TC_COMMAND(fidelity,
           "--model PATH (--text-file F ... | --generate-prompt TEXT [--chat] [--gen-tokens N] | --sequences FILE) "
           "--policies LIST --budgets LIST --out DIR [--seeds 0,1] [--prompt-tokens K] [--max-seq-tokens N] "
           "[--max-positions N] [--checkpoints 128,256,...] [--kv-dtype f16|bf16|f32] [--threads N] [--title TEXT] [--quiet]\n"
           "       thinkcache fidelity --rows FILE.jsonl --out DIR [--title TEXT] [--command TEXT]\n\n"
           "Runs each text through the model with the full cache and with every policy x budget x seed, teacher-forced\n"
           "(the first K tokens prefilled as the prompt, the rest fed one decode step at a time, so eviction happens\n"
           "as during generation), and compares the next-token distributions at every later position with the full\n"
           "cache's: top-1 agreement, mean KL(full||policy), perplexity. Texts: --text-file (its first --max-seq-tokens\n"
           "tokens, default 2048; --prompt-tokens K default 64), --generate-prompt (the model's greedy full-cache\n"
           "continuation of the prompt, --gen-tokens default 2000, through the chat template with --chat; the prompt\n"
           "is the prefilled part), or --sequences (the sequences.jsonl of an earlier run). --max-positions N cuts\n"
           "every text to its prompt + N tokens (reproduces an earlier run's metrics over its first N positions\n"
           "with token budgets: the \"prefixes\" of its rows, at --checkpoints). Budgets as in `eval`,\n"
           "percentages of each text's length. Writes rows.jsonl, sequences.jsonl, results.md and per text\n"
           "plot_<text>_agreement.svg and plot_<text>_kl.svg into --out; --rows rebuilds results.md and the plots\n"
           "from an existing rows.jsonl.",
           "teacher-forced fidelity of KV policies against the full cache (agreement, KL, perplexity)") {
  const std::string out = args.require("out");
  if (auto rows_file = args.value("rows")) {
    const std::string title = args.get("title", "thinkcache fidelity");
    auto command = args.value("command");
    args.finish();
    return report_from_rows(*rows_file, out, title, command.value_or(""));
  }
  const std::string model_path = args.require("model");
  FidelityOptions o;
  o.policies = policy_choice_parse_list(args.require("policies"));
  if (auto budgets = args.value("budgets")) o.budgets = budget_parse_list(*budgets);
  o.seeds = cli::parse_seed_list(args.get("seeds", "0"));
  std::vector<std::string> files = args.values("text-file");
  std::vector<std::string> gen_prompts = args.values("generate-prompt");
  auto sequences = args.value("sequences");
  const bool chat = args.flag("chat");
  const int gen_tokens = args.get_int("gen-tokens", 2000);
  const int prompt_tokens = args.get_int("prompt-tokens", 64);
  const int max_seq = args.get_int("max-seq-tokens", 2048);
  const int max_positions = args.get_int("max-positions", 0);
  if (auto cp = args.value("checkpoints")) o.checkpoints = parse_int_list(*cp, "--checkpoints");
  o.kv_dtype = args.get("kv-dtype", "f16");
  o.threads = cli::read_worker_threads(args);
  const std::string title = args.get("title", "thinkcache fidelity");
  const bool quiet = args.flag("quiet");
  args.finish();
  TC_CHECK_ARG(!files.empty() || !gen_prompts.empty() || sequences,
               "fidelity: give a text: --text-file F, --generate-prompt TEXT or --sequences FILE");
  TC_CHECK_ARG(gen_tokens > 1, "fidelity: --gen-tokens must be > 1, got %d", gen_tokens);
  TC_CHECK_ARG(prompt_tokens >= 1, "fidelity: --prompt-tokens must be >= 1, got %d", prompt_tokens);
  TC_CHECK_ARG(max_seq > prompt_tokens, "fidelity: --max-seq-tokens %d must exceed --prompt-tokens %d", max_seq,
               prompt_tokens);
  TC_CHECK_ARG(!chat || !gen_prompts.empty(), "fidelity: --chat applies to --generate-prompt");
  TC_CHECK_ARG(max_positions >= 0, "fidelity: --max-positions must be >= 0, got %d", max_positions);
  kv_dtype_from_name(o.kv_dtype);

  auto model = Model::load(model_path);
  const Tokenizer& tok = model->require_tokenizer();
  std::vector<FidelityText> texts;
  if (sequences) texts = texts_from_sequences(*sequences, max_seq);
  for (const std::string& f : files) texts.push_back(text_from_file(tok, f, max_seq, prompt_tokens));
  for (size_t i = 0; i < gen_prompts.size(); ++i) {
    if (!quiet) std::fprintf(stderr, "fidelity: generating up to %d tokens (greedy, full cache)...\n", gen_tokens);
    texts.push_back(text_from_generation(*model, gen_prompts[i], chat, gen_tokens, o.kv_dtype));
    if (gen_prompts.size() > 1) texts.back().name += "-" + std::to_string(i + 1);
  }
  // --max-positions: every text cut to its prompt + N positions (reproduces the prefix metrics).
  if (max_positions > 0)
    for (FidelityText& t : texts)
      if (int(t.tokens.size()) > t.prompt_tokens + max_positions) t.tokens.resize(size_t(t.prompt_tokens + max_positions));
  for (size_t i = 0; i < texts.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      TC_CHECK_ARG(texts[i].name != texts[j].name, "fidelity: two texts are named %s", texts[i].name.c_str());

  cli::make_output_dir(out);
  {
    std::string seq;
    for (const FidelityText& t : texts) {
      Json o2 = Json::object();
      o2.set("name", t.name);
      o2.set("source", t.source);
      o2.set("prompt_tokens", t.prompt_tokens);
      Json ids = Json::array();
      for (int32_t id : t.tokens) ids.push(Json(int64_t(id)));
      o2.set("tokens", std::move(ids));
      o2.set("text", tok.decode(t.tokens));
      seq += o2.dump() + "\n";
    }
    cli::write_text_file(out + "/sequences.jsonl", seq);
  }
  const std::string rows_path = out + "/rows.jsonl";
  std::ofstream rows_file(rows_path, std::ios::binary | std::ios::trunc);
  if (!rows_file) TC_THROW("cannot write %s", rows_path.c_str());
  const int total = int(texts.size()) * fidelity_runs_per_text(o);
  std::fprintf(stderr, "fidelity: %zu text(s) (%s), %d runs, %d worker threads\n", texts.size(),
               [&] {
                 std::string s;
                 for (const auto& t : texts) s += (s.empty() ? "" : ", ") + t.name + " " + std::to_string(t.tokens.size());
                 return s;
               }().c_str(),
               total, o.threads);
  ProgressBar bar("runs", total, !quiet);
  std::vector<FidelityRow> rows;
  fidelity_run(
      *model, o, texts,
      [&](const FidelityRow& r) {
        rows_file << fidelity_row_json(r).dump() << '\n';
        rows_file.flush();
        if (!rows_file) TC_THROW("cannot write %s", rows_path.c_str());
        rows.push_back(r);
      },
      [&](int done, int all) { bar.update(done); });
  bar.finish();

  std::string command = "thinkcache fidelity --model " + model_path;
  if (sequences) command += " --sequences " + *sequences;
  for (const std::string& f : files) command += " --text-file " + f;
  for (const std::string& p : gen_prompts) command += " --generate-prompt '" + p + "'" + (chat ? " --chat" : "");
  if (!gen_prompts.empty()) command += " --gen-tokens " + std::to_string(gen_tokens);
  if (!files.empty()) command += str_printf(" --prompt-tokens %d", prompt_tokens);
  command += str_printf(" --max-seq-tokens %d", max_seq);
  if (max_positions > 0) command += str_printf(" --max-positions %d", max_positions);
  std::string list;
  for (const auto& c : o.policies) list += (list.empty() ? "" : ",") + c.label;
  command += " --policies " + list;
  list.clear();
  for (const auto& b : o.budgets) list += (list.empty() ? "" : ",") + b.label;
  if (!list.empty()) command += " --budgets " + list;
  list.clear();
  for (uint64_t s : o.seeds) list += (list.empty() ? "" : ",") + std::to_string(s);
  command += " --seeds " + list;
  if (o.kv_dtype != "f16") command += " --kv-dtype " + o.kv_dtype;
  command += " --out " + out;
  std::vector<std::string> notes;
  notes.push_back(str_printf("Model %s (%s, %d layers, %d heads / %d KV heads); KV cache %s; texts in sequences.jsonl.",
                             model_path.c_str(), architecture_name(model->config().arch), model->config().n_layers,
                             model->config().n_heads, model->config().n_kv_heads, o.kv_dtype.c_str()));
  write_reports(out, rows, title, command, notes);
  cli::write_text_file(out + "/command.txt", command + "\n");
  std::fprintf(stderr, "wrote %s/rows.jsonl, sequences.jsonl, results.md and the plots\n", out.c_str());
  return 0;
}

// Tokenizer speed: load time, then encode and decode throughput (MB/s of text, one thread)
// on a mixed corpus of ~2 KB documents (English prose, code, Chinese, Russian, digits, emoji,
// whitespace runs). The corpus is generated from a fixed seed; --dump-corpus writes it so that
// bench/tokenizer_bench_hf.py measures HF tokenizers on exactly the same documents.
//
// usage: tokenizer_bench [--model PATH]... [--mb 4] [--dump-corpus FILE.jsonl]
//   default models: $TC_ASSETS/tokenizers/{qwen3,llama3} and the SmolLM2 GGUF.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "text/tokenizer.h"
#include "util/error.h"
#include "util/json.h"
#include "util/rng.h"

namespace {

const char* const kEnglish[] = {"the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was", "with",
                                "be", "by", "on", "not", "he", "I", "this", "are", "or", "his", "from", "at",
                                "which", "but", "have", "an", "had", "they", "you", "were", "their", "one",
                                "all", "we", "can", "her", "has", "there", "been", "if", "more", "when",
                                "will", "would", "who", "so", "no", "reasoning", "model", "memory", "cache",
                                "token", "budget", "attention", "because", "therefore", "Let's", "don't"};
const char* const kCode[] = {"def solve(n):\n", "    return sum(x * x for x in range(n))\n",
                             "for (int i = 0; i < n; ++i) {\n", "    acc += v[i] * w[i];\n", "}\n",
                             "if (err != nullptr) { return -1; }\n", "  \"key\": [1, 2, 3],\n",
                             "import numpy as np\n", "x = np.zeros((4, 8), dtype=np.float32)\n"};
const char* const kChinese[] = {"我们需要计算这个问题的答案。", "首先，考虑所有可能的情况。", "因此结果是正确的。",
                                "这是一个很长的推理过程，", "让我们一步一步地思考。"};
const char* const kRussian[] = {"Давайте решим эту задачу шаг за шагом. ", "Ответ: ", "Следовательно, "};
const char* const kEmoji[] = {"😀", "👍🏽", "🚀", "👨‍👩‍👧", "✅"};

template <size_t N>
const char* pick(tc::Rng& rng, const char* const (&list)[N]) { return list[rng.below(N)]; }

std::string make_document(tc::Rng& rng, size_t target) {
  std::string d;
  while (d.size() < target) {
    uint64_t kind = rng.below(100);
    if (kind < 60) {  // an English sentence
      size_t words = 5 + rng.below(20);
      for (size_t w = 0; w < words; ++w) d += std::string(w ? " " : "") + pick(rng, kEnglish);
      d += rng.below(4) ? ". " : ",\n";
    } else if (kind < 75) {
      d += pick(rng, kCode);
    } else if (kind < 83) {
      d += pick(rng, kChinese);
    } else if (kind < 88) {
      d += pick(rng, kRussian);
    } else if (kind < 95) {  // numbers
      d += " " + std::to_string(rng.below(1000000000)) + (rng.below(2) ? ".5" : "") + " ";
    } else if (kind < 98) {
      d += pick(rng, kEmoji);
    } else {
      d += std::string(1 + rng.below(8), ' ') + "\n\n";
    }
  }
  return d;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> models;
  double mb = 4;
  std::string dump;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--model" && i + 1 < argc) models.push_back(argv[++i]);
    else if (a == "--mb" && i + 1 < argc) mb = std::atof(argv[++i]);
    else if (a == "--dump-corpus" && i + 1 < argc) dump = argv[++i];
    else {
      std::fprintf(stderr, "usage: tokenizer_bench [--model PATH]... [--mb 4] [--dump-corpus FILE.jsonl]\n");
      return 2;
    }
  }
  const char* env = std::getenv("TC_ASSETS");
  std::string assets = env ? env : "assets";
  if (models.empty()) {
    models = {assets + "/tokenizers/qwen3", assets + "/tokenizers/llama3",
              assets + "/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"};
  }
  // corpus: [n_docs] documents of ~2 KB
  tc::Rng rng(1234);
  std::vector<std::string> corpus;
  size_t total = 0;
  while (total < size_t(mb * 1e6)) {
    corpus.push_back(make_document(rng, 1500 + rng.below(1000)));
    total += corpus.back().size();
  }
  if (!dump.empty()) {
    std::ofstream out(dump, std::ios::binary);
    for (const std::string& d : corpus) out << tc::json_quote(d) << "\n";
    std::printf("wrote %zu documents (%.2f MB) to %s\n", corpus.size(), total / 1e6, dump.c_str());
    return 0;
  }
  std::printf("corpus: %zu documents, %.2f MB (mixed: prose, code, zh, ru, digits, emoji)\n", corpus.size(), total / 1e6);
  std::printf("%-60s %9s %12s %12s %10s\n", "tokenizer", "load_ms", "encode_MB/s", "decode_MB/s", "tokens");
  for (const std::string& path : models) {
    try {
      auto t0 = std::chrono::steady_clock::now();
      auto tok = tc::Tokenizer::load(path);
      double load = seconds_since(t0);
      // Warm-up on a slice (page in tables), then the timed pass.
      for (size_t i = 0; i < std::min<size_t>(20, corpus.size()); ++i) tok->encode(corpus[i]);
      std::vector<std::vector<int32_t>> ids(corpus.size());
      t0 = std::chrono::steady_clock::now();
      size_t n_tokens = 0;
      for (size_t i = 0; i < corpus.size(); ++i) {
        ids[i] = tok->encode(corpus[i]);
        n_tokens += ids[i].size();
      }
      double enc = seconds_since(t0);
      t0 = std::chrono::steady_clock::now();
      size_t decoded = 0;
      for (const auto& v : ids) decoded += tok->decode(v).size();
      double dec = seconds_since(t0);
      if (decoded != total) std::fprintf(stderr, "warning: %s: decoded %zu bytes of %zu\n", path.c_str(), decoded, total);
      std::printf("%-60s %9.0f %12.2f %12.1f %10zu\n", path.c_str(), load * 1e3, total / 1e6 / enc, total / 1e6 / dec, n_tokens);
    } catch (const tc::Error& e) {
      std::printf("%-60s error: %s\n", path.c_str(), e.what());
    }
  }
  return 0;
}

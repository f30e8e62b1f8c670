// The tokenizer on small hand-built tokenizer.json files whose results follow from the BPE
// definition by hand (merge order, ties, ignore_merges, added tokens), the streaming decoder,
// bad files, and a few ids of the real Qwen3 tokenizer (values printed by HF tokenizers).
#include <filesystem>
#include <fstream>

#include "text/bpe.h"
#include "text/tokenizer.h"
#include "util/error.h"
#include "util/json.h"
#include "text/unicode.h"
#include "util/rng.h"
#include "util/testing.h"

namespace tc {

namespace {

// A folder holding a byte-level tokenizer.json: ids 0..255 are the 256 bytes (id == byte
// value), then `extra` tokens (raw text, byte-level encoded here), then added tokens.
std::string write_tiny_tokenizer(const std::vector<std::string>& extra, const std::vector<std::string>& merges,
                                 bool ignore_merges, const std::string& pre_type = "ByteLevel") {
  std::string dir = testing::temp_dir();
  Json vocab = Json::object();
  for (int b = 0; b < 256; ++b) vocab.set(byte_level_encode(std::string(1, char(b))), b);
  for (size_t k = 0; k < extra.size(); ++k) vocab.set(byte_level_encode(extra[k]), int64_t(256 + k));
  Json merge_list = Json::array();
  for (const std::string& m : merges) {
    size_t sp = m.find(' ');
    merge_list.push(byte_level_encode(m.substr(0, sp)) + " " + byte_level_encode(m.substr(sp + 1)));
  }
  Json model = Json::object();
  model.set("type", "BPE").set("vocab", vocab).set("merges", merge_list).set("ignore_merges", ignore_merges);
  Json added = Json::array();
  Json tok = Json::object();
  tok.set("id", int64_t(256 + extra.size())).set("content", "<tok>").set("special", true).set("normalized", false);
  added.push(tok);
  Json pre = Json::object();
  pre.set("type", pre_type).set("add_prefix_space", false).set("use_regex", true);
  Json root = Json::object();
  root.set("model", model).set("added_tokens", added).set("normalizer", Json()).set("pre_tokenizer", pre);
  std::ofstream(dir + "/tokenizer.json") << root.dump();
  return dir;
}

std::vector<int32_t> ids_of(const Tokenizer& t, std::initializer_list<const char*> pieces) {
  std::vector<int32_t> out;
  for (const char* p : pieces) out.push_back(*t.find_token(byte_level_encode(p)));
  return out;
}

}  // namespace

TC_TEST(tokenizer_bpe_applies_merges_by_rank) {
  // Ranks: (a b)=0, (ab c)=1, (b c)=2. "abc": a+b first (rank 0), then ab+c.
  auto t = Tokenizer::from_hf_folder(write_tiny_tokenizer({"ab", "abc", "bc"}, {"a b", "ab c", "b c"}, false));
  TC_EXPECT_EQ(t->encode("abc"), ids_of(*t, {"abc"}));
  TC_EXPECT_EQ(t->encode("bc"), ids_of(*t, {"bc"}));
  TC_EXPECT_EQ(t->encode("cab"), ids_of(*t, {"c", "ab"}));
  // A different rank order changes the result: (b c) before (a b) leaves a + bc.
  auto u = Tokenizer::from_hf_folder(write_tiny_tokenizer({"ab", "bc"}, {"b c", "a b"}, false));
  TC_EXPECT_EQ(u->encode("abc"), ids_of(*u, {"a", "bc"}));
}

TC_TEST(tokenizer_bpe_ties_merge_leftmost_first) {
  auto t = Tokenizer::from_hf_folder(write_tiny_tokenizer({"aa"}, {"a a"}, false));
  TC_EXPECT_EQ(t->encode("aaa"), ids_of(*t, {"aa", "a"}));
  TC_EXPECT_EQ(t->encode("aaaa"), ids_of(*t, {"aa", "aa"}));
}

TC_TEST(tokenizer_ignore_merges_emits_whole_vocabulary_words) {
  // "xyz" is in the vocabulary but no merge builds it.
  auto with = Tokenizer::from_hf_folder(write_tiny_tokenizer({"xyz"}, {}, true));
  TC_EXPECT_EQ(with->encode("xyz"), ids_of(*with, {"xyz"}));
  auto without = Tokenizer::from_hf_folder(write_tiny_tokenizer({"xyz"}, {}, false));
  TC_EXPECT_EQ(without->encode("xyz"), ids_of(*without, {"x", "y", "z"}));
}

TC_TEST(tokenizer_added_tokens_and_decode) {
  auto t = Tokenizer::from_hf_folder(write_tiny_tokenizer({}, {}, false));
  int32_t tok = *t->find_token("<tok>");
  TC_EXPECT_EQ(tok, 256);
  TC_EXPECT(t->is_special(tok));
  std::vector<int32_t> ids = t->encode("a<tok>b");
  TC_EXPECT_EQ(ids, (std::vector<int32_t>{'a', tok, 'b'}));
  // Not matched when specials are not allowed: the GPT-2 regex splits "<", "tok", ">".
  TC_EXPECT_EQ(t->encode("<tok>", false), (std::vector<int32_t>{'<', 't', 'o', 'k', '>'}));
  TC_EXPECT_EQ(t->decode(ids), std::string("a<tok>b"));
  TC_EXPECT_EQ(t->decode(ids, true), std::string("ab"));
  TC_EXPECT_EQ(t->token_bytes(' '), std::string(" "));
  TC_EXPECT_EQ(t->token_string(' '), std::string("\xC4\xA0"));  // "Ġ"
  TC_EXPECT_THROWS(t->decode({999}), "token id 999");
  // Invalid UTF-8 is encoded as U+FFFD (EF BF BD), one per maximal subpart.
  TC_EXPECT_EQ(t->encode("\xFF"), (std::vector<int32_t>{0xEF, 0xBF, 0xBD}));
}

TC_TEST(tokenizer_stream_decoder_never_splits_a_character) {
  auto t = Tokenizer::from_hf_folder(write_tiny_tokenizer({}, {}, false));
  StreamDecoder d(*t);
  // "€" = E2 82 AC arrives one byte token at a time.
  TC_EXPECT_EQ(d.push('x'), std::string("x"));
  TC_EXPECT_EQ(d.push(0xE2), std::string());
  TC_EXPECT_EQ(d.push(0x82), std::string());
  TC_EXPECT_EQ(d.push(0xAC), std::string("\xE2\x82\xAC"));
  // A byte that can never start a character is replaced at once.
  TC_EXPECT_EQ(d.push(0xFF), std::string("\xEF\xBF\xBD"));
  // An unfinished sequence followed by a non-continuation byte: U+FFFD, then the byte.
  TC_EXPECT_EQ(d.push(0xF0), std::string());
  TC_EXPECT_EQ(d.push('y'), std::string("\xEF\xBF\xBDy"));
  TC_EXPECT_EQ(d.push(0xC3), std::string());
  TC_EXPECT_EQ(d.flush(), std::string("\xEF\xBF\xBD"));
  StreamDecoder skip(*t, true);
  TC_EXPECT_EQ(skip.push(256), std::string());
  TC_EXPECT_EQ(skip.push('z'), std::string("z"));
  // Ids beyond the tokenizer (a model's padded vocabulary rows) carry no text.
  TC_EXPECT_EQ(d.push(t->vocab_size()), std::string());
  TC_EXPECT_EQ(d.push(t->vocab_size() + 100), std::string());
  TC_EXPECT_EQ(d.push('q'), std::string("q"));
}

TC_TEST(tokenizer_bad_files_are_errors) {
  std::string dir = testing::temp_dir();
  TC_EXPECT_THROWS(Tokenizer::from_hf_folder(dir), "no tokenizer.json");
  std::ofstream(dir + "/tokenizer.json") << "{\"model\": {\"type\": \"BPE\", \"vocab\": {";
  TC_EXPECT_THROWS(Tokenizer::from_hf_folder(dir), "line 1");
  std::string meta = write_tiny_tokenizer({}, {}, false, "Metaspace");
  TC_EXPECT_THROWS(Tokenizer::from_hf_folder(meta), "unsupported pre-tokenizer type 'Metaspace'");
  std::string bad_merge = write_tiny_tokenizer({}, {"a b"}, false);  // "ab" missing from the vocabulary
  TC_EXPECT_THROWS(Tokenizer::from_hf_folder(bad_merge), "the merged token");
  TC_EXPECT_THROWS(Tokenizer::load(dir + "/missing"), "no such file or folder");
}

TC_TEST(tokenizer_real_qwen3_ids) {
  std::string dir = testing::require_asset("tokenizers/qwen3");
  auto t = Tokenizer::load(dir);
  // Ids from HF tokenizers for the same strings.
  TC_EXPECT_EQ(t->encode("Hello world, 12345"), (std::vector<int32_t>{9707, 1879, 11, 220, 16, 17, 18, 19, 20}));
  TC_EXPECT_EQ(t->encode("<|im_start|>x"), (std::vector<int32_t>{151644, 87}));
  TC_EXPECT_EQ(t->eos_ids(), (std::vector<int32_t>{151645}));
  TC_EXPECT(!t->add_bos());
  ChatTemplate chat = ChatTemplate::detect(*t);
  TC_EXPECT_EQ(chat.name(), std::string("qwen3"));
}

}  // namespace tc

namespace tc {

TC_TEST(tokenizer_random_bytes_round_trip_and_stream) {
  // Invariants on random byte strings (valid and invalid UTF-8): encoding never fails, decoding
  // gives back the text with invalid sequences replaced, and the streaming decoder's pieces
  // are valid UTF-8 that concatenate to the same text.
  auto t = Tokenizer::from_hf_folder(write_tiny_tokenizer({"ab", "abc"}, {"a b", "ab c"}, false));
  Rng rng(7);
  const char alphabet[] = {'a', 'b', 'c', ' ', '\n', '\t', '\'', '1', '<', '\xC3', '\xA9', '\xE2', '\x82', '\xAC',
                           '\xF0', '\x9F', '\x98', '\x80', '\xFF', '\xED', '\xA0'};
  for (int iter = 0; iter < 2000; ++iter) {
    std::string s;
    size_t n = rng.below(40);
    for (size_t k = 0; k < n; ++k) s += alphabet[rng.below(sizeof alphabet)];
    if (rng.below(4) == 0) s += "<tok>";
    std::vector<int32_t> ids = t->encode(s);
    std::string clean = utf8_sanitize(s);
    TC_EXPECT_EQ(t->decode(ids), clean);
    StreamDecoder d(*t);
    std::string streamed;
    for (int32_t id : ids) {
      std::string piece = d.push(id);
      TC_EXPECT(utf8_is_valid(piece));
      streamed += piece;
    }
    streamed += d.flush();
    TC_EXPECT_EQ(streamed, clean);
  }
}

}  // namespace tc

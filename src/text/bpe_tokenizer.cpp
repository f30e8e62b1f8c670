#include "text/bpe_tokenizer.h"

#include <algorithm>
#include <deque>

#include "text/unicode.h"
#include "util/error.h"

namespace tc {

namespace {

// Byte offset where the whitespace run ending at `end` begins (chars decoded backwards).
size_t skip_whitespace_back(std::string_view s, size_t end, size_t floor) {
  size_t pos = end;
  while (pos > floor) {
    size_t start = pos - 1;
    while (start > floor && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    Utf8Char c = utf8_decode(s, start);
    if (!unicode_is_whitespace(c.cp)) break;
    pos = start;
  }
  return pos;
}

size_t skip_whitespace_forward(std::string_view s, size_t pos) {
  while (pos < s.size()) {
    Utf8Char c = utf8_decode(s, pos);
    if (!unicode_is_whitespace(c.cp)) break;
    pos += c.len;
  }
  return pos;
}

// HF's single_word test uses Rust's char::is_alphanumeric; \p{L} or \p{N} is the same except
// for a few combining marks with the Alphabetic property.
bool is_word_char(uint32_t cp) { return unicode_is_letter(cp) || unicode_is_number(cp); }

}  // namespace

const std::vector<std::string>& end_of_turn_markers() {
  static const std::vector<std::string> markers = {
      "<|im_end|>", "<|eot_id|>", "<|eom_id|>", "<|end_of_text|>", "<|endoftext|>",
      "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",  // <｜end▁of▁sentence｜>
  };
  return markers;
}

void BpeTokenizer::Trie::insert(std::string_view s, int32_t token) {
  int32_t node = 0;
  for (unsigned char b : s) {
    auto& ch = nodes[node].children;
    auto it = std::lower_bound(ch.begin(), ch.end(), std::make_pair(b, int32_t(-1)));
    if (it != ch.end() && it->first == b) {
      node = it->second;
    } else {
      int32_t next = int32_t(nodes.size());
      ch.insert(it, {b, next});
      nodes.emplace_back();
      node = next;
    }
  }
  if (nodes[node].token < 0) nodes[node].token = token;
  if (!s.empty()) first_byte[static_cast<unsigned char>(s[0])] = true;
}

std::pair<int32_t, size_t> BpeTokenizer::Trie::longest_at(std::string_view text, size_t pos) const {
  std::pair<int32_t, size_t> best{-1, 0};
  int32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    const auto& ch = nodes[node].children;
    unsigned char b = static_cast<unsigned char>(text[i]);
    auto it = std::lower_bound(ch.begin(), ch.end(), std::make_pair(b, int32_t(-1)));
    if (it == ch.end() || it->first != b) break;
    node = it->second;
    if (nodes[node].token >= 0) best = {nodes[node].token, i + 1 - pos};
  }
  return best;
}

BpeTokenizer::BpeTokenizer(BpeTokenizerSpec spec)
    : source_(std::move(spec.source)),
      added_(std::move(spec.added)),
      nfc_(spec.nfc),
      bos_id_(spec.bos_id),
      add_bos_(spec.add_bos),
      eos_ids_(std::move(spec.eos_ids)),
      chat_template_(std::move(spec.chat_template)),
      n_merges_(spec.merges.size()) {
  const char* src = source_.c_str();
  // The BPE model sees only the model vocabulary, as raw bytes.
  model_vocab_ = std::move(spec.vocab);
  std::vector<std::string> model_bytes(model_vocab_.size());
  for (size_t id = 0; id < model_vocab_.size(); ++id) {
    const std::string& s = model_vocab_[id];
    if (!s.empty() && !byte_level_decode(s, model_bytes[id])) model_bytes[id] = s;  // HF keeps such tokens raw
  }
  vocab_index_.build(model_vocab_.data(), model_vocab_.size());
  std::vector<BpeModel::Merge> merges;
  merges.reserve(spec.merges.size());
  std::string joined;
  for (size_t rank = 0; rank < spec.merges.size(); ++rank) {
    const auto& [a, b] = spec.merges[rank];
    int32_t ia = vocab_index_.find(a), ib = vocab_index_.find(b);
    const std::string* missing = ia < 0 ? &a : ib < 0 ? &b : nullptr;
    if (missing) TC_THROW("%s: merge %zu '%s %s': token '%s' is not in the vocabulary", src, rank, a.c_str(), b.c_str(), missing->c_str());
    joined.assign(a).append(b);
    int32_t ic = vocab_index_.find(joined);
    if (ic < 0) TC_THROW("%s: merge %zu '%s %s': the merged token '%s' is not in the vocabulary", src, rank, a.c_str(), b.c_str(), joined.c_str());
    merges.push_back({ia, ib, ic});
  }
  model_ = BpeModel(model_bytes, merges, spec.ignore_merges);
  pre_tokenizer_ = PreTokenizer(std::move(spec.pre_steps));

  vocab_ = model_vocab_;
  token_bytes_ = std::move(model_bytes);
  int32_t max_id = int32_t(vocab_.size()) - 1;
  for (const AddedToken& t : added_) {
    TC_CHECK_ARG(t.id >= 0, "%s: added token '%s' has a negative id", src, t.content.c_str());
    TC_CHECK_ARG(!t.content.empty(), "%s: added token %d has empty content", src, t.id);
    max_id = std::max(max_id, t.id);
  }
  vocab_.resize(size_t(max_id) + 1);
  token_bytes_.resize(vocab_.size());
  special_.assign(vocab_.size(), 0);
  for (size_t k = 0; k < added_.size(); ++k) {
    const AddedToken& t = added_[k];
    vocab_[t.id] = t.content;
    token_bytes_[t.id] = t.content;  // added tokens decode to their text as written
    special_[t.id] = t.special;
    (t.normalized && nfc_ ? normalized_trie_ : raw_trie_).insert(t.content, int32_t(k));
  }
  TC_CHECK_ARG(bos_id_ < int32_t(vocab_.size()), "%s: BOS id %d is outside the vocabulary", src, bos_id_);
  for (int32_t e : eos_ids_) TC_CHECK_ARG(e >= 0 && e < int32_t(vocab_.size()), "%s: EOS id %d is outside the vocabulary", src, e);
}

void BpeTokenizer::split_added(std::string_view text, const Trie& trie, bool allow_special,
                               std::vector<Segment>& out) const {
  size_t start_offset = 0;
  for (size_t pos = 0; pos < text.size();) {
    if (!trie.first_byte[static_cast<unsigned char>(text[pos])]) {
      ++pos;
      continue;
    }
    auto [k, len] = trie.longest_at(text, pos);
    if (k < 0) {
      ++pos;
      continue;
    }
    size_t start = pos, stop = pos + len;
    pos = stop;  // matching resumes after this match whether or not it is used (as HF)
    const AddedToken& t = added_[k];
    if (!allow_special && t.special) continue;
    if (t.single_word) {
      bool word_before = false, word_after = false;
      if (start > 0) {
        size_t b = start - 1;
        while (b > 0 && (static_cast<unsigned char>(text[b]) & 0xC0) == 0x80) --b;
        word_before = is_word_char(utf8_decode(text, b).cp);
      }
      if (stop < text.size()) word_after = is_word_char(utf8_decode(text, stop).cp);
      if (word_before || word_after) continue;
    }
    if (t.lstrip) start = std::max(skip_whitespace_back(text, start, 0), start_offset);
    if (t.rstrip) stop = skip_whitespace_forward(text, stop);
    if (start_offset < start) out.push_back({text.substr(start_offset, start - start_offset), -1});
    out.push_back({{}, k});
    start_offset = stop;
    pos = std::max(pos, stop);
  }
  if (start_offset < text.size()) out.push_back({text.substr(start_offset), -1});
}

void BpeTokenizer::encode_plain(std::string_view text, std::vector<int32_t>& out) const {
  thread_local std::vector<std::string_view> words;
  thread_local std::deque<std::string> arena;
  words.clear();
  arena.clear();
  if (pre_tokenizer_.steps().empty()) {
    if (!text.empty()) words.push_back(text);
  } else {
    pre_tokenizer_.split(text, words, arena);
  }
  for (std::string_view w : words) model_.encode_word(w, out);
}

std::vector<std::string> BpeTokenizer::pre_tokenize(std::string_view text) const {
  std::string sanitized;
  if (!utf8_is_valid(text)) {
    sanitized = utf8_sanitize(text);
    text = sanitized;
  }
  std::vector<std::string_view> words;
  std::deque<std::string> arena;
  if (pre_tokenizer_.steps().empty()) {
    if (!text.empty()) words.push_back(text);
  } else {
    pre_tokenizer_.split(text, words, arena);
  }
  return std::vector<std::string>(words.begin(), words.end());
}

std::vector<int32_t> BpeTokenizer::encode(std::string_view text, bool allow_special) const {
  // Invalid UTF-8 is replaced by U+FFFD first (as Python's errors='replace' decoding).
  std::string sanitized;
  if (!utf8_is_valid(text)) {
    sanitized = utf8_sanitize(text);
    text = sanitized;
  }
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  std::vector<Segment> segments, inner;
  split_added(text, raw_trie_, allow_special, segments);
  for (const Segment& seg : segments) {
    if (seg.added >= 0) {
      ids.push_back(added_[seg.added].id);
      continue;
    }
    std::string normalized;
    std::string_view piece = seg.text;
    if (nfc_ && !unicode_nfc_quick_check(piece)) {
      normalized = unicode_nfc(piece);
      piece = normalized;
    }
    if (normalized_trie_.empty()) {
      encode_plain(piece, ids);
      continue;
    }
    inner.clear();
    split_added(piece, normalized_trie_, allow_special, inner);
    for (const Segment& s : inner) {
      if (s.added >= 0) ids.push_back(added_[s.added].id);
      else encode_plain(s.text, ids);
    }
  }
  return ids;
}

void BpeTokenizer::check_id(int32_t id) const {
  if (id < 0 || id >= int32_t(vocab_.size()) || vocab_[id].empty())
    TC_THROW("token id %d is not in the vocabulary of %s (size %zu)", id, source_.c_str(), vocab_.size());
}

std::string BpeTokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  std::string out;
  for (int32_t id : ids) {
    check_id(id);
    if (skip_special && special_[id]) continue;
    out += token_bytes_[id];
  }
  return out;
}

std::string BpeTokenizer::token_bytes(int32_t id) const {
  check_id(id);
  return token_bytes_[id];
}

std::string BpeTokenizer::token_string(int32_t id) const {
  check_id(id);
  return vocab_[id];
}

std::optional<int32_t> BpeTokenizer::find_token(std::string_view token_string) const {
  for (const AddedToken& t : added_) {
    if (t.content == token_string) return t.id;
  }
  int32_t id = vocab_index_.find(token_string);
  if (id >= 0) return id;
  return std::nullopt;
}

bool BpeTokenizer::is_special(int32_t id) const {
  return id >= 0 && id < int32_t(special_.size()) && special_[id];
}

std::string BpeTokenizer::describe() const {
  std::string eos;
  for (int32_t e : eos_ids_) eos += (eos.empty() ? "" : ",") + std::to_string(e);
  return str_printf("%s: byte-level BPE, %zu ids, %zu merges, %zu added tokens; normalizer %s; "
                    "pre-tokenizer %s; bos %d (add_bos %s); eos [%s]",
                    source_.c_str(), vocab_.size(), n_merges_, added_.size(), nfc_ ? "NFC" : "none",
                    pre_tokenizer_.describe().c_str(), bos_id_, add_bos_ ? "true" : "false", eos.c_str());
}

}  // namespace tc

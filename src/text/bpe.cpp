#include "text/bpe.h"

#include <algorithm>
#include <functional>

#include "text/unicode.h"
#include "util/error.h"

namespace tc {

namespace {

constexpr uint32_t kByteLevelCharLimit = 256 + 68;  // the 68 non-printable bytes follow U+00FF

struct ByteLevelTables {
  uint32_t byte_to_char[256];
  int16_t char_to_byte[kByteLevelCharLimit];  // -1 where the character stands for no byte
  ByteLevelTables() {
    // Printable bytes stand for themselves; the rest are shifted to U+0100 onwards, in order.
    uint32_t next = 256;
    for (uint32_t c = 0; c < kByteLevelCharLimit; ++c) char_to_byte[c] = -1;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      byte_to_char[b] = printable ? uint32_t(b) : next++;
      char_to_byte[byte_to_char[b]] = int16_t(b);
    }
  }
};

const ByteLevelTables& byte_level_tables() {
  static const ByteLevelTables tables;
  return tables;
}

uint64_t merge_key(int32_t left, int32_t right) { return (uint64_t(uint32_t(left)) << 32) | uint32_t(right); }
uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return x;
}

}  // namespace

uint32_t byte_level_char(uint8_t byte) { return byte_level_tables().byte_to_char[byte]; }

int byte_level_byte(uint32_t cp) {
  return cp < kByteLevelCharLimit ? byte_level_tables().char_to_byte[cp] : -1;
}

std::string byte_level_encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) utf8_append(out, byte_level_char(b));
  return out;
}

bool byte_level_decode(std::string_view text, std::string& out) {
  for (size_t i = 0; i < text.size();) {
    Utf8Char c = utf8_decode(text, i);
    int b = c.valid ? byte_level_byte(c.cp) : -1;
    if (b < 0) return false;
    out += char(b);
    i += c.len;
  }
  return true;
}

BpeModel::BpeModel(const std::vector<std::string>& token_bytes, const std::vector<Merge>& merges,
                   bool ignore_merges)
    : token_bytes_(token_bytes), ignore_merges_(ignore_merges) {
  bytes_to_id_.build(token_bytes_.data(), token_bytes_.size());
  for (int b = 0; b < 256; ++b) byte_token_[b] = find_bytes(std::string(1, char(b)));
  size_t capacity = 16;
  while (capacity < merges.size() * 2) capacity *= 2;
  merges_.assign(capacity, MergeSlot{});
  merge_mask_ = capacity - 1;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    uint64_t key = merge_key(merges[rank].left, merges[rank].right);
    for (uint64_t h = mix(key) & merge_mask_;; h = (h + 1) & merge_mask_) {
      MergeSlot& slot = merges_[h];
      if (slot.key == key || slot.key == ~uint64_t(0)) {
        // A repeated pair takes its later rank, as HF's merge map does.
        slot = {key, int32_t(rank), merges[rank].result};
        break;
      }
    }
  }
}

int32_t BpeModel::find_bytes(std::string_view bytes) const { return bytes_to_id_.find(bytes); }

const BpeModel::MergeSlot* BpeModel::find_merge(int32_t left, int32_t right) const {
  uint64_t key = merge_key(left, right);
  for (uint64_t h = mix(key) & merge_mask_;; h = (h + 1) & merge_mask_) {
    const MergeSlot& slot = merges_[h];
    if (slot.key == key) return &slot;
    if (slot.key == ~uint64_t(0)) return nullptr;
  }
}

void BpeModel::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (word.size() == 1) {
    if (byte_token_[uint8_t(word[0])] >= 0) out.push_back(byte_token_[uint8_t(word[0])]);
    return;
  }
  if (ignore_merges_) {
    int32_t whole = find_bytes(word);
    if (whole >= 0) {
      out.push_back(whole);
      return;
    }
  }
  // symbols: [n_symbols] a doubly linked list over the word's bytes; merged ones get id -1.
  struct Symbol {
    int32_t id;
    int32_t prev, next;
  };
  struct Candidate {
    int32_t rank, pos;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  thread_local std::vector<Symbol> symbols;
  thread_local std::vector<Candidate> heap;  // a min-heap by (rank, pos)
  symbols.clear();
  for (unsigned char b : word) {
    // A byte missing from the vocabulary is dropped, as HF's BPE does without an unk token.
    if (byte_token_[b] < 0) continue;
    int32_t k = int32_t(symbols.size());
    symbols.push_back({byte_token_[b], k - 1, k + 1});
  }
  if (symbols.empty()) return;
  symbols.back().next = -1;
  heap.clear();
  auto push = [&](int32_t rank, int32_t pos) {
    heap.push_back({rank, pos});
    std::push_heap(heap.begin(), heap.end(), std::greater<Candidate>());
  };
  for (int32_t k = 0; k + 1 < int32_t(symbols.size()); ++k) {
    if (const MergeSlot* m = find_merge(symbols[k].id, symbols[k + 1].id)) heap.push_back({m->rank, k});
  }
  std::make_heap(heap.begin(), heap.end(), std::greater<Candidate>());
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<Candidate>());
    Candidate top = heap.back();
    heap.pop_back();
    Symbol& left = symbols[top.pos];
    if (left.id < 0 || left.next < 0) continue;
    Symbol& right = symbols[left.next];
    const MergeSlot* m = find_merge(left.id, right.id);
    if (!m || m->rank != top.rank) continue;  // a stale candidate: a neighbour changed since
    left.id = m->result;
    int32_t after = right.next;
    right.id = -1;
    left.next = after;
    if (after >= 0) symbols[after].prev = top.pos;
    if (left.prev >= 0) {
      if (const MergeSlot* p = find_merge(symbols[left.prev].id, left.id)) push(p->rank, left.prev);
    }
    if (after >= 0) {
      if (const MergeSlot* n = find_merge(left.id, symbols[after].id)) push(n->rank, top.pos);
    }
  }
  for (int32_t k = 0; k >= 0; k = symbols[k].next) out.push_back(symbols[k].id);
}

}  // namespace tc

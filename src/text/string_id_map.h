// A flat open-addressing hash map from strings to ids, for vocabularies: the keys are the
// strings of an id-indexed array the owner keeps alive and unchanged (keys[id]), so a slot
// holds only a 32-bit hash and the id (8 bytes; the table stays small and cache-friendly).
// Built once, then only looked up, with string_view keys and no allocation.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tc {

class StringIdMap {
 public:
  // keys: [n] the strings by id; entries whose string is empty are left out. The array's
  // buffer must outlive the map (moving the owning std::vector keeps it valid).
  void build(const std::string* keys, size_t n) {
    keys_ = keys;
    size_t cap = 16;
    while (cap < n * 2) cap *= 2;
    slots_.assign(cap, Slot{0, -1});
    mask_ = cap - 1;
    for (size_t id = 0; id < n; ++id) {
      if (keys[id].empty()) continue;
      uint32_t h = hash(keys[id]);
      for (size_t i = h & mask_;; i = (i + 1) & mask_) {
        Slot& s = slots_[i];
        if (s.id < 0) {
          s = {h, int32_t(id)};
          break;
        }
        if (s.hash == h && keys_[s.id] == keys[id]) break;  // a duplicate: the first id wins
      }
    }
  }
  int32_t find(std::string_view key) const {
    if (slots_.empty()) return -1;
    uint32_t h = hash(key);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.id < 0) return -1;
      if (s.hash == h && keys_[s.id] == key) return s.id;
    }
  }

 private:
  struct Slot {
    uint32_t hash;
    int32_t id;  // -1: empty
  };
  static uint32_t hash(std::string_view s) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ s.size();  // FNV-style mixing, then a final avalanche
    for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ULL;
    h ^= h >> 32;
    h *= 0xD6E8FEB86659FD93ULL;
    h ^= h >> 29;
    return uint32_t(h);
  }
  const std::string* keys_ = nullptr;
  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

}  // namespace tc

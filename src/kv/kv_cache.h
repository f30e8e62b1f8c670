// The KV cache: a fixed number of slots per (layer, store head), allocated once.
//
// Storage (one buffer each for K and V):
//   k, v      [n_layers][n_store_heads][capacity][head_dim]   dtype F16 (default), BF16 or F32
//   positions [n_layers][n_store_heads][capacity]             int32, the token's true position
//   channels  [n_layers][n_store_heads][capacity]             per-slot policy state (f32 or i32)
// Keys are stored after RoPE, so slots can be reordered or dropped without re-rotation, and
// a token keeps its true position when others are evicted.
//
// Store heads: with KvLayout::Gqa (the default) there is one store head per model KV head;
// with KvLayout::PerQueryHead every query head gets its own copy of its group's K/V, as the
// released LazyEviction code does with repeat_kv (a faithful mode that costs group_size
// times the memory). Query head h reads store head store_head_of_query(h).
//
// Eviction frees real slots: retain() gathers the kept slots to the front in the given
// order; remove() fills the holes with the last slots (cheap when few are evicted). Every
// registered channel moves with its slot. The live count may differ between heads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "io/dtype.h"

namespace tc {

enum class KvLayout : uint8_t { Gqa, PerQueryHead };

struct KvCacheShape {
  int n_layers = 0;
  int n_heads = 0;     // query heads
  int n_kv_heads = 0;  // model KV heads (n_heads % n_kv_heads == 0)
  int head_dim = 0;
};

struct KvCacheOptions {
  int capacity = 0;          // slots per (layer, store head)
  DType dtype = DType::F16;  // F16, BF16 or F32
  KvLayout layout = KvLayout::Gqa;
};

class KvCache {
 public:
  KvCache(const KvCacheShape& shape, const KvCacheOptions& options);  // allocates everything
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  // --- geometry
  const KvCacheShape& shape() const { return shape_; }
  int n_layers() const { return shape_.n_layers; }
  int head_dim() const { return shape_.head_dim; }
  int n_store_heads() const { return n_store_heads_; }
  int capacity() const { return options_.capacity; }
  DType dtype() const { return options_.dtype; }
  KvLayout layout() const { return options_.layout; }
  // Query heads served by one store head (1 in PerQueryHead layout).
  int queries_per_store_head() const { return shape_.n_heads / n_store_heads_; }
  int store_head_of_query(int query_head) const { return query_head / queries_per_store_head(); }
  int kv_head_of_store(int store_head) const;

  // --- occupancy
  int size(int layer, int head) const { return size_[index(layer, head)]; }
  int max_size() const;    // over all (layer, head)
  int min_size() const;
  int64_t live_slots() const;  // sum over (layer, head)

  // --- rows (row = head_dim elements of dtype())
  size_t row_bytes() const { return row_bytes_; }
  const uint8_t* k_rows(int layer, int head) const { return k_.data() + row_offset(layer, head, 0); }
  const uint8_t* v_rows(int layer, int head) const { return v_.data() + row_offset(layer, head, 0); }
  uint8_t* k_rows(int layer, int head) { return k_.data() + row_offset(layer, head, 0); }
  uint8_t* v_rows(int layer, int head) { return v_.data() + row_offset(layer, head, 0); }
  void read_k(int layer, int head, int slot, float* out) const;  // out[head_dim]
  void read_v(int layer, int head, int slot, float* out) const;
  const int32_t* positions(int layer, int head) const { return pos_.data() + slot_offset(layer, head); }

  // --- writing
  // Appends n tokens to every store head of `layer`. k, v: [n][n_kv_heads][head_dim] f32
  // (post-RoPE k); pos: [n]. Throws if any head lacks room (a scheduling bug, not user input).
  void append(int layer, int n, const float* k, const float* v, const int32_t* pos);

  // --- eviction
  // Keeps exactly the listed slots (distinct, < size), gathered to [0, n_keep) in list order.
  void retain(int layer, int head, const int32_t* keep, int n_keep);
  // Drops the listed slots (distinct, < size); survivors keep their slots except that the
  // highest live slots move into the holes. Cheaper than retain() when few are dropped.
  void remove(int layer, int head, const int32_t* drop, int n_drop);
  void clear();  // empties every head (a new sequence); channels keep their storage

  // --- per-slot policy state, compacted with the slots
  enum class ChannelType : uint8_t { F32, I32 };
  int add_channel(const std::string& name, ChannelType type);  // returns the channel id
  int find_channel(const std::string& name) const;             // -1 when absent
  float* channel_f32(int channel, int layer, int head);
  const float* channel_f32(int channel, int layer, int head) const;
  int32_t* channel_i32(int channel, int layer, int head);
  const int32_t* channel_i32(int channel, int layer, int head) const;

  // --- accounting
  size_t kv_bytes_allocated() const { return k_.size() + v_.size(); }
  size_t state_bytes_allocated() const;  // positions + channels
  // Bytes of K+V one token occupies across all layers and store heads.
  size_t kv_bytes_per_token() const { return size_t(2) * n_layers() * n_store_heads_ * row_bytes_; }
  int64_t slots_evicted() const { return slots_evicted_; }

 private:
  size_t index(int layer, int head) const { return size_t(layer) * n_store_heads_ + head; }
  size_t slot_offset(int layer, int head) const { return index(layer, head) * size_t(options_.capacity); }
  size_t row_offset(int layer, int head, int slot) const { return (slot_offset(layer, head) + slot) * row_bytes_; }
  void check_slots(const char* op, int layer, int head, const int32_t* slots, int n) const;
  void move_slot(int layer, int head, int from, int to);

  struct Channel {
    std::string name;
    ChannelType type;
    std::vector<uint32_t> data;  // 4-byte cells, reinterpret per type
  };

  KvCacheShape shape_;
  KvCacheOptions options_;
  int n_store_heads_ = 0;
  size_t row_bytes_ = 0;
  std::vector<uint8_t> k_, v_;
  std::vector<int32_t> pos_;
  std::vector<int> size_;
  std::vector<Channel> channels_;
  std::vector<uint8_t> scratch_;  // gather buffer for retain()
  int64_t slots_evicted_ = 0;
};

// Converts one stored row to/from f32.
void kv_row_to_f32(DType dtype, const uint8_t* row, float* out, int n);
void kv_row_from_f32(DType dtype, const float* in, uint8_t* row, int n);

}  // namespace tc

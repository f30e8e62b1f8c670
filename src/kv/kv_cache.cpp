#include "kv/kv_cache.h"

#include <algorithm>
#include <cstring>

#include "util/error.h"
#include "util/half.h"

namespace tc {

void kv_row_to_f32(DType dtype, const uint8_t* row, float* out, int n) {
  switch (dtype) {
    case DType::F32:
      std::memcpy(out, row, size_t(n) * 4);
      return;
    case DType::F16: {
      const uint16_t* h = reinterpret_cast<const uint16_t*>(row);
      for (int i = 0; i < n; ++i) out[i] = f16_to_f32(h[i]);
      return;
    }
    case DType::BF16: {
      const uint16_t* h = reinterpret_cast<const uint16_t*>(row);
      for (int i = 0; i < n; ++i) out[i] = bf16_to_f32(h[i]);
      return;
    }
    default:
      TC_THROW("KV cache dtype %s is not supported", dtype_name(dtype));
  }
}

void kv_row_from_f32(DType dtype, const float* in, uint8_t* row, int n) {
  switch (dtype) {
    case DType::F32:
      std::memcpy(row, in, size_t(n) * 4);
      return;
    case DType::F16: {
      uint16_t* h = reinterpret_cast<uint16_t*>(row);
      for (int i = 0; i < n; ++i) h[i] = f32_to_f16(in[i]);
      return;
    }
    case DType::BF16: {
      uint16_t* h = reinterpret_cast<uint16_t*>(row);
      for (int i = 0; i < n; ++i) h[i] = f32_to_bf16(in[i]);
      return;
    }
    default:
      TC_THROW("KV cache dtype %s is not supported", dtype_name(dtype));
  }
}

KvCache::KvCache(const KvCacheShape& shape, const KvCacheOptions& options) : shape_(shape), options_(options) {
  TC_CHECK_ARG(shape.n_layers > 0 && shape.n_heads > 0 && shape.n_kv_heads > 0 && shape.head_dim > 0,
               "KV cache: invalid shape (%d layers, %d heads, %d KV heads, head_dim %d)", shape.n_layers,
               shape.n_heads, shape.n_kv_heads, shape.head_dim);
  TC_CHECK_ARG(shape.n_heads % shape.n_kv_heads == 0, "KV cache: %d query heads is not a multiple of %d KV heads",
               shape.n_heads, shape.n_kv_heads);
  TC_CHECK_ARG(options.capacity > 0, "KV cache: capacity must be positive, got %d", options.capacity);
  TC_CHECK_ARG(options.dtype == DType::F16 || options.dtype == DType::BF16 || options.dtype == DType::F32,
               "KV cache: dtype must be f16, bf16 or f32, got %s", dtype_name(options.dtype));
  n_store_heads_ = options.layout == KvLayout::Gqa ? shape.n_kv_heads : shape.n_heads;
  row_bytes_ = dtype_row_bytes(options.dtype, shape.head_dim);
  size_t slots = size_t(shape.n_layers) * n_store_heads_ * size_t(options.capacity);
  k_.assign(slots * row_bytes_, 0);
  v_.assign(slots * row_bytes_, 0);
  pos_.assign(slots, -1);
  size_.assign(size_t(shape.n_layers) * n_store_heads_, 0);
  scratch_.resize(size_t(options.capacity) * row_bytes_);
}

int KvCache::kv_head_of_store(int store_head) const {
  if (options_.layout == KvLayout::Gqa) return store_head;
  return store_head / (shape_.n_heads / shape_.n_kv_heads);
}

int KvCache::max_size() const { return size_.empty() ? 0 : *std::max_element(size_.begin(), size_.end()); }
int KvCache::min_size() const { return size_.empty() ? 0 : *std::min_element(size_.begin(), size_.end()); }
int64_t KvCache::live_slots() const {
  int64_t s = 0;
  for (int n : size_) s += n;
  return s;
}

void KvCache::read_k(int layer, int head, int slot, float* out) const {
  kv_row_to_f32(options_.dtype, k_.data() + row_offset(layer, head, slot), out, shape_.head_dim);
}
void KvCache::read_v(int layer, int head, int slot, float* out) const {
  kv_row_to_f32(options_.dtype, v_.data() + row_offset(layer, head, slot), out, shape_.head_dim);
}

void KvCache::append(int layer, int n, const float* k, const float* v, const int32_t* pos) {
  TC_ASSERT(layer >= 0 && layer < shape_.n_layers && n >= 0);
  const int d = shape_.head_dim;
  for (int h = 0; h < n_store_heads_; ++h) {
    int& sz = size_[index(layer, h)];
    if (sz + n > options_.capacity)
      TC_THROW("KV cache full: layer %d head %d holds %d of %d slots and cannot take %d more (the eviction schedule "
               "should have made room)", layer, h, sz, options_.capacity, n);
    int kvh = kv_head_of_store(h);
    for (int t = 0; t < n; ++t) {
      size_t src = (size_t(t) * shape_.n_kv_heads + kvh) * d;
      kv_row_from_f32(options_.dtype, k + src, k_.data() + row_offset(layer, h, sz + t), d);
      kv_row_from_f32(options_.dtype, v + src, v_.data() + row_offset(layer, h, sz + t), d);
      pos_[slot_offset(layer, h) + sz + t] = pos[t];
    }
    // Fresh slots start with zeroed policy state.
    for (auto& ch : channels_) std::memset(ch.data.data() + slot_offset(layer, h) + sz, 0, size_t(n) * 4);
    sz += n;
  }
}

void KvCache::check_slots(const char* op, int layer, int head, const int32_t* slots, int n) const {
  TC_ASSERT(layer >= 0 && layer < shape_.n_layers && head >= 0 && head < n_store_heads_);
  int sz = size_[index(layer, head)];
  TC_CHECK_ARG(n >= 0 && n <= sz, "KV cache %s: %d slots listed but layer %d head %d holds %d", op, n, layer, head, sz);
  std::vector<char> seen(size_t(sz), 0);
  for (int i = 0; i < n; ++i) {
    TC_CHECK_ARG(slots[i] >= 0 && slots[i] < sz, "KV cache %s: slot %d out of range [0, %d)", op, slots[i], sz);
    TC_CHECK_ARG(!seen[slots[i]], "KV cache %s: slot %d listed twice", op, slots[i]);
    seen[slots[i]] = 1;
  }
}

void KvCache::retain(int layer, int head, const int32_t* keep, int n_keep) {
  check_slots("retain", layer, head, keep, n_keep);
  const size_t base = slot_offset(layer, head);
  int old_size = size_[index(layer, head)];
  for (auto* buf : {&k_, &v_}) {
    uint8_t* rows = buf->data() + base * row_bytes_;
    for (int i = 0; i < n_keep; ++i) std::memcpy(scratch_.data() + size_t(i) * row_bytes_, rows + size_t(keep[i]) * row_bytes_, row_bytes_);
    std::memcpy(rows, scratch_.data(), size_t(n_keep) * row_bytes_);
  }
  std::vector<uint32_t> tmp(static_cast<size_t>(n_keep));
  {
    int32_t* p = pos_.data() + base;
    for (int i = 0; i < n_keep; ++i) tmp[i] = uint32_t(p[keep[i]]);
    for (int i = 0; i < n_keep; ++i) p[i] = int32_t(tmp[i]);
  }
  for (auto& ch : channels_) {
    uint32_t* c = ch.data.data() + base;
    for (int i = 0; i < n_keep; ++i) tmp[i] = c[keep[i]];
    std::memcpy(c, tmp.data(), size_t(n_keep) * 4);
  }
  size_[index(layer, head)] = n_keep;
  slots_evicted_ += old_size - n_keep;
}

void KvCache::move_slot(int layer, int head, int from, int to) {
  const size_t base = slot_offset(layer, head);
  std::memcpy(k_.data() + (base + to) * row_bytes_, k_.data() + (base + from) * row_bytes_, row_bytes_);
  std::memcpy(v_.data() + (base + to) * row_bytes_, v_.data() + (base + from) * row_bytes_, row_bytes_);
  pos_[base + to] = pos_[base + from];
  for (auto& ch : channels_) ch.data[base + to] = ch.data[base + from];
}

void KvCache::remove(int layer, int head, const int32_t* drop, int n_drop) {
  check_slots("remove", layer, head, drop, n_drop);
  int sz = size_[index(layer, head)];
  int new_size = sz - n_drop;
  std::vector<char> dropped(size_t(sz), 0);
  for (int i = 0; i < n_drop; ++i) dropped[drop[i]] = 1;
  // Pair holes below new_size (ascending) with survivors at or above it (ascending).
  int src = new_size;
  for (int hole = 0; hole < new_size; ++hole) {
    if (!dropped[hole]) continue;
    while (dropped[src]) ++src;
    move_slot(layer, head, src, hole);
    ++src;
  }
  size_[index(layer, head)] = new_size;
  slots_evicted_ += n_drop;
}

void KvCache::clear() {
  std::fill(size_.begin(), size_.end(), 0);
  std::fill(pos_.begin(), pos_.end(), -1);
  slots_evicted_ = 0;
}

int KvCache::add_channel(const std::string& name, ChannelType type) {
  TC_CHECK_ARG(find_channel(name) < 0, "KV cache: channel %s already exists", name.c_str());
  Channel ch;
  ch.name = name;
  ch.type = type;
  ch.data.assign(pos_.size(), 0);
  channels_.push_back(std::move(ch));
  return int(channels_.size()) - 1;
}

int KvCache::find_channel(const std::string& name) const {
  for (size_t i = 0; i < channels_.size(); ++i)
    if (channels_[i].name == name) return int(i);
  return -1;
}

float* KvCache::channel_f32(int channel, int layer, int head) {
  TC_ASSERT(channel >= 0 && channel < int(channels_.size()) && channels_[channel].type == ChannelType::F32);
  return reinterpret_cast<float*>(channels_[channel].data.data() + slot_offset(layer, head));
}
const float* KvCache::channel_f32(int channel, int layer, int head) const {
  TC_ASSERT(channel >= 0 && channel < int(channels_.size()) && channels_[channel].type == ChannelType::F32);
  return reinterpret_cast<const float*>(channels_[channel].data.data() + slot_offset(layer, head));
}
int32_t* KvCache::channel_i32(int channel, int layer, int head) {
  TC_ASSERT(channel >= 0 && channel < int(channels_.size()) && channels_[channel].type == ChannelType::I32);
  return reinterpret_cast<int32_t*>(channels_[channel].data.data() + slot_offset(layer, head));
}
const int32_t* KvCache::channel_i32(int channel, int layer, int head) const {
  TC_ASSERT(channel >= 0 && channel < int(channels_.size()) && channels_[channel].type == ChannelType::I32);
  return reinterpret_cast<const int32_t*>(channels_[channel].data.data() + slot_offset(layer, head));
}

size_t KvCache::state_bytes_allocated() const {
  size_t b = pos_.size() * 4;
  for (auto& ch : channels_) b += ch.data.size() * 4;
  return b;
}

}  // namespace tc

#include "kv/query_window.h"

#include <algorithm>
#include <cstring>

#include "util/error.h"

namespace tc {

void QueryWindow::reset(int n_layers, int n_heads, int head_dim, int window) {
  TC_ASSERT(n_layers > 0 && n_heads > 0 && head_dim > 0 && window > 0);
  n_heads_ = n_heads;
  head_dim_ = head_dim;
  window_ = window;
  data_.assign(size_t(n_layers) * window * n_heads * head_dim, 0.0f);
  pos_.assign(size_t(n_layers) * window, -1);
  next_.assign(size_t(n_layers), 0);
  count_.assign(size_t(n_layers), 0);
}

void QueryWindow::clear() {
  std::fill(next_.begin(), next_.end(), 0);
  std::fill(count_.begin(), count_.end(), 0);
}

void QueryWindow::push(int layer, const float* q, int n_tokens, int64_t first_pos) {
  TC_ASSERT(layer >= 0 && layer < int(count_.size()) && n_tokens >= 0);
  const size_t row = size_t(n_heads_) * head_dim_;
  for (int t = std::max(0, n_tokens - window_); t < n_tokens; ++t) {
    int slot = next_[layer];
    std::memcpy(data_.data() + (size_t(layer) * window_ + slot) * row, q + size_t(t) * row, row * sizeof(float));
    pos_[size_t(layer) * window_ + slot] = first_pos + t;
    next_[layer] = (slot + 1) % window_;
    count_[layer] = std::min(window_, count_[layer] + 1);
  }
}

const float* QueryWindow::query(int layer, int j, int head) const {
  TC_ASSERT(j >= 0 && j < count_[layer] && head >= 0 && head < n_heads_);
  return data_.data() + ((size_t(layer) * window_ + ring_index(layer, j)) * n_heads_ + head) * head_dim_;
}

int64_t QueryWindow::position(int layer, int j) const {
  TC_ASSERT(j >= 0 && j < count_[layer]);
  return pos_[size_t(layer) * window_ + ring_index(layer, j)];
}

void QueryWindow::gather(int layer, int head, float* out) const {
  for (int j = 0; j < count_[layer]; ++j)
    std::memcpy(out + size_t(j) * head_dim_, query(layer, j, head), size_t(head_dim_) * sizeof(float));
}

}  // namespace tc

// The last `window` post-RoPE queries of every layer, kept by policies that score with a
// window of queries at eviction time (VaSE, SnapKV, R-KV) instead of asking the attention
// kernel for probabilities every step. Fed from KvPolicy::on_queries.
#pragma once

#include <cstdint>
#include <vector>

namespace tc {

class QueryWindow {
 public:
  void reset(int n_layers, int n_heads, int head_dim, int window);
  void clear();  // forgets every query (a new sequence)

  // Records the last min(n_tokens, window) queries of a call; token i has position first_pos + i.
  // q: [n_tokens][n_heads][head_dim]
  void push(int layer, const float* q, int n_tokens, int64_t first_pos);

  int window() const { return window_; }
  int count(int layer) const { return count_[layer]; }  // min(window, queries pushed)
  // Query j (0 = oldest kept) of query head h. [head_dim]
  const float* query(int layer, int j, int head) const;
  int64_t position(int layer, int j) const;
  // Gathers every kept query of head h, oldest first. out: [count][head_dim]
  void gather(int layer, int head, float* out) const;

 private:
  int ring_index(int layer, int j) const { return (next_[layer] - count_[layer] + j + window_) % window_; }

  int n_heads_ = 0, head_dim_ = 0, window_ = 0;
  std::vector<float> data_;      // [n_layers][window][n_heads][head_dim]
  std::vector<int64_t> pos_;     // [n_layers][window]
  std::vector<int> next_;        // [n_layers] ring write index
  std::vector<int> count_;       // [n_layers]
};

}  // namespace tc

// TEST AND BENCHMARK ONLY (header-only; not part of the library): drives a KvPolicy through
// the hook contract of kv/policy.h exactly as the engine does, with a real KvCache and
// cpu::attention, on synthetic queries/keys/values instead of a model. Token data is a
// pure function of (seed, layer, position), so a run with a policy and a run with `full`
// see the same tokens and their attention outputs can be compared bit for bit.
#pragma once

#include <chrono>
#include <ctime>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "backend/cpu/ops.h"
#include "kv/kv_cache.h"
#include "kv/policy.h"
#include "util/error.h"
#include "util/rng.h"
#include "util/thread_pool.h"

namespace tc::testing {

struct DriverSpec {
  KvCacheShape shape{2, 4, 2, 16};
  DType dtype = DType::F32;
  int prompt_tokens = 32;
  int max_new_tokens = 64;
  int prefill_chunk = 0;       // tokens per prefill call; 0 = the whole prompt at once
  uint64_t data_seed = 1;
  float qk_std = 1.2f;         // std of q and k entries: logits have std ≈ qk_std²
  double value_outlier_rate = 0.05;  // share of tokens whose values are scaled by value_outlier_gain
  float value_outlier_gain = 8.0f;
  // Benchmarks: > 0 draws every token from this many pre-generated tokens (cheap), so the
  // data generation does not dominate the measured step. 0: every (layer, position) has
  // its own token (the tests' K/V byte checks need that).
  int token_pool = 0;
  // Also time the attention and every policy hook with this thread's CPU clock (benchmarks
  // on a shared machine: preemption does not count). Costs ~1 µs per hook call.
  bool cpu_clock = false;
};

// CPU time of the calling thread, in seconds.
inline double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// Synthetic post-RoPE q/k/v for (layer, position).
class TokenSource {
 public:
  explicit TokenSource(const DriverSpec& s) : s_(s) {
    if (s.token_pool <= 0) return;
    const size_t nq = size_t(s.shape.n_heads) * s.shape.head_dim, nkv = size_t(s.shape.n_kv_heads) * s.shape.head_dim;
    pool_q_.resize(size_t(s.token_pool) * nq);
    pool_k_.resize(size_t(s.token_pool) * nkv);
    pool_v_.resize(size_t(s.token_pool) * nkv);
    for (int i = 0; i < s.token_pool; ++i) {
      generate_query(0, i, pool_q_.data() + i * nq);
      generate_key_value(0, i, pool_k_.data() + i * nkv, pool_v_.data() + i * nkv);
    }
  }

  // q: [n_heads][head_dim]
  void query(int layer, int64_t pos, float* q) const {
    if (s_.token_pool <= 0) return generate_query(layer, pos, q);
    const size_t nq = size_t(s_.shape.n_heads) * s_.shape.head_dim;
    std::memcpy(q, pool_q_.data() + pool_index(layer, pos) * nq, nq * sizeof(float));
  }
  // k, v: [n_kv_heads][head_dim]
  void key_value(int layer, int64_t pos, float* k, float* v) const {
    if (s_.token_pool <= 0) return generate_key_value(layer, pos, k, v);
    const size_t nkv = size_t(s_.shape.n_kv_heads) * s_.shape.head_dim, i = pool_index(layer, pos);
    std::memcpy(k, pool_k_.data() + i * nkv, nkv * sizeof(float));
    std::memcpy(v, pool_v_.data() + i * nkv, nkv * sizeof(float));
  }

 private:
  void generate_query(int layer, int64_t pos, float* q) const {
    Rng rng = stream(layer, pos, 0);
    const int n = s_.shape.n_heads * s_.shape.head_dim;
    for (int i = 0; i < n; ++i) q[i] = float(rng.normal()) * s_.qk_std;
  }
  void generate_key_value(int layer, int64_t pos, float* k, float* v) const {
    Rng rng = stream(layer, pos, 1);
    const int n = s_.shape.n_kv_heads * s_.shape.head_dim;
    for (int i = 0; i < n; ++i) k[i] = float(rng.normal()) * s_.qk_std;
    float gain = rng.uniform() < s_.value_outlier_rate ? s_.value_outlier_gain : 1.0f;
    for (int i = 0; i < n; ++i) v[i] = float(rng.normal()) * gain;
  }
  size_t pool_index(int layer, int64_t pos) const {
    return size_t((uint64_t(pos) * 0x9E3779B1u + uint64_t(layer) * 7919u) % uint64_t(s_.token_pool));
  }

  Rng stream(int layer, int64_t pos, uint64_t kind) const {
    return Rng::derive(s_.data_seed, (uint64_t(layer) << 48) ^ (uint64_t(pos) << 2) ^ kind);
  }
  DriverSpec s_;
  std::vector<float> pool_q_, pool_k_, pool_v_;  // [token_pool][...] pre-generated tokens
};

// A one-thread pool: the tests' tiny attention calls are faster serial than woken up on
// a busy machine. Benchmarks pass ThreadPool::global().
inline ThreadPool& serial_pool() {
  static ThreadPool pool(1);
  return pool;
}

class PolicyDriver {
 public:
  PolicyDriver(const DriverSpec& spec, std::unique_ptr<KvPolicy> policy, ThreadPool& pool = serial_pool())
      : spec_(spec), tokens_(spec), policy_(std::move(policy)), pool_(pool) {
    KvCacheOptions o;
    o.capacity = policy_->capacity_for(spec.prompt_tokens, spec.max_new_tokens);
    o.dtype = spec.dtype;
    o.layout = policy_->layout();
    cache_ = std::make_unique<KvCache>(spec.shape, o);
    policy_->attach(*cache_);
    const int h = spec.shape.n_heads, d = spec.shape.head_dim;
    outputs_.assign(size_t(spec.shape.n_layers), std::vector<float>(size_t(h) * d, 0.0f));
    probs_.assign(size_t(h) * o.capacity, 0.0f);
    colsum_.assign(size_t(h) * o.capacity, 0.0f);
  }

  // Runs the prompt (in chunks if asked), then end_prefill.
  void prefill() {
    TC_ASSERT(total_ == 0);
    const int p = spec_.prompt_tokens;
    const int chunk = spec_.prefill_chunk > 0 ? spec_.prefill_chunk : p;
    for (int first = 0; first < p; first += chunk) forward(true, first, std::min(chunk, p - first));
    ForwardInfo info;
    info.is_prefill = true;
    info.n_tokens = p;
    info.total_tokens = p;
    timed_policy([&] { policy_->end_prefill(info); });
  }

  // One decode step (t = 1, 2, ...).
  void decode() {
    ++step_;
    forward(false, total_, 1);
  }

  KvCache& cache() { return *cache_; }
  KvPolicy& policy() { return *policy_; }
  const TokenSource& tokens() const { return tokens_; }
  int64_t step() const { return step_; }
  int64_t total_tokens() const { return total_; }
  double attention_seconds() const { return attention_seconds_; }
  // With DriverSpec::cpu_clock: thread CPU seconds in cpu::attention and in the policy's hooks.
  double attention_cpu_seconds() const { return attention_cpu_; }
  double policy_cpu_seconds() const { return policy_cpu_; }
  // The last forward's output for its last query. [n_heads][head_dim]
  const std::vector<float>& output(int layer) const { return outputs_[layer]; }
  // Live-slot count of every (layer, store head) right after the last append (before eviction).
  int size_before_eviction() const { return size_before_eviction_; }

 private:
  template <typename F>
  void timed_policy(F&& f) {
    if (!spec_.cpu_clock) return f();
    double t0 = thread_cpu_seconds();
    f();
    policy_cpu_ += thread_cpu_seconds() - t0;
  }

  void forward(bool is_prefill, int64_t first_pos, int n) {
    const KvCacheShape& s = spec_.shape;
    const int h = s.n_heads, kvh = s.n_kv_heads, d = s.head_dim;
    ForwardInfo info;
    info.is_prefill = is_prefill;
    info.n_tokens = n;
    info.step = is_prefill ? 0 : step_;
    info.first_pos = first_pos;
    info.total_tokens = first_pos + n;
    timed_policy([&] { policy_->begin_forward(info); });
    const AttentionNeeds needs = policy_->needs();
    // q: [n][h][d]; k, v: [n][kvh][d]; out: [n][h][d]
    std::vector<float> q(size_t(n) * h * d), k(size_t(n) * kvh * d), v(k.size()), out(q.size());
    std::vector<int32_t> pos(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) pos[i] = int32_t(first_pos + i);
    const int stride = cache_->capacity();
    size_before_eviction_ = 0;
    for (int layer = 0; layer < s.n_layers; ++layer) {
      for (int i = 0; i < n; ++i) {
        tokens_.query(layer, first_pos + i, q.data() + size_t(i) * h * d);
        tokens_.key_value(layer, first_pos + i, k.data() + size_t(i) * kvh * d, v.data() + size_t(i) * kvh * d);
      }
      timed_policy([&] { policy_->on_queries(layer, q.data(), n); });
      cache_->append(layer, n, k.data(), v.data(), pos.data());
      timed_policy([&] { policy_->on_append(layer, n); });
      size_before_eviction_ = std::max(size_before_eviction_, cache_->max_size());
      float* probs = needs.current_probs ? probs_.data() : nullptr;
      float* colsum = needs.prob_colsum ? colsum_.data() : nullptr;
      if (colsum) std::fill(colsum_.begin(), colsum_.end(), 0.0f);
      auto t0 = std::chrono::steady_clock::now();
      double c0 = spec_.cpu_clock ? thread_cpu_seconds() : 0;
      cpu::attention(q.data(), n, pos.data(), *cache_, layer, float(1.0 / std::sqrt(double(d))), out.data(), probs,
                     colsum, stride, pool_);
      if (spec_.cpu_clock) attention_cpu_ += thread_cpu_seconds() - c0;
      attention_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      AttentionStats st;
      st.layer = layer;
      st.n_heads = h;
      st.stride = stride;
      st.probs = probs;
      st.colsum = colsum;
      timed_policy([&] { policy_->on_attention(st); });
      std::memcpy(outputs_[layer].data(), out.data() + size_t(n - 1) * h * d, size_t(h) * d * sizeof(float));
    }
    total_ = first_pos + n;
    timed_policy([&] { policy_->end_forward(info); });
  }

  DriverSpec spec_;
  TokenSource tokens_;
  std::unique_ptr<KvPolicy> policy_;
  ThreadPool& pool_;
  std::unique_ptr<KvCache> cache_;
  std::vector<std::vector<float>> outputs_;  // [n_layers][n_heads * head_dim]
  std::vector<float> probs_, colsum_;        // [n_heads][capacity]
  int64_t step_ = 0;
  int64_t total_ = 0;
  int size_before_eviction_ = 0;
  double attention_seconds_ = 0;
  double attention_cpu_ = 0, policy_cpu_ = 0;
};

}  // namespace tc::testing

#include "kv/policy_select.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "util/error.h"

namespace tc {

namespace {

// Sort key for "descending value, NaN last, ties by ascending index".
template <typename T>
struct Desc {
  const T* key;
  bool operator()(int32_t a, int32_t b) const {
    T x = key[a], y = key[b];
    bool xn = std::isnan(x), yn = std::isnan(y);
    if (xn != yn) return yn;  // the non-NaN one first
    if (!xn && x != y) return x > y;
    return a < b;
  }
};

template <typename T>
void top_k_by(const T* key, int n, int k, std::vector<int32_t>& out) {
  TC_ASSERT(k >= 0 && k <= n);
  std::vector<int32_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  Desc<T> cmp{key};
  if (k < n) std::nth_element(idx.begin(), idx.begin() + k, idx.end(), cmp);
  idx.resize(size_t(k));
  std::sort(idx.begin(), idx.end(), cmp);
  out = std::move(idx);
}

}  // namespace

void select_top_k(const float* scores, int n, int k, std::vector<int32_t>& out) { top_k_by(scores, n, k, out); }

void select_gumbel_top_k(const float* weights, int n, int k, Rng& rng, std::vector<int32_t>& out) {
  // keys: [n] log(u_i) / w_i with u_i uniform in (0, 1), in double. With E_i = −log(u_i)/w_i
  // (an Exp(w_i) variable), the Gumbel key log w_i − log(−log u_i) equals −log E_i and this
  // key equals −E_i: both decrease in E_i, so they sort items identically — the Gumbel-top-k
  // order at one logarithm per item (Efraimidis-Spirakis). One uniform per item in index
  // order, so the stream is reproducible whatever the weights.
  std::vector<double> keys(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    double u = rng.uniform_open();
    float w = weights[i];
    keys[i] = (w > 0) ? std::log(u) / double(w) : -std::numeric_limits<double>::infinity();
  }
  top_k_by(keys.data(), n, k, out);
}

void select_uniform(int n, int k, Rng& rng, std::vector<int32_t>& out) {
  TC_ASSERT(k >= 0 && k <= n);
  // Partial Fisher-Yates: the first k entries are a uniform ordered sample.
  std::vector<int32_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  for (int i = 0; i < k; ++i) std::swap(idx[i], idx[i + rng.below(uint64_t(n - i))]);
  idx.resize(size_t(k));
  out = std::move(idx);
}

void select_bottom_k(const float* scores, const int32_t* tie_key, int n, int k, std::vector<int32_t>& out) {
  TC_ASSERT(k >= 0 && k <= n);
  auto less = [&](int32_t a, int32_t b) {
    float x = scores[a], y = scores[b];
    bool xn = std::isnan(x), yn = std::isnan(y);
    if (xn != yn) return xn;  // NaN scores go first (they carry no evidence to keep the token)
    if (!xn && x != y) return x < y;
    if (tie_key[a] != tie_key[b]) return tie_key[a] < tie_key[b];
    return a < b;
  };
  out.clear();
  if (k == 0) return;
  if (k == 1) {
    int32_t best = 0;
    for (int32_t i = 1; i < n; ++i)
      if (less(i, best)) best = i;
    out.push_back(best);
    return;
  }
  std::vector<int32_t> idx(static_cast<size_t>(n));
  std::iota(idx.begin(), idx.end(), 0);
  if (k < n) std::nth_element(idx.begin(), idx.begin() + k, idx.end(), less);
  idx.resize(size_t(k));
  std::sort(idx.begin(), idx.end(), less);
  out = std::move(idx);
}

}  // namespace tc

#include "kv/policy_select.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <limits>
#include <numeric>

#include "util/error.h"

namespace tc {

namespace {

// Order-preserving unsigned image of a float or double, reversed: a larger value gets a
// smaller code, so an ascending stable sort of codes gives descending values with equal
// values in their original (index) order. -0 and +0 compare equal, so they share a code.
template <typename T, typename U>
U descending_code(T v) {
  if (v == T(0)) v = T(0);
  U bits;
  std::memcpy(&bits, &v, sizeof bits);
  const U sign = U(1) << (sizeof(U) * 8 - 1);
  const U ascending = (bits & sign) ? U(~bits) : U(bits | sign);
  return U(~ascending);
}

template <typename U>
struct CodedItem {
  U code;
  int32_t index;
};

// Stable LSD radix sort on the codes, 8 bits per pass; passes where every item has the same
// digit are skipped. items: [n], tmp: scratch.
template <typename U>
void radix_sort(std::vector<CodedItem<U>>& items, std::vector<CodedItem<U>>& tmp) {
  constexpr int kDigits = int(sizeof(U));
  const size_t n = items.size();
  uint32_t count[kDigits][256] = {};
  for (const CodedItem<U>& it : items)
    for (int d = 0; d < kDigits; ++d) ++count[d][(it.code >> (8 * d)) & 0xff];
  tmp.resize(n);
  for (int d = 0; d < kDigits; ++d) {
    uint32_t* c = count[d];
    if (c[(items[0].code >> (8 * d)) & 0xff] == n) continue;  // one digit value: nothing to reorder
    uint32_t offset = 0;
    for (int b = 0; b < 256; ++b) {
      const uint32_t k = c[b];
      c[b] = offset;
      offset += k;
    }
    for (const CodedItem<U>& it : items) tmp[c[(it.code >> (8 * d)) & 0xff]++] = it;
    items.swap(tmp);
  }
}

// Top k by "descending value, NaN last, ties by ascending index". A radix sort of all n
// (value, index) codes: linear, and several times faster than comparison sorting for the
// thousands of candidates of one eviction. NaN keys are set aside in index order and come
// after every number.
template <typename T>
void top_k_by(const T* key, int n, int k, std::vector<int32_t>& out) {
  TC_ASSERT(k >= 0 && k <= n);
  using U = std::conditional_t<sizeof(T) == 8, uint64_t, uint32_t>;
  thread_local std::vector<CodedItem<U>> items, tmp;
  thread_local std::vector<int32_t> nans;
  items.clear();
  nans.clear();
  out.resize(size_t(k));
  if (k == 0) return;
  items.reserve(size_t(n));
  for (int i = 0; i < n; ++i) {
    if (std::isnan(key[i]))
      nans.push_back(i);
    else
      items.push_back({descending_code<T, U>(key[i]), i});
  }
  if (!items.empty()) radix_sort(items, tmp);
  const int from_items = std::min(k, int(items.size()));
  for (int j = 0; j < from_items; ++j) out[j] = items[j].index;
  for (int j = from_items; j < k; ++j) out[j] = nans[size_t(j - from_items)];
}

}  // namespace

void select_top_k(const float* scores, int n, int k, std::vector<int32_t>& out) { top_k_by(scores, n, k, out); }

void select_gumbel_top_k(const float* weights, int n, int k, Rng& rng, std::vector<int32_t>& out) {
  // keys: [n] log(u_i) / w_i with u_i uniform in (0, 1), in double. With E_i = −log(u_i)/w_i
  // (an Exp(w_i) variable), the Gumbel key log w_i − log(−log u_i) equals −log E_i and this
  // key equals −E_i: both decrease in E_i, so they sort items identically — the Gumbel-top-k
  // order at one logarithm per item (Efraimidis-Spirakis). One uniform per item in index
  // order, so the stream is reproducible whatever the weights.
  thread_local std::vector<double> keys;
  keys.resize(size_t(n));
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

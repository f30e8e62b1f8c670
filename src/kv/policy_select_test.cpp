// Selectors: deterministic top-k order, and Gumbel-top-k against the exact distribution of
// successive weighted sampling without replacement (what torch.multinomial(replacement=False)
// draws), enumerated for a small case.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <vector>

#include "kv/policy_select.h"
#include "util/rng.h"
#include "util/testing.h"

using namespace tc;

TC_TEST(select_top_k_orders_descending_with_index_ties_and_nan_last) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> s = {0.5f, nan, 2.0f, 0.5f, -1.0f, 2.0f};
  std::vector<int32_t> out;
  select_top_k(s.data(), 6, 4, out);
  TC_EXPECT(out == (std::vector<int32_t>{2, 5, 0, 3}));
  select_top_k(s.data(), 6, 6, out);
  TC_EXPECT(out == (std::vector<int32_t>{2, 5, 0, 3, 4, 1}));
  select_top_k(s.data(), 6, 0, out);
  TC_EXPECT(out.empty());
}

TC_TEST(select_top_k_equals_a_comparison_sort_on_hard_inputs) {
  // Oracle: std::stable_sort of the indices by the documented order (descending, NaN last,
  // ties by ascending index), on inputs with many ties, signed zeros, infinities, NaN,
  // subnormals and negative values, for several n and k.
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const float specials[] = {0.0f, -0.0f, inf, -inf, nan, 1e-40f, -1e-40f, 1.0f, -1.0f, 3.5f};
  Rng rng(11);
  for (int n : {1, 2, 7, 63, 64, 65, 300, 2048}) {
    for (int trial = 0; trial < 4; ++trial) {
      std::vector<float> s(static_cast<size_t>(n));
      for (auto& x : s) {
        const double u = rng.uniform();
        x = u < 0.3 ? specials[rng.below(10)] : u < 0.6 ? float(int(rng.below(5)) - 2) : float(rng.normal() * 1e3);
      }
      std::vector<int32_t> ref(static_cast<size_t>(n));
      for (int i = 0; i < n; ++i) ref[i] = i;
      std::stable_sort(ref.begin(), ref.end(), [&](int32_t a, int32_t b) {
        const bool an = std::isnan(s[a]), bn = std::isnan(s[b]);
        if (an != bn) return bn;
        return !an && s[a] > s[b];
      });
      for (int k : {0, 1, n / 3, n - 1, n}) {
        if (k < 0) continue;
        std::vector<int32_t> out;
        select_top_k(s.data(), n, k, out);
        TC_EXPECT(out == std::vector<int32_t>(ref.begin(), ref.begin() + k));
      }
    }
  }
}

TC_TEST(select_bottom_k_breaks_ties_by_tie_key) {
  std::vector<float> s = {3, 1, 1, 0, 5};
  std::vector<int32_t> tie = {10, 7, 2, 9, 1};
  std::vector<int32_t> out;
  select_bottom_k(s.data(), tie.data(), 5, 1, out);
  TC_EXPECT(out == (std::vector<int32_t>{3}));
  select_bottom_k(s.data(), tie.data(), 5, 3, out);
  TC_EXPECT(out == (std::vector<int32_t>{3, 2, 1}));  // the two 1s: tie key 2 before 7
}

namespace {
// Exact probability of drawing the ordered sequence `seq` by successive weighted draws
// without replacement.
double sequence_probability(const std::vector<double>& w, const std::vector<int>& seq) {
  double remaining = 0;
  for (double x : w) remaining += x;
  double p = 1;
  for (int i : seq) {
    p *= w[i] / remaining;
    remaining -= w[i];
  }
  return p;
}
}  // namespace

TC_TEST(select_gumbel_top_k_matches_sequential_sampling_without_replacement) {
  const std::vector<double> w = {0.5, 0.2, 0.15, 0.1, 0.05};
  const std::vector<float> wf(w.begin(), w.end());
  const int n = 5, k = 3, draws = 200000;
  // Exact law of the ordered draw (Plackett-Luce), by enumeration: 5·4·3 = 60 sequences.
  std::map<std::vector<int>, double> exact;
  double total = 0;
  for (int a = 0; a < n; ++a)
    for (int b = 0; b < n; ++b)
      for (int c = 0; c < n; ++c) {
        if (a == b || a == c || b == c) continue;
        std::vector<int> seq = {a, b, c};
        exact[seq] = sequence_probability(w, seq);
        total += exact[seq];
      }
  TC_REQUIRE(std::fabs(total - 1.0) < 1e-12);
  std::vector<double> inclusion(n, 0.0);
  for (auto& [seq, p] : exact)
    for (int i : seq) inclusion[i] += p;

  Rng rng(12345);
  std::map<std::vector<int>, int> counts;
  std::vector<int> included(n, 0);
  std::vector<int32_t> out;
  for (int t = 0; t < draws; ++t) {
    select_gumbel_top_k(wf.data(), n, k, rng, out);
    std::vector<int> seq(out.begin(), out.end());
    ++counts[seq];
    for (int i : seq) ++included[i];
  }
  // Pearson chi-square over the 60 ordered outcomes; df = 59, critical value at p = 1e-4 is 108.2.
  double chi2 = 0;
  for (auto& [seq, p] : exact) {
    double e = p * draws;
    double o = counts.count(seq) ? counts[seq] : 0;
    chi2 += (o - e) * (o - e) / e;
  }
  TC_EXPECT(chi2 < 108.2);
  TC_EXPECT_EQ(counts.size(), exact.size());  // nothing outside the support
  // Inclusion frequencies within 5 binomial standard deviations.
  for (int i = 0; i < n; ++i) {
    double p = inclusion[i], f = double(included[i]) / draws;
    TC_EXPECT_NEAR(f, p, 5 * std::sqrt(p * (1 - p) / draws));
  }
}

TC_TEST(select_gumbel_top_k_zero_weights_come_last_in_index_order_and_seed_reproduces) {
  std::vector<float> w = {0.0f, 1.0f, 0.0f, 2.0f, -1.0f};
  Rng rng(7);
  std::vector<int32_t> out;
  for (int t = 0; t < 100; ++t) {
    select_gumbel_top_k(w.data(), 5, 4, rng, out);
    TC_REQUIRE(out.size() == 4u);
    TC_EXPECT((out[0] == 1 && out[1] == 3) || (out[0] == 3 && out[1] == 1));
    TC_EXPECT(out[2] == 0 && out[3] == 2);
  }
  std::vector<float> u(50, 1.0f);
  Rng a(99), b(99), c(100);
  std::vector<int32_t> oa, ob, oc;
  select_gumbel_top_k(u.data(), 50, 10, a, oa);
  select_gumbel_top_k(u.data(), 50, 10, b, ob);
  select_gumbel_top_k(u.data(), 50, 10, c, oc);
  TC_EXPECT(oa == ob);
  TC_EXPECT(oa != oc);
}

TC_TEST(select_uniform_is_uniform_over_ordered_pairs) {
  const int n = 6, k = 2, draws = 60000;
  Rng rng(3);
  std::map<std::pair<int, int>, int> counts;
  std::vector<int32_t> out;
  for (int t = 0; t < draws; ++t) {
    select_uniform(n, k, rng, out);
    TC_REQUIRE(out[0] != out[1]);
    ++counts[{out[0], out[1]}];
  }
  TC_EXPECT_EQ(counts.size(), size_t(30));
  double e = double(draws) / 30, chi2 = 0;
  for (auto& [pair, o] : counts) chi2 += (o - e) * (o - e) / e;
  TC_EXPECT(chi2 < 66.2);  // df = 29, p = 1e-4
}

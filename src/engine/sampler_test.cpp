// Sampler against distributions computed by hand from the definitions (HF transformers'
// logits processors), seed reproducibility, and the empirical draw frequencies.
#include <cmath>
#include <map>

#include "engine/sampler.h"
#include "util/error.h"
#include "util/testing.h"

namespace tc {
namespace {

// softmax(x / t) of a handful of values, in double.
std::vector<double> softmax_ref(std::vector<double> x, double t = 1.0) {
  double m = -1e300, sum = 0;
  for (double v : x) m = std::max(m, v / t);
  for (double& v : x) sum += v = std::exp(v / t - m);
  for (double& v : x) v /= sum;
  return x;
}

std::map<int32_t, float> as_map(const std::vector<std::pair<int32_t, float>>& d) {
  std::map<int32_t, float> m;
  for (auto& [id, p] : d) m[id] = p;
  return m;
}

const std::vector<float> kLogits = {1.0f, 3.0f, 2.0f, 0.5f, 3.0f, -1.0f};  // ids 1 and 4 tie

}  // namespace

TC_TEST(sampler_greedy_takes_first_max) {
  Sampler s(SamplingOptions{});
  TC_EXPECT_EQ(s.sample(kLogits.data(), 6, {}), 1);  // ties -> lowest id, like torch.argmax
  auto d = s.distribution(kLogits.data(), 6, {});
  TC_REQUIRE(d.size() == 1);
  TC_EXPECT_EQ(d[0].first, 1);
}

TC_TEST(sampler_temperature_is_softmax_of_scaled_logits) {
  SamplingOptions o;
  o.temperature = 0.7f;
  Sampler s(o);
  auto d = as_map(s.distribution(kLogits.data(), 6, {}));
  auto ref = softmax_ref({1.0, 3.0, 2.0, 0.5, 3.0, -1.0}, 0.7);
  TC_REQUIRE(d.size() == 6);
  for (int i = 0; i < 6; ++i) TC_EXPECT_NEAR(d[i], ref[i], 1e-6);
}

TC_TEST(sampler_top_k_keeps_ties_with_kth) {
  SamplingOptions o;
  o.temperature = 1.0f;
  o.top_k = 2;  // the two best are ids 1 and 4 (both 3.0)
  Sampler s(o);
  auto d = as_map(s.distribution(kLogits.data(), 6, {}));
  TC_EXPECT_EQ(d.size(), size_t(2));
  TC_EXPECT_NEAR(d[1], 0.5, 1e-6);
  TC_EXPECT_NEAR(d[4], 0.5, 1e-6);
  o.top_k = 1;  // the 1st best is 3.0 and id 4 ties with it: HF keeps both
  Sampler s1(o);
  TC_EXPECT_EQ(s1.distribution(kLogits.data(), 6, {}).size(), size_t(2));
  o.top_k = 3;
  Sampler s3(o);
  auto d3 = as_map(s3.distribution(kLogits.data(), 6, {}));
  auto ref = softmax_ref({3.0, 2.0, 3.0});  // ids 1, 2, 4
  TC_EXPECT_EQ(d3.size(), size_t(3));
  TC_EXPECT_NEAR(d3[1], ref[0], 1e-6);
  TC_EXPECT_NEAR(d3[2], ref[1], 1e-6);
  TC_EXPECT_NEAR(d3[4], ref[2], 1e-6);
}

TC_TEST(sampler_top_p_keeps_smallest_prefix_reaching_p) {
  // probs of logits log(0.5), log(0.3), log(0.15), log(0.05) are exactly those numbers.
  std::vector<float> logits = {std::log(0.15f), std::log(0.5f), std::log(0.05f), std::log(0.3f)};
  SamplingOptions o;
  o.temperature = 1.0f;
  o.top_p = 0.75f;  // mass before id 3 is 0.5 < 0.75, before id 0 it is 0.8 >= 0.75 -> keep {1, 3}
  Sampler s(o);
  auto d = as_map(s.distribution(logits.data(), 4, {}));
  TC_EXPECT_EQ(d.size(), size_t(2));
  TC_EXPECT_NEAR(d[1], 0.5 / 0.8, 1e-5);
  TC_EXPECT_NEAR(d[3], 0.3 / 0.8, 1e-5);
  o.top_p = 0.85f;  // needs the third token too
  Sampler s2(o);
  auto d2 = as_map(s2.distribution(logits.data(), 4, {}));
  TC_EXPECT_EQ(d2.size(), size_t(3));
  TC_EXPECT_NEAR(d2[0], 0.15 / 0.95, 1e-5);
  o.top_p = 0.4f;  // the top token alone
  Sampler s3(o);
  TC_EXPECT_EQ(s3.distribution(logits.data(), 4, {}).size(), size_t(1));
}

TC_TEST(sampler_min_p_is_relative_to_the_top_probability) {
  std::vector<float> logits = {std::log(0.15f), std::log(0.5f), std::log(0.05f), std::log(0.3f)};
  SamplingOptions o;
  o.temperature = 1.0f;
  o.min_p = 0.25f;  // threshold 0.125: keeps 0.5, 0.3, 0.15, drops 0.05
  Sampler s(o);
  auto d = as_map(s.distribution(logits.data(), 4, {}));
  TC_EXPECT_EQ(d.size(), size_t(3));
  TC_EXPECT_NEAR(d[1], 0.5 / 0.95, 1e-5);
  TC_EXPECT_NEAR(d[0], 0.15 / 0.95, 1e-5);
  TC_EXPECT(d.count(2) == 0);
  o.min_p = 0.35f;  // threshold 0.175 drops 0.15 as well
  Sampler s2(o);
  auto d2 = as_map(s2.distribution(logits.data(), 4, {}));
  TC_EXPECT_EQ(d2.size(), size_t(2));
  TC_EXPECT_NEAR(d2[3], 0.3 / 0.8, 1e-5);
}

TC_TEST(sampler_repetition_penalty_divides_positive_multiplies_negative) {
  std::vector<float> logits = {2.0f, -1.0f, 0.5f, 1.0f};
  std::vector<uint8_t> seen;
  std::vector<float> scores = logits;
  apply_repetition_penalty(scores.data(), 4, {0, 1, 1, 0}, 2.0f, seen);  // repeats count once
  TC_EXPECT_NEAR(scores[0], 1.0, 0);
  TC_EXPECT_NEAR(scores[1], -2.0, 0);
  TC_EXPECT_NEAR(scores[2], 0.5, 0);
  TC_EXPECT_NEAR(scores[3], 1.0, 0);
  // Greedy with the penalty: 2.0 -> 1.0 ties with id 3 (1.0); argmax takes the first (id 0).
  SamplingOptions o;
  o.repetition_penalty = 2.5f;  // 2.0 -> 0.8 < 1.0
  Sampler s(o);
  TC_EXPECT_EQ(s.sample(logits.data(), 4, {0}), 3);
  // Full chain: penalty, then temperature softmax.
  o.temperature = 2.0f;
  Sampler st(o);
  auto d = as_map(st.distribution(logits.data(), 4, {0, 1}));
  auto ref = softmax_ref({0.8, -2.5, 0.5, 1.0}, 2.0);
  for (int i = 0; i < 4; ++i) TC_EXPECT_NEAR(d[i], ref[i], 1e-6);
}

TC_TEST(sampler_combined_filters_in_hf_order) {
  // top-k 3 then top-p 0.7 on the renormalised top-3, then min-p.
  std::vector<float> logits = {0.0f, 2.0f, 1.5f, 1.0f, -3.0f};
  SamplingOptions o;
  o.temperature = 1.0f;
  o.top_k = 3;
  o.top_p = 0.7f;
  Sampler s(o);
  auto p3 = softmax_ref({2.0, 1.5, 1.0});  // ~0.506, 0.307, 0.186
  auto d = as_map(s.distribution(logits.data(), 5, {}));
  TC_REQUIRE(p3[0] < 0.7 && p3[0] + p3[1] >= 0.7);
  TC_EXPECT_EQ(d.size(), size_t(2));
  TC_EXPECT_NEAR(d[1], p3[0] / (p3[0] + p3[1]), 1e-6);
}

TC_TEST(sampler_seed_reproducible_and_frequencies_match) {
  SamplingOptions o;
  o.temperature = 1.0f;
  o.seed = 42;
  std::vector<float> logits = {std::log(0.6f), std::log(0.3f), std::log(0.1f)};
  Sampler a(o), b(o);
  std::vector<int> draws_a, draws_b, counts(3, 0);
  for (int i = 0; i < 20000; ++i) {
    draws_a.push_back(a.sample(logits.data(), 3, {}));
    draws_b.push_back(b.sample(logits.data(), 3, {}));
    counts[size_t(draws_a.back())]++;
  }
  TC_EXPECT(draws_a == draws_b);
  // Binomial standard deviation at n = 20000 is <= 0.0035; allow 4 sigma.
  TC_EXPECT_NEAR(counts[0] / 20000.0, 0.6, 0.014);
  TC_EXPECT_NEAR(counts[1] / 20000.0, 0.3, 0.014);
  TC_EXPECT_NEAR(counts[2] / 20000.0, 0.1, 0.014);
  o.seed = 43;
  Sampler c(o);
  std::vector<int> draws_c;
  for (int i = 0; i < 200; ++i) draws_c.push_back(c.sample(logits.data(), 3, {}));
  TC_EXPECT(!std::equal(draws_c.begin(), draws_c.end(), draws_a.begin()));
}

TC_TEST(sampler_rejects_bad_options) {
  SamplingOptions o;
  o.temperature = -1;
  TC_EXPECT_THROWS(Sampler{o}, "temperature");
  o = {};
  o.top_p = 1.5f;
  TC_EXPECT_THROWS(Sampler{o}, "top-p");
  o = {};
  o.min_p = -0.1f;
  TC_EXPECT_THROWS(Sampler{o}, "min-p");
  o = {};
  o.repetition_penalty = 0;
  TC_EXPECT_THROWS(Sampler{o}, "repetition penalty");
  o = {};
  o.top_k = -2;
  TC_EXPECT_THROWS(Sampler{o}, "top-k");
}

}  // namespace tc

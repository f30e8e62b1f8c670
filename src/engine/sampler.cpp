#include "engine/sampler.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace tc {

void apply_repetition_penalty(float* scores, int vocab, const std::vector<int32_t>& history, float penalty,
                              std::vector<uint8_t>& seen) {
  if (penalty == 1.0f) return;
  seen.assign(size_t(vocab), 0);
  for (int32_t id : history) {
    if (id < 0 || id >= vocab || seen[size_t(id)]) continue;
    seen[size_t(id)] = 1;
    float& s = scores[id];
    s = s < 0 ? s * penalty : s / penalty;
  }
}

Sampler::Sampler(const SamplingOptions& o) : options_(o), rng_(o.seed) {
  TC_CHECK_ARG(std::isfinite(o.temperature) && o.temperature >= 0, "sampling: temperature must be >= 0, got %g",
               double(o.temperature));
  TC_CHECK_ARG(o.top_k >= 0, "sampling: top-k must be >= 0, got %d", o.top_k);
  TC_CHECK_ARG(o.top_p > 0 && o.top_p <= 1, "sampling: top-p must be in (0, 1], got %g", double(o.top_p));
  TC_CHECK_ARG(o.min_p >= 0 && o.min_p <= 1, "sampling: min-p must be in [0, 1], got %g", double(o.min_p));
  TC_CHECK_ARG(std::isfinite(o.repetition_penalty) && o.repetition_penalty > 0,
               "sampling: repetition penalty must be > 0, got %g", double(o.repetition_penalty));
}

void Sampler::compute(const float* logits, int vocab, const std::vector<int32_t>& history) {
  TC_ASSERT(vocab > 0);
  scores_.assign(logits, logits + vocab);
  apply_repetition_penalty(scores_.data(), vocab, history, options_.repetition_penalty, seen_);
  cand_.clear();
  if (options_.temperature <= 0) {
    // torch.argmax: the first maximum.
    int32_t best = 0;
    for (int i = 1; i < vocab; ++i)
      if (scores_[size_t(i)] > scores_[size_t(best)]) best = i;
    cand_.push_back({scores_[size_t(best)], best});
    probs_.assign(1, 1.0);
    keep_ = 1;
    kept_mass_ = 1.0;
    return;
  }

  const float inv_t = 1.0f / options_.temperature;
  cand_.reserve(size_t(vocab));
  for (int i = 0; i < vocab; ++i) {
    float s = scores_[size_t(i)];
    if (s == -INFINITY || std::isnan(s)) continue;
    cand_.push_back({s * inv_t, int32_t(i)});
  }
  TC_CHECK_ARG(!cand_.empty(), "sampling: every logit is -inf or NaN");
  auto by_score = [](const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };

  // top-k: keep everything scoring at least the k-th best (HF keeps ties).
  if (options_.top_k > 0 && size_t(options_.top_k) < cand_.size()) {
    std::nth_element(cand_.begin(), cand_.begin() + (options_.top_k - 1), cand_.end(), by_score);
    float kth = cand_[size_t(options_.top_k - 1)].first;
    cand_.erase(std::remove_if(cand_.begin(), cand_.end(), [&](auto& c) { return c.first < kth; }), cand_.end());
  }
  std::sort(cand_.begin(), cand_.end(), by_score);

  // Softmax over the survivors (in double, so the filters see accurate masses).
  probs_.resize(cand_.size());
  double sum = 0;
  for (size_t i = 0; i < cand_.size(); ++i) sum += probs_[i] = std::exp(double(cand_[i].first) - cand_[0].first);
  for (size_t i = 0; i < cand_.size(); ++i) probs_[i] /= sum;

  // top-p: token i survives while the mass strictly before it is < top_p (HF removes tokens
  // whose ascending cumulative mass is <= 1 - top_p).
  size_t keep = probs_.size();
  if (options_.top_p < 1.0f) {
    double before = 0;
    for (size_t i = 0; i < probs_.size(); ++i) {
      if (before >= double(options_.top_p)) {
        keep = i;
        break;
      }
      before += probs_[i];
    }
  }
  // min-p: drop p < min_p * p_max (relative, so unaffected by the renormalisation above).
  if (options_.min_p > 0) {
    double threshold = double(options_.min_p) * probs_[0];
    size_t i = 1;
    while (i < keep && probs_[i] >= threshold) ++i;
    keep = i;
  }
  keep_ = keep;
  kept_mass_ = 0;
  for (size_t i = 0; i < keep; ++i) kept_mass_ += probs_[i];
}

std::vector<std::pair<int32_t, float>> Sampler::distribution(const float* logits, int vocab,
                                                             const std::vector<int32_t>& history) {
  compute(logits, vocab, history);
  std::vector<std::pair<int32_t, float>> out;
  out.reserve(keep_);
  for (size_t i = 0; i < keep_; ++i) out.push_back({cand_[i].second, float(probs_[i] / kept_mass_)});
  return out;
}

int32_t Sampler::sample(const float* logits, int vocab, const std::vector<int32_t>& history) {
  compute(logits, vocab, history);
  if (keep_ == 1) return cand_[0].second;
  double u = rng_.uniform() * kept_mass_, cum = 0;
  for (size_t i = 0; i < keep_; ++i) {
    cum += probs_[i];
    if (u < cum) return cand_[i].second;
  }
  return cand_[keep_ - 1].second;  // rounding left u just above the total
}

}  // namespace tc

// Chooses the next token from logits: repetition penalty, temperature, top-k, top-p, min-p,
// then a seeded draw (tc::Rng), or the argmax when temperature <= 0.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "thinkcache/generate.h"
#include "util/rng.h"

namespace tc {

class Sampler {
 public:
  explicit Sampler(const SamplingOptions& options);  // throws naming an out-of-range option

  // logits: [vocab] (not modified). history: every id seen so far (prompt + generated), for
  // the repetition penalty.
  int32_t sample(const float* logits, int vocab, const std::vector<int32_t>& history);

  // The distribution the next draw uses: (id, probability) sorted by decreasing probability
  // (ties by id), after every filter; probabilities sum to 1. For greedy, the argmax with 1.
  std::vector<std::pair<int32_t, float>> distribution(const float* logits, int vocab,
                                                      const std::vector<int32_t>& history);

  const SamplingOptions& options() const { return options_; }

 private:
  // Fills cand_[0, keep_) and probs_[0, keep_) with the filtered, sorted distribution (probs_
  // not yet renormalised: kept_mass_ is their sum). Scratch buffers persist across calls so a
  // decode step allocates nothing.
  void compute(const float* logits, int vocab, const std::vector<int32_t>& history);

  SamplingOptions options_;
  Rng rng_;
  std::vector<float> scores_;                        // scores: [vocab] penalised logits
  std::vector<std::pair<float, int32_t>> cand_;      // candidates (score, id), best first
  std::vector<double> probs_;                        // probs:  [candidates] softmax
  std::vector<uint8_t> seen_;                        // seen: [vocab] history membership
  size_t keep_ = 0;
  double kept_mass_ = 1.0;
};

// HF RepetitionPenaltyLogitsProcessor: for every distinct id in history, a positive logit is
// divided by `penalty` and a negative one multiplied by it. scores: [vocab], in place.
void apply_repetition_penalty(float* scores, int vocab, const std::vector<int32_t>& history, float penalty,
                              std::vector<uint8_t>& seen_scratch);

}  // namespace tc

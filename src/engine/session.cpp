#include "engine/session.h"

#include <algorithm>
#include <chrono>

#include "util/error.h"

namespace tc {

namespace {
double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
AttentionNeeds needs_of(KvPolicy* policy) { return policy ? policy->needs() : AttentionNeeds{}; }
}  // namespace

Session::Session(const Model& model, KvCache& cache, KvPolicy* policy, const SessionOptions& options, ThreadPool& pool)
    : model_(model),
      cache_(cache),
      policy_(policy),
      options_(options),
      pool_(pool),
      runner_(model, cache, std::max(1, options.prefill_chunk), needs_of(policy)) {
  TC_CHECK_ARG(options.prefill_chunk > 0, "prefill chunk must be positive, got %d", options.prefill_chunk);
  TC_CHECK_ARG(options.start_position >= 0, "start position must be >= 0");
  n_past_ = options.start_position;
  logits_.resize(size_t(model.config().vocab));
  positions_.resize(size_t(options.prefill_chunk));
}

void Session::forward(const int32_t* ids, int n, bool is_prefill, LogitsMode mode, float* logits) {
  ForwardInfo info;
  info.is_prefill = is_prefill;
  info.n_tokens = n;
  info.step = is_prefill ? 0 : step_;
  info.first_pos = n_past_;
  info.total_tokens = n_past_ + n;
  TC_CHECK_ARG(n_past_ + n <= INT32_MAX, "sequence too long for 32-bit positions");
  for (int i = 0; i < n; ++i) positions_[size_t(i)] = int32_t(n_past_ + i);

  if (policy_) policy_->begin_forward(info);
  runner_.forward(cache_, policy_, ids, positions_.data(), n, mode, logits, pool_);
  stats_.peak_tokens = std::max(stats_.peak_tokens, cache_.max_size());
  stats_.peak_live_slots = std::max(stats_.peak_live_slots, cache_.live_slots());
  if (!is_prefill) stats_.decode_live_slot_steps += cache_.live_slots();
  if (policy_) policy_->end_forward(info);
  n_past_ += n;

  // Bytes: every weight matrix once per call (lm_head only when logits are computed), one
  // embedding row per token, and the K/V the attention read.
  const ModelWeights& w = model_.weights();
  uint64_t bytes = model_.weight_bytes_per_token() + uint64_t(n - 1) * w.token_embd.row_bytes() +
                   runner_.last_kv_bytes_read();
  if (mode == LogitsMode::None) bytes -= w.output.nbytes;
  (is_prefill ? stats_.prefill_bytes : stats_.decode_bytes) += bytes;
}

void Session::prefill(const int32_t* ids, int n, float* all_logits) {
  TC_CHECK_ARG(n > 0, "prefill needs at least one token");
  const size_t vocab = size_t(model_.config().vocab);
  double t0 = now_seconds();
  for (int done = 0; done < n;) {
    int chunk = std::min(options_.prefill_chunk, n - done);
    bool last = done + chunk == n;
    if (all_logits) {
      forward(ids + done, chunk, true, LogitsMode::All, all_logits + size_t(done) * vocab);
      if (last) std::copy_n(all_logits + size_t(n - 1) * vocab, vocab, logits_.data());
    } else {
      forward(ids + done, chunk, true, last ? LogitsMode::Last : LogitsMode::None, logits_.data());
    }
    done += chunk;
  }
  ForwardInfo info;
  info.is_prefill = true;
  info.n_tokens = n;
  info.first_pos = n_past_ - n;
  info.total_tokens = n_past_;
  if (policy_) policy_->end_prefill(info);
  stats_.prefill_tokens += n;
  stats_.prefill_seconds += now_seconds() - t0;
}

const float* Session::decode(int32_t id) {
  double t0 = now_seconds();
  ++step_;
  forward(&id, 1, false, LogitsMode::Last, logits_.data());
  stats_.decode_steps += 1;
  stats_.decode_seconds += now_seconds() - t0;
  return logits_.data();
}

}  // namespace tc

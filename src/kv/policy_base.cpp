#include "kv/policy_base.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"
#include "util/thread_pool.h"

namespace tc {

// ---------------------------------------------------------------- EvictionSchedule

bool EvictionSchedule::fires_at_decode(int64_t step, int64_t total_tokens, int size, int budget) const {
  switch (decode) {
    case Decode::Never: return false;
    case Decode::EveryStep: return size > budget;
    case Decode::EveryPeriodSteps: return step % period == 0 && size > budget;
    case Decode::CacheLengthMultiple: return size % period == 0 && size > budget;
    case Decode::TotalTokensMultiple: return total_tokens % period == 0 && size >= budget;
  }
  return false;
}

bool EvictionSchedule::fires_at_prefill(int size, int budget) const {
  switch (prefill) {
    case Prefill::Keep: return false;
    case Prefill::CompressIfOver: return size > budget;
    case Prefill::CompressIfAtLeast: return size >= budget;
  }
  return false;
}

int EvictionSchedule::capacity(int prompt, int max_new, int budget) const {
  TC_CHECK_ARG(prompt >= 0 && max_new >= 0, "KV capacity: negative token counts (%d prompt, %d new)", prompt,
               max_new);
  int64_t whole = int64_t(prompt) + max_new;  // never more tokens than the sequence has
  int64_t peak;
  if (decode == Decode::Never) {
    // Prefill-only: the prompt is stored whole, maybe compressed, then the cache grows freely.
    int64_t after_prefill = fires_at_prefill(prompt, budget) ? std::min(prompt, budget) : prompt;
    peak = std::max<int64_t>(prompt, after_prefill + max_new);
  } else {
    int overshoot = decode == Decode::EveryStep ? 1 : period;
    peak = std::min<int64_t>(whole, int64_t(std::max(prompt, budget)) + overshoot);
  }
  TC_CHECK_ARG(peak <= INT32_MAX, "KV capacity of %lld slots is too large", (long long)peak);
  return int(std::max<int64_t>(1, peak));
}

std::string EvictionSchedule::describe() const {
  std::string s;
  switch (decode) {
    case Decode::Never: s = "no decode-time eviction"; break;
    case Decode::EveryStep: s = "every decode step while size > budget"; break;
    case Decode::EveryPeriodSteps: s = str_printf("every %d decode steps (t %% %d == 0) if size > budget", period, period); break;
    case Decode::CacheLengthMultiple: s = str_printf("when size %% %d == 0 and size > budget", period); break;
    case Decode::TotalTokensMultiple: s = str_printf("when total tokens %% %d == 0 and size >= budget", period); break;
  }
  switch (prefill) {
    case Prefill::Keep: s += "; prompt kept whole at prefill"; break;
    case Prefill::CompressIfOver: s += "; at prefill end if size > budget"; break;
    case Prefill::CompressIfAtLeast: s += "; at prefill end if size >= budget"; break;
  }
  return s;
}

// ---------------------------------------------------------------- PolicyBase

PolicyBase::PolicyBase(std::string name, int budget, uint64_t seed, KvLayout layout)
    : name_(std::move(name)), budget_(budget), seed_(seed), layout_(layout) {}

void PolicyBase::add_time(Clock::time_point start) {
  stats_.scoring_seconds += std::chrono::duration<double>(Clock::now() - start).count();
}

void PolicyBase::attach(KvCache& cache) {
  auto start = Clock::now();
  TC_CHECK_ARG(cache.layout() == layout_,
               "policy %s needs a KV cache with the %s layout, but the cache was built with the other one",
               name_.c_str(), layout_ == KvLayout::Gqa ? "native GQA" : "per-query-head");
  cache_ = &cache;
  fwd_ = ForwardInfo{};
  newest_pos_ = -1;
  stats_ = PolicyStats{};
  handle_attach();
  add_time(start);
}

void PolicyBase::begin_forward(const ForwardInfo& info) {
  TC_ASSERT(cache_ != nullptr);
  fwd_ = info;
  newest_pos_ = info.first_pos + info.n_tokens - 1;
}

void PolicyBase::on_queries(int layer, const float* q, int n_tokens) {
  auto start = Clock::now();
  handle_queries(layer, q, n_tokens);
  add_time(start);
}

void PolicyBase::on_append(int layer, int n_tokens) {
  auto start = Clock::now();
  stats_.peak_tokens = std::max<int64_t>(stats_.peak_tokens, layer_size(layer));
  handle_append(layer, n_tokens);
  add_time(start);
}

void PolicyBase::on_attention(const AttentionStats& stats) {
  auto start = Clock::now();
  handle_attention(stats);
  add_time(start);
}

void PolicyBase::end_forward(const ForwardInfo& info) {
  auto start = Clock::now();
  fwd_ = info;
  int64_t before = cache_->slots_evicted();
  if (handle_end_forward()) ++stats_.evictions;
  stats_.slots_evicted += cache_->slots_evicted() - before;
  add_time(start);
}

void PolicyBase::end_prefill(const ForwardInfo& info) {
  auto start = Clock::now();
  fwd_ = info;
  newest_pos_ = info.total_tokens - 1;
  int64_t before = cache_->slots_evicted();
  if (handle_end_prefill()) ++stats_.evictions;
  stats_.slots_evicted += cache_->slots_evicted() - before;
  add_time(start);
}

int PolicyBase::layer_size(int layer) const {
  int m = 0;
  for (int h = 0; h < cache_->n_store_heads(); ++h) m = std::max(m, cache_->size(layer, h));
  return m;
}

int PolicyBase::channel(const std::string& name, KvCache::ChannelType type) {
  int id = cache_->find_channel(name);
  return id >= 0 ? id : cache_->add_channel(name, type);
}

Rng PolicyBase::rng_for(int layer, int head, int64_t event, uint64_t salt) const {
  // Disjoint bit fields: salt [60, 64), layer [44, 60), head [32, 44), event [0, 32).
  uint64_t stream = (salt << 60) ^ (uint64_t(layer & 0xffff) << 44) ^ (uint64_t(head & 0xfff) << 32) ^
                    uint64_t(event & 0xffffffff);
  return Rng::derive(seed_, stream);
}

// ---------------------------------------------------------------- WindowedPolicy

WindowedPolicy::WindowedPolicy(std::string name, const Config& config, uint64_t seed, KvLayout layout)
    : PolicyBase(std::move(name), config.budget, seed, layout), config_(config) {
  TC_ASSERT(config.budget > config.recent && config.recent >= 0 && config.sinks >= 0);
}

int WindowedPolicy::capacity_for(int prompt_tokens, int max_new_tokens) const {
  return config_.schedule.capacity(prompt_tokens, max_new_tokens, config_.budget);
}

void WindowedPolicy::reserve(int layer, int head, int n_candidates, std::vector<int32_t>& out) const {
  out.clear();
  if (config_.sinks == 0) return;
  const int32_t* pos = cache().positions(layer, head);
  for (int s = 0; s < n_candidates; ++s)
    if (pos[s] < config_.sinks) out.push_back(s);
}

bool WindowedPolicy::handle_end_forward() {
  const ForwardInfo& f = forward();
  if (f.is_prefill) return false;
  bool any = false;
  for (int l = 0; l < cache().n_layers(); ++l) {
    if (!config_.schedule.fires_at_decode(f.step, f.total_tokens, layer_size(l), config_.budget)) continue;
    evict_layer(l);
    any = true;
  }
  return any;
}

bool WindowedPolicy::handle_end_prefill() {
  bool any = false;
  for (int l = 0; l < cache().n_layers(); ++l) {
    if (!config_.schedule.fires_at_prefill(layer_size(l), config_.budget)) continue;
    evict_layer(l);
    any = true;
  }
  return any;
}

void WindowedPolicy::evict_layer(int layer) {
  KvCache& c = cache();
  if (events_.size() != size_t(c.n_layers())) events_.assign(size_t(c.n_layers()), 0);
  const int64_t event = events_[layer]++;
  begin_layer_eviction(layer, event);
  const int n_heads = c.n_store_heads();
  plans_.resize(size_t(n_heads));
  ThreadPool& pool = ThreadPool::global();
  if (scratch_.size() < size_t(pool.size())) scratch_.resize(size_t(pool.size()));
  pool.parallel_for(n_heads, [&](int64_t h0, int64_t h1, int thread) {
    for (int64_t h = h0; h < h1; ++h) plan_head(layer, int(h), event, scratch_[thread], plans_[h]);
  });
  // KvCache::retain shares one gather buffer, so compaction runs serially.
  for (int h = 0; h < n_heads; ++h) c.retain(layer, h, plans_[h].data(), int(plans_[h].size()));
}

void WindowedPolicy::plan_head(int layer, int head, int64_t event, ScoreScratch& scratch,
                               std::vector<int32_t>& keep) const {
  const int n = cache().size(layer, head);
  const int recent = std::min(config_.recent, n);
  const int n_cand = n - recent;
  const int keep_cand = std::max(0, std::min(n_cand, config_.budget - recent));

  std::vector<int32_t> reserved;
  reserve(layer, head, n_cand, reserved);
  if (int(reserved.size()) > keep_cand) reserved.resize(size_t(keep_cand));
  std::vector<char> is_reserved(static_cast<size_t>(n_cand), 0);
  for (int32_t s : reserved) {
    TC_ASSERT(s >= 0 && s < n_cand && !is_reserved[s]);
    is_reserved[s] = 1;
  }

  // pool: the candidates left to the selector, in slot order.
  std::vector<int32_t> pool;
  pool.reserve(size_t(n_cand));
  for (int s = 0; s < n_cand; ++s)
    if (!is_reserved[s]) pool.push_back(s);
  const int k = keep_cand - int(reserved.size());

  std::vector<int32_t> picked;
  if (k == int(pool.size()) && config_.selector == Selector::Uniform) {
    picked.resize(pool.size());
    for (size_t i = 0; i < pool.size(); ++i) picked[i] = int32_t(i);
  } else if (config_.selector == Selector::Uniform) {
    Rng rng = rng_for(layer, head, event);
    select_uniform(int(pool.size()), k, rng, picked);
  } else {
    std::vector<float> all(static_cast<size_t>(n_cand));
    score(layer, head, n_cand, all.data(), scratch);
    std::vector<float> pool_scores(pool.size());
    for (size_t i = 0; i < pool.size(); ++i) pool_scores[i] = all[pool[i]];
    if (config_.selector == Selector::TopK) {
      select_top_k(pool_scores.data(), int(pool.size()), k, picked);
    } else {
      Rng rng = rng_for(layer, head, event);
      select_gumbel_top_k(pool_scores.data(), int(pool.size()), k, rng, picked);
    }
  }

  keep.clear();
  keep.reserve(size_t(keep_cand + recent));
  keep.insert(keep.end(), reserved.begin(), reserved.end());
  for (int32_t i : picked) keep.push_back(pool[i]);
  for (int s = n_cand; s < n; ++s) keep.push_back(s);
}

// ---------------------------------------------------------------- RollingPolicy

RollingPolicy::RollingPolicy(std::string name, const Config& config, uint64_t seed, KvLayout layout)
    : PolicyBase(std::move(name), config.budget, seed, layout), config_(config) {
  TC_ASSERT(config.recent >= 1 && config.sinks >= 0 && config.budget >= config.sinks + config.recent);
}

int RollingPolicy::capacity_for(int prompt_tokens, int max_new_tokens) const {
  EvictionSchedule s;
  s.decode = EvictionSchedule::Decode::EveryStep;
  return s.capacity(prompt_tokens, max_new_tokens, config_.budget);
}

bool RollingPolicy::handle_end_forward() {
  if (forward().is_prefill) return false;
  bool any = false;
  for (int l = 0; l < cache().n_layers(); ++l) any |= evict_layer(l);
  return any;
}

bool RollingPolicy::handle_end_prefill() {
  if (!config_.compress_prefill) return false;
  bool any = false;
  for (int l = 0; l < cache().n_layers(); ++l) any |= evict_layer(l);
  return any;
}

bool RollingPolicy::evict_layer(int layer) {
  KvCache& c = cache();
  if (layer_size(layer) <= config_.budget) return false;
  const int n_heads = c.n_store_heads();
  if (config_.layer_wide) {
    const int n = c.size(layer, 0);
    for (int h = 1; h < n_heads; ++h) {
      TC_ASSERT(c.size(layer, h) == n);
      TC_ASSERT(std::equal(c.positions(layer, h), c.positions(layer, h) + n, c.positions(layer, 0)));
    }
    drop_lowest(layer, 0, scores(layer, -1, n), n - config_.budget, drop_);
    for (int h = 0; h < n_heads; ++h) c.remove(layer, h, drop_.data(), int(drop_.size()));
    return true;
  }
  for (int h = 0; h < n_heads; ++h) {
    const int n = c.size(layer, h);
    if (n <= config_.budget) continue;
    drop_lowest(layer, h, scores(layer, h, n), n - config_.budget, drop_);
    c.remove(layer, h, drop_.data(), int(drop_.size()));
  }
  return true;
}

void RollingPolicy::drop_lowest(int layer, int head_for_slots, const float* scores, int n_drop,
                                std::vector<int32_t>& drop) {
  const int n = cache().size(layer, head_for_slots);
  const int32_t* pos = cache().positions(layer, head_for_slots);
  const int64_t sinks = config_.sinks;
  const int64_t recent_from = newest_position() - config_.recent + 1;  // positions >= this are protected
  drop.clear();
  if (n_drop == 1) {
    // The steady state: one pass for the lowest (score, position) among unprotected slots.
    int best = -1;
    float best_score = 0;
    for (int s = 0; s < n; ++s) {
      const int32_t p = pos[s];
      if (p < sinks || p >= recent_from) continue;
      const float sc = scores ? scores[s] : 0.0f;
      if (best < 0 || sc < best_score || (sc == best_score && p < pos[best]) || (std::isnan(sc) && !std::isnan(best_score))) {
        best = s;
        best_score = sc;
      }
    }
    TC_ASSERT(best >= 0);
    drop.push_back(best);
    return;
  }
  cand_slots_.clear();
  cand_scores_.clear();
  cand_pos_.clear();
  for (int s = 0; s < n; ++s) {
    if (pos[s] < sinks || pos[s] >= recent_from) continue;
    cand_slots_.push_back(s);
    cand_scores_.push_back(scores ? scores[s] : 0.0f);
    cand_pos_.push_back(pos[s]);
  }
  TC_ASSERT(n_drop <= int(cand_slots_.size()));
  select_bottom_k(cand_scores_.data(), cand_pos_.data(), int(cand_slots_.size()), n_drop, picked_);
  for (int32_t i : picked_) drop.push_back(cand_slots_[i]);
}

}  // namespace tc

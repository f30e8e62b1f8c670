// The Session's side of the KvPolicy contract (src/kv/policy.h): hook order, ForwardInfo
// fields, chunked prefill, decode step numbering, taps, and true positions after eviction.
// Runs a tiny random Llama written here as an HF folder (config.json + model.safetensors).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "engine/generate.h"
#include "engine/session.h"
#include "model/model.h"
#include "util/error.h"
#include "util/rng.h"
#include "util/testing.h"

namespace tc {
namespace {

constexpr int kHidden = 16, kHeads = 4, kKvHeads = 2, kHeadDim = 8, kFfn = 32, kVocab = 32, kLayers = 2;

// Writes a tiny Llama (random f32 weights, tied embeddings) as an HF folder.
std::string write_tiny_llama(const std::string& dir) {
  struct T {
    std::string name;
    std::vector<int64_t> shape;
  };
  std::vector<T> tensors = {{"model.embed_tokens.weight", {kVocab, kHidden}}, {"model.norm.weight", {kHidden}}};
  for (int l = 0; l < kLayers; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    tensors.push_back({p + "input_layernorm.weight", {kHidden}});
    tensors.push_back({p + "post_attention_layernorm.weight", {kHidden}});
    tensors.push_back({p + "self_attn.q_proj.weight", {kHeads * kHeadDim, kHidden}});
    tensors.push_back({p + "self_attn.k_proj.weight", {kKvHeads * kHeadDim, kHidden}});
    tensors.push_back({p + "self_attn.v_proj.weight", {kKvHeads * kHeadDim, kHidden}});
    tensors.push_back({p + "self_attn.o_proj.weight", {kHidden, kHeads * kHeadDim}});
    tensors.push_back({p + "mlp.gate_proj.weight", {kFfn, kHidden}});
    tensors.push_back({p + "mlp.up_proj.weight", {kFfn, kHidden}});
    tensors.push_back({p + "mlp.down_proj.weight", {kHidden, kFfn}});
  }
  Rng rng(7);
  std::string header = "{";
  std::vector<float> data;
  for (auto& t : tensors) {
    int64_t n = 1;
    std::string shape;
    for (auto d : t.shape) {
      n *= d;
      shape += (shape.empty() ? "" : ",") + std::to_string(d);
    }
    size_t begin = data.size() * 4;
    bool norm = t.name.find("norm") != std::string::npos;
    for (int64_t i = 0; i < n; ++i) data.push_back(norm ? 1.0f + 0.1f * float(rng.normal()) : 0.4f * float(rng.normal()));
    header += str_printf("%s\"%s\":{\"dtype\":\"F32\",\"shape\":[%s],\"data_offsets\":[%zu,%zu]}",
                         header.size() > 1 ? "," : "", t.name.c_str(), shape.c_str(), begin, data.size() * 4);
  }
  header += "}";
  std::ofstream st(dir + "/model.safetensors", std::ios::binary);
  uint64_t len = header.size();
  st.write(reinterpret_cast<const char*>(&len), 8);
  st << header;
  st.write(reinterpret_cast<const char*>(data.data()), std::streamsize(data.size() * 4));
  std::ofstream cfg(dir + "/config.json");
  cfg << str_printf(
      R"({"model_type":"llama","hidden_size":%d,"intermediate_size":%d,"num_hidden_layers":%d,)"
      R"("num_attention_heads":%d,"num_key_value_heads":%d,"head_dim":%d,"vocab_size":%d,"max_position_embeddings":64,)"
      R"("rms_norm_eps":1e-6,"tie_word_embeddings":true,"eos_token_id":1})",
      kHidden, kFfn, kLayers, kHeads, kKvHeads, kHeadDim, kVocab);
  return dir;
}

// Records every hook; optionally evicts the oldest slot of every head at each decode step.
class RecordingPolicy final : public KvPolicy {
 public:
  explicit RecordingPolicy(bool evict) : evict_(evict) {}
  std::string name() const override { return "recording"; }
  AttentionNeeds needs() const override {
    AttentionNeeds n;
    n.current_probs = true;
    n.prob_colsum = true;
    return n;
  }
  int capacity_for(int prompt, int max_new) const override { return prompt + max_new; }
  int budget() const override { return 0; }
  void attach(KvCache& cache) override { cache_ = &cache; }
  void begin_forward(const ForwardInfo& info) override {
    log.push_back(str_printf("begin p=%d n=%d t=%lld pos=%lld total=%lld", info.is_prefill, info.n_tokens,
                             (long long)info.step, (long long)info.first_pos, (long long)info.total_tokens));
  }
  void on_queries(int layer, const float*, int n) override { log.push_back(str_printf("q%d n=%d", layer, n)); }
  void on_append(int layer, int n) override {
    log.push_back(str_printf("a%d n=%d size=%d", layer, n, cache_->size(layer, 0)));
  }
  void on_attention(const AttentionStats& s) override {
    // Every query head's current probabilities sum to 1 over its live slots; colsum sums the
    // call's queries, so its total is the number of queries.
    int live = cache_->size(s.layer, 0);
    double p = 0, c = 0;
    for (int i = 0; i < live; ++i) {
      p += s.probs[i];
      c += s.colsum[i];
    }
    prob_sums.push_back(p);
    colsum_totals.push_back(c);
    log.push_back(str_printf("s%d", s.layer));
  }
  void end_forward(const ForwardInfo& info) override {
    log.push_back("end");
    if (evict_ && !info.is_prefill) {
      for (int l = 0; l < cache_->n_layers(); ++l)
        for (int h = 0; h < cache_->n_store_heads(); ++h) {
          int32_t drop = 0;
          cache_->remove(l, h, &drop, 1);
        }
      stats_.evictions += 1;
    }
  }
  void end_prefill(const ForwardInfo& info) override {
    log.push_back(str_printf("end_prefill n=%d total=%lld", info.n_tokens, (long long)info.total_tokens));
  }
  const PolicyStats& stats() const override { return stats_; }

  std::vector<std::string> log;
  std::vector<double> prob_sums, colsum_totals;

 private:
  bool evict_;
  KvCache* cache_ = nullptr;
  PolicyStats stats_;
};

// Forwards every hook to a wrapped policy and counts the forward calls.
class RecordingForwarder final : public KvPolicy {
 public:
  explicit RecordingForwarder(std::unique_ptr<KvPolicy> inner) : inner_(std::move(inner)) {}
  std::string name() const override { return inner_->name(); }
  AttentionNeeds needs() const override { return inner_->needs(); }
  KvLayout layout() const override { return inner_->layout(); }
  int capacity_for(int prompt, int max_new) const override { return inner_->capacity_for(prompt, max_new); }
  int budget() const override { return inner_->budget(); }
  void attach(KvCache& cache) override { inner_->attach(cache); }
  void begin_forward(const ForwardInfo& info) override {
    ++forwards;
    inner_->begin_forward(info);
  }
  void on_queries(int layer, const float* q, int n) override { inner_->on_queries(layer, q, n); }
  void on_append(int layer, int n) override { inner_->on_append(layer, n); }
  void on_attention(const AttentionStats& s) override { inner_->on_attention(s); }
  void end_forward(const ForwardInfo& info) override { inner_->end_forward(info); }
  void end_prefill(const ForwardInfo& info) override { inner_->end_prefill(info); }
  const PolicyStats& stats() const override { return inner_->stats(); }
  int64_t forwards = 0;

 private:
  std::unique_ptr<KvPolicy> inner_;
};

KvCache make_cache(const Model& m, int capacity) {
  KvCacheOptions o;
  o.capacity = capacity;
  o.dtype = DType::F32;
  return KvCache(kv_cache_shape(m.config()), o);
}

}  // namespace

TC_TEST(session_calls_policy_hooks_in_contract_order) {
  std::string dir = write_tiny_llama(testing::temp_dir());
  ModelLoadOptions lo;
  lo.load_tokenizer = false;
  auto model = Model::load(dir, lo);
  KvCache cache = make_cache(*model, 16);
  RecordingPolicy policy(false);
  policy.attach(cache);
  SessionOptions so;
  so.prefill_chunk = 3;
  Session session(*model, cache, &policy, so);
  std::vector<int32_t> prompt = {3, 4, 5, 6, 7};
  session.prefill(prompt.data(), 5);
  session.decode(8);
  session.decode(9);

  std::vector<std::string> want;
  auto forward = [&](const char* begin, int n, int size_after) {
    want.push_back(begin);
    for (int l = 0; l < kLayers; ++l) {
      want.push_back(str_printf("q%d n=%d", l, n));
      want.push_back(str_printf("a%d n=%d size=%d", l, n, size_after));
      want.push_back(str_printf("s%d", l));
    }
    want.push_back("end");
  };
  forward("begin p=1 n=3 t=0 pos=0 total=3", 3, 3);
  forward("begin p=1 n=2 t=0 pos=3 total=5", 2, 5);
  want.push_back("end_prefill n=5 total=5");
  forward("begin p=0 n=1 t=1 pos=5 total=6", 1, 6);
  forward("begin p=0 n=1 t=2 pos=6 total=7", 1, 7);
  TC_EXPECT_EQ(policy.log.size(), want.size());
  for (size_t i = 0; i < std::min(want.size(), policy.log.size()); ++i) TC_EXPECT_EQ(policy.log[i], want[i]);
  // probs: one query per head; colsum: n_tokens queries per head, n_heads heads read from
  // store head 0's slots only for heads 0..1 -> compare against head 0 alone.
  for (double p : policy.prob_sums) TC_EXPECT_NEAR(p, 1.0, 1e-5);
  TC_EXPECT_NEAR(policy.colsum_totals[0], 3.0, 1e-4);  // first chunk: 3 queries
  TC_EXPECT_NEAR(policy.colsum_totals.back(), 1.0, 1e-5);
  // True positions in the cache.
  const int32_t* pos = cache.positions(1, 1);
  for (int i = 0; i < 7; ++i) TC_EXPECT_EQ(pos[i], i);
}

TC_TEST(session_positions_stay_true_after_eviction) {
  // With a policy that drops slot 0 after each decode step, every new token still gets
  // position n_past (the tokens processed before it), never the live slot count.
  std::string dir = write_tiny_llama(testing::temp_dir());
  ModelLoadOptions lo;
  lo.load_tokenizer = false;
  auto model = Model::load(dir, lo);
  KvCache cache = make_cache(*model, 16);
  RecordingPolicy policy(true);
  policy.attach(cache);
  Session session(*model, cache, &policy);
  std::vector<int32_t> prompt = {3, 4, 5, 6};
  session.prefill(prompt.data(), 4);
  session.decode(8);  // appended at position 4; slot 0 (position 0) dropped, position 4 moves into it
  session.decode(9);  // appended at position 5 (not slot count 4); slot 0 (now position 4) dropped
  TC_EXPECT_EQ(session.n_past(), int64_t(6));
  TC_EXPECT_EQ(cache.size(0, 0), 4);
  std::vector<int32_t> live(cache.positions(0, 0), cache.positions(0, 0) + 4);
  std::sort(live.begin(), live.end());
  TC_EXPECT(live == (std::vector<int32_t>{1, 2, 3, 5}));
  TC_EXPECT_EQ(cache.slots_evicted(), int64_t(2 * kLayers * kKvHeads));
}

TC_TEST(session_decode_logits_equal_full_prefill_logits) {
  // Invariant: decoding token by token gives the logits a one-shot prefill gives.
  std::string dir = write_tiny_llama(testing::temp_dir());
  ModelLoadOptions lo;
  lo.load_tokenizer = false;
  auto model = Model::load(dir, lo);
  std::vector<int32_t> ids = {3, 9, 27, 1, 14, 30};
  KvCache c1 = make_cache(*model, 8), c2 = make_cache(*model, 8);
  Session all(*model, c1, nullptr), step(*model, c2, nullptr);
  std::vector<float> logits(ids.size() * kVocab);
  all.prefill(ids.data(), int(ids.size()), logits.data());
  step.prefill(ids.data(), 1);
  for (size_t t = 1; t < ids.size(); ++t) {
    const float* l = step.decode(ids[t]);
    for (int v = 0; v < kVocab; ++v) TC_EXPECT_NEAR(l[v], logits[t * kVocab + v], 1e-4);
  }
}

TC_TEST(generate_reports_counts_and_stops_at_eos_or_length) {
  std::string dir = write_tiny_llama(testing::temp_dir());
  ModelLoadOptions lo;
  lo.load_tokenizer = false;
  auto model = Model::load(dir, lo);
  GenerateOptions o;
  o.max_tokens = 6;
  o.ignore_eos = true;
  o.kv.dtype = "f32";
  std::vector<int32_t> prompt = {3, 4, 5};
  int streamed = 0;
  GenerateResult r = generate(*model, prompt, o, [&](const StreamPiece& p) {
    streamed += p.token >= 0;
    return true;
  });
  TC_EXPECT_EQ(r.generated_tokens, 6);
  TC_EXPECT_EQ(streamed, 6);
  TC_EXPECT_EQ(r.prompt_tokens, 3);
  TC_EXPECT(r.stop_reason == StopReason::MaxTokens);
  TC_EXPECT_EQ(r.kv.capacity_slots, 9);
  TC_EXPECT_EQ(r.kv.peak_tokens, 8);  // the last token is sampled, never forwarded
  // Exact KV bytes: 2 (K,V) x layers x KV heads x capacity x head_dim x 4 bytes.
  TC_EXPECT_EQ(r.kv.bytes_allocated, uint64_t(2) * kLayers * kKvHeads * 9 * kHeadDim * 4);
  // Decode bytes: 5 steps, each all weights once plus the live K/V after its append.
  uint64_t kv_read = 0;
  for (int live = 4; live <= 8; ++live) kv_read += uint64_t(2) * kLayers * kKvHeads * live * kHeadDim * 4;
  TC_EXPECT_EQ(r.timings.decode_bytes, 5 * uint64_t(model->weight_bytes_per_token()) + kv_read);

  // Greedy with the model's EOS (id 1): whatever comes first of EOS and the limit.
  o.ignore_eos = false;
  o.max_tokens = 40;
  GenerateResult e = generate(*model, prompt, o);
  bool saw_eos = !e.tokens.empty() && e.tokens.back() == 1;
  TC_EXPECT(saw_eos == (e.stop_reason == StopReason::Eos));
  for (size_t i = 0; i + 1 < e.tokens.size(); ++i) TC_EXPECT(e.tokens[i] != 1);
  // Context: 64 positions; a 60-token prompt leaves room for 5 tokens.
  o.ignore_eos = true;
  o.max_tokens = 50;
  std::vector<int32_t> long_prompt(60, 3);
  GenerateResult c = generate(*model, long_prompt, o);
  TC_EXPECT(c.stop_reason == StopReason::Context);
  TC_EXPECT_EQ(c.generated_tokens, 5);
  std::vector<int32_t> too_long(65, 3);
  TC_EXPECT_THROWS(generate(*model, too_long, o), "longer than the model's context of 64 tokens");
}

}  // namespace tc

namespace tc {
namespace {

TC_TEST(generate_kv_report_counts_each_call_of_a_continued_session) {
  // Two run_generation calls on one session (a chat): the second report's eviction events,
  // slots and seconds are its own, and its full-cache equivalent covers the whole sequence.
  std::string dir = write_tiny_llama(testing::temp_dir());
  ModelLoadOptions lo;
  lo.load_tokenizer = false;
  auto model = Model::load(dir, lo);
  KvOptions kv;
  kv.policy = "lazy";
  kv.budget = 16;
  kv.window = 4;
  kv.dtype = "f32";
  KvSetup setup = make_kv_setup(*model, kv, 40, 0);  // as chat sizes it: a 40-token conversation
  TC_EXPECT_EQ(setup.cache->capacity(), 40);
  const double attach_seconds = setup.policy->stats().scoring_seconds;
  Session session(*model, *setup.cache, setup.policy.get());
  GenerateOptions o;
  o.ignore_eos = true;
  o.max_tokens = 20;
  std::vector<int32_t> history;
  GenerateResult r1 = run_generation(session, {3, 4, 5, 6, 7, 8}, o, {}, &history);
  // Decode steps t = 1..19 (the 20th token is never forwarded); sizes 6 + t; lazy fires at
  // t % 4 == 0 with size > 16: t = 12 (18 -> 16) and t = 16 (20 -> 16); ends at 19.
  TC_EXPECT_EQ(r1.kv.evictions, int64_t(2));
  TC_EXPECT_EQ(r1.kv.slots_evicted, int64_t(2 + 4) * kLayers * kKvHeads);
  TC_EXPECT_EQ(r1.kv.peak_tokens, 20);
  const uint64_t per_token = uint64_t(2) * kLayers * kKvHeads * kHeadDim * 4;
  TC_EXPECT_EQ(r1.kv.bytes_full_cache_equivalent, per_token * (6 + 20));
  TC_EXPECT_EQ(r1.kv.bytes_allocated, per_token * 40);

  o.max_tokens = 10;
  GenerateResult r2 = run_generation(session, {9, 10, 11}, o, {}, &history);
  // 19 + 3 prompt = 22; steps t = 20..28: t = 20 (23 -> 16), 24 (20 -> 16), 28 (20 -> 16).
  TC_EXPECT_EQ(r2.kv.evictions, int64_t(3));
  TC_EXPECT_EQ(r2.kv.slots_evicted, int64_t(7 + 4 + 4) * kLayers * kKvHeads);
  TC_EXPECT_EQ(r2.kv.bytes_full_cache_equivalent, per_token * (25 + 3 + 10));
  TC_EXPECT_EQ(setup.policy->stats().evictions, r1.kv.evictions + r2.kv.evictions);
  TC_EXPECT_NEAR(setup.policy->stats().scoring_seconds - attach_seconds,
                 r1.kv.eviction_seconds + r2.kv.eviction_seconds, 1e-9);
  TC_EXPECT_EQ(int64_t(history.size()), int64_t(6 + 20 + 3 + 10));
}

TC_TEST(make_kv_setup_wraps_the_policy_before_attach) {
  std::string dir = write_tiny_llama(testing::temp_dir());
  ModelLoadOptions lo;
  lo.load_tokenizer = false;
  auto model = Model::load(dir, lo);
  KvOptions kv;
  kv.policy = "lazy";
  kv.budget = 12;
  kv.window = 4;
  kv.dtype = "f32";
  KvPolicy* inner = nullptr;
  KvSetup wrapped = make_kv_setup(*model, kv, 5, 30, [&](std::unique_ptr<KvPolicy> p) -> std::unique_ptr<KvPolicy> {
    inner = p.get();
    return std::make_unique<RecordingForwarder>(std::move(p));
  });
  TC_REQUIRE(inner != nullptr);
  TC_EXPECT(wrapped.policy.get() != inner);
  TC_EXPECT(wrapped.cache->find_channel("lazy.ts") >= 0);  // the inner policy was attached through the wrapper
  KvSetup plain = make_kv_setup(*model, kv, 5, 30);
  GenerateOptions o;
  o.ignore_eos = true;
  o.max_tokens = 30;
  Session a(*model, *wrapped.cache, wrapped.policy.get()), b(*model, *plain.cache, plain.policy.get());
  GenerateResult ra = run_generation(a, {3, 4, 5, 6, 7}, o, {}, nullptr);
  GenerateResult rb = run_generation(b, {3, 4, 5, 6, 7}, o, {}, nullptr);
  TC_EXPECT(ra.tokens == rb.tokens);
  TC_EXPECT(ra.kv.evictions > 0);
  TC_EXPECT_EQ(ra.kv.evictions, rb.kv.evictions);
  TC_EXPECT_EQ(static_cast<RecordingForwarder&>(*wrapped.policy).forwards, int64_t(1 + 29));
}

}  // namespace
}  // namespace tc

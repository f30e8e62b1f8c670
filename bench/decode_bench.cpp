// decode_bench: CPU decode speed of a model at several context lengths.
//
// For each context C: a fresh full KV cache holds C tokens (a real prefill, or with
// --synthetic-fill random post-RoPE K/V appended directly, which costs the same to attend
// over and avoids a slow prefill), then N decode steps are timed. Reported per context:
// decode tokens/s, bytes per step (weights read once + the live K/V of every layer, exact),
// and the achieved GB/s. /proc/loadavg is printed before and after, since the machine is shared.
//
// usage: decode_bench [--model PATH] [--contexts 128,1024,4096] [--steps N] [--kv-dtype f16]
//                     [--synthetic-fill] [--prefill-chunk N]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "engine/generate.h"
#include "engine/session.h"
#include "model/model.h"
#include "util/error.h"
#include "util/rng.h"
#include "util/thread_pool.h"

namespace {

std::string load_average() {
  std::ifstream f("/proc/loadavg");
  std::string s;
  std::getline(f, s);
  return s;
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find(',', i);
    if (j == std::string::npos) j = s.size();
    out.push_back(std::atoi(s.substr(i, j - i).c_str()));
    i = j + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const char* assets = std::getenv("TC_ASSETS");
  std::string model_path = std::string(assets ? assets : "assets") + "/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf";
  std::vector<int> contexts = {128, 1024, 4096};
  int steps = 32, chunk = 256;
  std::string kv_dtype = "f16";
  bool synthetic = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "decode_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--model") model_path = next();
    else if (a == "--contexts") contexts = parse_list(next());
    else if (a == "--steps") steps = std::atoi(next().c_str());
    else if (a == "--kv-dtype") kv_dtype = next();
    else if (a == "--prefill-chunk") chunk = std::atoi(next().c_str());
    else if (a == "--synthetic-fill") synthetic = true;
    else {
      std::fprintf(stderr, "decode_bench: unknown option %s\n", a.c_str());
      return 2;
    }
  }
  try {
    tc::ModelLoadOptions load;
    load.load_tokenizer = false;
    auto model = tc::Model::load(model_path, load);
    const tc::ModelConfig& c = model->config();
    tc::ThreadPool& pool = tc::ThreadPool::global();
    std::printf("model: %s\n  %s\n", model_path.c_str(), c.describe().c_str());
    std::printf("threads: %d, kv dtype: %s, fill: %s, %d decode steps per context\n", pool.size(), kv_dtype.c_str(),
                synthetic ? "synthetic K/V" : "real prefill", steps);
    std::printf("weights read per step: %.2f MiB\n", double(model->weight_bytes_per_token()) / 1048576.0);
    std::printf("loadavg before: %s\n\n", load_average().c_str());
    std::printf("%8s %12s %12s %14s %12s %10s\n", "context", "prefill s", "decode tok/s", "MiB/step", "GB/s", "ms/step");

    for (int ctx : contexts) {
      TC_CHECK_ARG(ctx > 0 && ctx + steps <= c.context_length, "context %d + %d steps exceeds the model's %d", ctx, steps,
                   c.context_length);
      tc::KvOptions kv;
      kv.dtype = kv_dtype;
      tc::KvSetup setup = tc::make_kv_setup(*model, kv, ctx, steps);
      tc::SessionOptions so;
      so.prefill_chunk = chunk;
      tc::Rng rng{uint64_t(ctx)};
      std::vector<int32_t> ids(static_cast<size_t>(ctx));
      for (auto& id : ids) id = int32_t(rng.below(uint64_t(c.vocab)));
      double prefill_s = 0;
      std::unique_ptr<tc::Session> session;
      if (synthetic) {
        // ctx tokens of random K/V at positions 0..ctx-1, then one real token on top.
        // k, v: [ctx][n_kv_heads][head_dim]
        std::vector<float> k(size_t(ctx - 1) * c.kv_dim()), v(k.size());
        std::vector<int32_t> pos(size_t(ctx - 1));
        for (auto& x : k) x = float(rng.normal());
        for (auto& x : v) x = float(rng.normal());
        for (int i = 0; i < ctx - 1; ++i) pos[size_t(i)] = i;
        if (ctx > 1)
          for (int l = 0; l < c.n_layers; ++l) setup.cache->append(l, ctx - 1, k.data(), v.data(), pos.data());
        // The session's own tokens continue at position ctx - 1, after the synthetic ones.
        so.start_position = ctx - 1;
        session = std::make_unique<tc::Session>(*model, *setup.cache, setup.policy.get(), so);
        session->prefill(ids.data() + ctx - 1, 1);
        prefill_s = session->stats().prefill_seconds;
      } else {
        session = std::make_unique<tc::Session>(*model, *setup.cache, setup.policy.get(), so);
        session->prefill(ids.data(), ctx);
        prefill_s = session->stats().prefill_seconds;
      }
      int32_t next = ids.back();
      const uint64_t bytes0 = session->stats().decode_bytes;
      double t0 = now_seconds();
      for (int s = 0; s < steps; ++s) {
        const float* logits = session->decode(next);
        int32_t best = 0;  // greedy, so the run is deterministic
        for (int i = 1; i < c.vocab; ++i)
          if (logits[i] > logits[best]) best = i;
        next = best;
      }
      double dt = now_seconds() - t0;
      double bytes = double(session->stats().decode_bytes - bytes0);
      std::printf("%8d %12.2f %12.2f %14.2f %12.2f %10.2f\n", ctx, prefill_s, steps / dt, bytes / steps / 1048576.0,
                  bytes * 1e-9 / dt, dt * 1000.0 / steps);
      std::fflush(stdout);
    }
    std::printf("\nloadavg after: %s\n", load_average().c_str());
  } catch (const tc::Error& e) {
    std::fprintf(stderr, "decode_bench: error: %s\n", e.what());
    return 1;
  }
  return 0;
}

// Reference implementations of the CPU kernels (see ops_ref.h): double accumulation,
// row-at-a-time reads, no SIMD. The fast kernels in this directory are tested against them.
#include "backend/cpu/ops_ref.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "util/error.h"

namespace tc::cpu::ref {

void matmul(const TensorView& w, const float* x, float* y, int n, ThreadPool& pool) {
  const int64_t out = w.rows(), in = w.cols();
  pool.parallel_for(out, [&](int64_t begin, int64_t end, int) {
    std::vector<float> row(static_cast<size_t>(in));
    for (int64_t o = begin; o < end; ++o) {
      tc::dequantize_row(w.dtype, w.row(o), row.data(), in);
      for (int t = 0; t < n; ++t) {
        const float* xt = x + size_t(t) * in;
        double acc = 0;
        for (int64_t i = 0; i < in; ++i) acc += double(row[i]) * xt[i];
        y[size_t(t) * out + o] = float(acc);
      }
    }
  }, 16);
}

void embedding_row(const TensorView& table, int64_t row, float* out) {
  TC_CHECK_ARG(row >= 0 && row < table.rows(), "token id %lld is outside the vocabulary (%lld rows)", (long long)row,
               (long long)table.rows());
  tc::dequantize_row(table.dtype, table.row(row), out, table.cols());
}

void rms_norm(const float* x, const float* weight, float* y, int n, int d, float eps) {
  for (int r = 0; r < n; ++r) {
    const float* xr = x + size_t(r) * d;
    float* yr = y + size_t(r) * d;
    double ss = 0;
    for (int i = 0; i < d; ++i) ss += double(xr[i]) * xr[i];
    float inv = float(1.0 / std::sqrt(ss / d + eps));
    for (int i = 0; i < d; ++i) yr[i] = xr[i] * inv * weight[i];
  }
}

void rope(float* x, int n_heads, int head_dim, int64_t pos, const float* inv_freq, RopeStyle style) {
  const int half = head_dim / 2;
  for (int h = 0; h < n_heads; ++h) {
    float* xh = x + size_t(h) * head_dim;
    for (int i = 0; i < half; ++i) {
      double angle = double(pos) * inv_freq[i];
      float c = float(std::cos(angle)), s = float(std::sin(angle));
      int a = style == RopeStyle::Neox ? i : 2 * i;
      int b = style == RopeStyle::Neox ? i + half : 2 * i + 1;
      float x0 = xh[a], x1 = xh[b];
      xh[a] = x0 * c - x1 * s;
      xh[b] = x0 * s + x1 * c;
    }
  }
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

void softmax(float* x, int n) {
  if (n <= 0) return;
  float m = *std::max_element(x, x + n);
  double sum = 0;
  for (int i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - m);
    sum += x[i];
  }
  float inv = float(1.0 / sum);
  for (int i = 0; i < n; ++i) x[i] *= inv;
}

void attention(const float* q, int n_tokens, const int32_t* q_pos, const KvCache& cache, int layer, float scale,
               float* out, float* probs, float* colsum, int probs_stride, ThreadPool& pool) {
  const int n_heads = cache.shape().n_heads, d = cache.head_dim();
  pool.parallel_for(n_heads, [&](int64_t h0, int64_t h1, int) {
    std::vector<float> k(d), v(d), p;
    for (int64_t h = h0; h < h1; ++h) {
      int sh = cache.store_head_of_query(int(h));
      int n = cache.size(layer, sh);
      const int32_t* pos = cache.positions(layer, sh);
      p.assign(size_t(n), 0.0f);
      for (int t = 0; t < n_tokens; ++t) {
        const float* qh = q + (size_t(t) * n_heads + h) * d;
        float m = -INFINITY;
        for (int s = 0; s < n; ++s) {
          if (pos[s] > q_pos[t]) {
            p[s] = -INFINITY;
            continue;
          }
          cache.read_k(layer, sh, s, k.data());
          double dot = 0;
          for (int i = 0; i < d; ++i) dot += double(qh[i]) * k[i];
          p[s] = float(dot) * scale;
          m = std::max(m, p[s]);
        }
        double sum = 0;
        for (int s = 0; s < n; ++s) {
          p[s] = p[s] == -INFINITY ? 0.0f : std::exp(p[s] - m);
          sum += p[s];
        }
        float* o = out + (size_t(t) * n_heads + h) * d;
        std::fill(o, o + d, 0.0f);
        for (int s = 0; s < n; ++s) {
          p[s] = sum > 0 ? float(p[s] / sum) : 0.0f;  // no visible slot: zero output, zero probs
          if (p[s] == 0) continue;
          cache.read_v(layer, sh, s, v.data());
          for (int i = 0; i < d; ++i) o[i] += p[s] * v[i];
        }
        if (colsum)
          for (int s = 0; s < n; ++s) colsum[size_t(h) * probs_stride + s] += p[s];
        if (probs && t == n_tokens - 1)
          for (int s = 0; s < n; ++s) probs[size_t(h) * probs_stride + s] = p[s];
      }
    }
  });
}

}  // namespace tc::cpu::ref

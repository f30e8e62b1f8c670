// Attention over the KV cache with score taps (semantics: ops_ref.cpp).
//
// Decode (one query token): work items are (store head, slot chunk). An item reads each K
// row once (f16/bf16 -> f32 in registers) for all G query heads sharing it, keeps the
// chunk's scores, exponentiates them against the chunk max and sums the V rows weighted by
// them. A second pass per query head merges the chunks (flash-decoding style rescaling) and,
// when asked, turns the kept exponentials into the probs / colsum taps.
//
// Prefill (several query tokens): work items are (store head, tile of query tokens). The
// tile's queries of all G heads sharing the store head sit in vector lanes (Qt: [d][rows]),
// so scores, masks and the online softmax are lane-wise; K and V stream through in tiles of
// kSlotTile slots converted to f32, and both products go through gemm_bcast_a. Slot tiles
// whose positions all lie in the future of the query tile are skipped. When taps are wanted
// a second sweep recomputes the scores against the final max/sum to emit exact probabilities.
// Memory beyond the output: per-thread tiles, plus per-thread colsum rows when colsum is set.
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <vector>

#include "backend/cpu/gemm.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/simd.h"
#include "util/error.h"

namespace tc::cpu {

namespace {

using namespace simd;

template <DType KD>
TC_INLINE VF kv_load(const uint8_t* row, int i) {
  if constexpr (KD == DType::F32) return load(reinterpret_cast<const float*>(row) + i);
  if constexpr (KD == DType::F16) return load_f16(reinterpret_cast<const uint16_t*>(row) + i);
  if constexpr (KD == DType::BF16) return load_bf16(reinterpret_cast<const uint16_t*>(row) + i);
}
template <DType KD>
TC_INLINE VF kv_load_partial(const uint8_t* row, int i, int n) {
  if constexpr (KD == DType::F32) return load_partial(reinterpret_cast<const float*>(row) + i, n);
  if constexpr (KD == DType::F16) return load_f16_partial(reinterpret_cast<const uint16_t*>(row) + i, n);
  if constexpr (KD == DType::BF16) return load_bf16_partial(reinterpret_cast<const uint16_t*>(row) + i, n);
}
// Elements [i, i + kW) of a row of d, zero beyond d.
template <DType KD>
TC_INLINE VF kv_chunk(const uint8_t* row, int i, int d) {
  return i + kW <= d ? kv_load<KD>(row, i) : kv_load_partial<KD>(row, i, d - i);
}
TC_INLINE VF f32_chunk(const float* p, int i, int d) { return i + kW <= d ? load(p + i) : load_partial(p + i, d - i); }

// Converts rows [0, n) of a K or V tile to f32.  out: [n][d]
template <DType KD>
void kv_rows_to_f32(const uint8_t* rows, size_t row_bytes, int n, int d, float* out) {
  for (int s = 0; s < n; ++s) {
    const uint8_t* row = rows + s * row_bytes;
    float* o = out + size_t(s) * d;
    int i = 0;
    for (; i + kW <= d; i += kW) store(o + i, kv_load<KD>(row, i));
    if (i < d) store_partial(o + i, kv_load_partial<KD>(row, i, d - i), d - i);
  }
}

template <class T>
T* grow(std::vector<T>& buf, size_t n) {
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

struct Geometry {
  int n_heads, n_store, group, d;  // group: query heads per store head
};

// =====================================================================================
// Decode

// Slots per decode work item: at least kMinDecodeChunk, and enough items for the pool.
constexpr int kMinDecodeChunk = 256;

// Scores of GB query heads against slots [s0, s1) of one store head.
// e: [GB][e_stride] receives scale * q·k, or -inf where the slot is in the query's future.
// Four slots at a time: each K chunk is converted once for all GB heads, and the four
// partial dot products of a head are reduced together (reduce4).
template <DType KD, int GB>
void decode_scores(const float* q, const uint8_t* k_rows, size_t row_bytes, const int32_t* pos, int32_t qpos,
                   int s0, int s1, int d, float scale, float* e, int64_t e_stride) {
  for (int sb = s0; sb < s1; sb += 4) {
    const int ns = std::min(4, s1 - sb);
    const uint8_t* row[4];
    for (int s = 0; s < 4; ++s) row[s] = k_rows + (sb + (s < ns ? s : 0)) * row_bytes;  // tail: repeat a row
    VF acc[GB][4];
#pragma GCC unroll 8
    for (int g = 0; g < GB; ++g)
#pragma GCC unroll 4
      for (int s = 0; s < 4; ++s) acc[g][s] = zero();
    for (int i = 0; i < d; i += kW) {
      VF k[4];
#pragma GCC unroll 4
      for (int s = 0; s < 4; ++s) k[s] = kv_chunk<KD>(row[s], i, d);
#pragma GCC unroll 8
      for (int g = 0; g < GB; ++g) {
        const VF qv = f32_chunk(q + g * d, i, d);
#pragma GCC unroll 4
        for (int s = 0; s < 4; ++s) acc[g][s] = fma(qv, k[s], acc[g][s]);
      }
    }
#pragma GCC unroll 8
    for (int g = 0; g < GB; ++g) {
      const V4 dots = reduce4(acc[g][0], acc[g][1], acc[g][2], acc[g][3]);
      float* eg = e + g * e_stride + sb;
      if (ns == 4) {
        store4_scaled_masked(eg, dots, scale, pos + sb, qpos);
      } else {
        for (int s = 0; s < ns; ++s) eg[s] = pos[sb + s] > qpos ? -INFINITY : lane4(dots, s) * scale;
      }
    }
  }
}

// Max of x[0..n).
float max_of(const float* x, int n) {
  VF m = set1(-INFINITY);
  int i = 0;
  for (; i + kW <= n; i += kW) m = max(m, load(x + i));
  if (i < n) m = max(m, load_partial(x + i, n - i, -INFINITY));
  return reduce_max(m);
}

// o[g][i0 .. i0 + NC*kW) (clipped to d) = sum over slots [s0, s1) of e[g][s] * V[s][...],
// for GB heads; all accumulators in registers.
template <DType KD, int GB, int NC>
void decode_weighted_v_chunk(const float* e, int64_t e_stride, const uint8_t* v_rows, size_t row_bytes, int s0,
                             int s1, int d, int i0, float* o) {
  VF acc[GB][NC];
#pragma GCC unroll 8
  for (int g = 0; g < GB; ++g)
#pragma GCC unroll 4
    for (int c = 0; c < NC; ++c) acc[g][c] = zero();
  for (int s = s0; s < s1; ++s) {
    const uint8_t* row = v_rows + s * row_bytes;
#pragma GCC unroll 4
    for (int c = 0; c < NC; ++c) {
      const VF vv = kv_chunk<KD>(row, i0 + c * kW, d);
#pragma GCC unroll 8
      for (int g = 0; g < GB; ++g) acc[g][c] = fma(set1(e[g * e_stride + s]), vv, acc[g][c]);
    }
  }
#pragma GCC unroll 8
  for (int g = 0; g < GB; ++g)
#pragma GCC unroll 4
    for (int c = 0; c < NC; ++c) {
      const int i = i0 + c * kW;
      if (i + kW <= d)
        store(o + g * d + i, acc[g][c]);
      else
        store_partial(o + g * d + i, acc[g][c], d - i);
    }
}

// o[g][d] = sum over slots [s0, s1) of e[g][s] * V[s], for GB heads; d in chunks of 4 vectors.
template <DType KD, int GB>
void decode_weighted_v(const float* e, int64_t e_stride, const uint8_t* v_rows, size_t row_bytes, int s0, int s1,
                       int d, float* o) {
  constexpr int kDv = 4;
  for (int i0 = 0; i0 < d; i0 += kDv * kW) {
    switch (std::min(kDv, (d - i0 + kW - 1) / kW)) {
      case 1: decode_weighted_v_chunk<KD, GB, 1>(e, e_stride, v_rows, row_bytes, s0, s1, d, i0, o); break;
      case 2: decode_weighted_v_chunk<KD, GB, 2>(e, e_stride, v_rows, row_bytes, s0, s1, d, i0, o); break;
      case 3: decode_weighted_v_chunk<KD, GB, 3>(e, e_stride, v_rows, row_bytes, s0, s1, d, i0, o); break;
      default: decode_weighted_v_chunk<KD, GB, 4>(e, e_stride, v_rows, row_bytes, s0, s1, d, i0, o); break;
    }
  }
}

#if defined(TC_SIMD_AVX512)
constexpr int kDecodeScoreHeads = 4, kDecodeVHeads = 4;
#else
constexpr int kDecodeScoreHeads = 2, kDecodeVHeads = 2;
#endif

template <DType KD>
void decode_scores_any(const float* q, int G, const uint8_t* k_rows, size_t row_bytes, const int32_t* pos,
                       int32_t qpos, int s0, int s1, int d, float scale, float* e, int64_t e_stride) {
  for (int g0 = 0; g0 < G; g0 += kDecodeScoreHeads) {
    const float* qg = q + size_t(g0) * d;
    float* eg = e + g0 * e_stride;
    switch (std::min(kDecodeScoreHeads, G - g0)) {
      case 1: decode_scores<KD, 1>(qg, k_rows, row_bytes, pos, qpos, s0, s1, d, scale, eg, e_stride); break;
      case 2: decode_scores<KD, 2>(qg, k_rows, row_bytes, pos, qpos, s0, s1, d, scale, eg, e_stride); break;
#if defined(TC_SIMD_AVX512)
      case 3: decode_scores<KD, 3>(qg, k_rows, row_bytes, pos, qpos, s0, s1, d, scale, eg, e_stride); break;
      case 4: decode_scores<KD, 4>(qg, k_rows, row_bytes, pos, qpos, s0, s1, d, scale, eg, e_stride); break;
#endif
    }
  }
}

template <DType KD>
void decode_weighted_v_any(const float* e, int64_t e_stride, int G, const uint8_t* v_rows, size_t row_bytes, int s0,
                           int s1, int d, float* o) {
  for (int g0 = 0; g0 < G; g0 += kDecodeVHeads) {
    const float* eg = e + g0 * e_stride;
    float* og = o + size_t(g0) * d;
    switch (std::min(kDecodeVHeads, G - g0)) {
      case 1: decode_weighted_v<KD, 1>(eg, e_stride, v_rows, row_bytes, s0, s1, d, og); break;
      case 2: decode_weighted_v<KD, 2>(eg, e_stride, v_rows, row_bytes, s0, s1, d, og); break;
#if defined(TC_SIMD_AVX512)
      case 3: decode_weighted_v<KD, 3>(eg, e_stride, v_rows, row_bytes, s0, s1, d, og); break;
      case 4: decode_weighted_v<KD, 4>(eg, e_stride, v_rows, row_bytes, s0, s1, d, og); break;
#endif
    }
  }
}

// In place e[i] = exp(e[i] - m) over [0, n); returns the sum. e[i] = -inf gives exactly 0.
float exp_shift_sum(float* e, int n, float m) {
  const VF vm = set1(m);
  VF acc = zero();
  int i = 0;
  for (; i + kW <= n; i += kW) {
    const VF x = exp(sub(load(e + i), vm));
    store(e + i, x);
    acc = add(acc, x);
  }
  if (i < n) {
    const VF x = exp(sub(load_partial(e + i, n - i, -INFINITY), vm));  // padding lanes give 0
    store_partial(e + i, x, n - i);
    acc = add(acc, x);
  }
  return reduce_add(acc);
}

template <DType KD>
void attention_decode(const Geometry& g, const float* q, int32_t qpos, const KvCache& cache, int layer, float scale,
                      float* out, float* probs, float* colsum, int probs_stride, ThreadPool& pool) {
  const int G = g.group, d = g.d;
  const size_t row_bytes = cache.row_bytes();
  int n_max = 0;
  for (int sh = 0; sh < g.n_store; ++sh) n_max = std::max(n_max, cache.size(layer, sh));
  const int want_items = 4 * pool.size();
  const int chunks_per_head =
      std::max(1, std::min((want_items + g.n_store - 1) / g.n_store, (n_max + kMinDecodeChunk - 1) / kMinDecodeChunk));
  const int chunk = std::max(1, (n_max + chunks_per_head - 1) / chunks_per_head);
  const int n_items = g.n_store * chunks_per_head;

  // e:        [n_heads][n_max]           scores, then exp(score - chunk max)
  // item_m/l: [n_items][G]               chunk max and sum of exponentials per query head
  // item_o:   [n_items][G][d]            unnormalised chunk output
  thread_local std::vector<float> e_buf, m_buf, l_buf, o_buf;
  const int64_t e_stride = std::max(n_max, 1);
  float* e = grow(e_buf, size_t(g.n_heads) * e_stride);
  float* item_m = grow(m_buf, size_t(n_items) * G);
  float* item_l = grow(l_buf, size_t(n_items) * G);
  float* item_o = grow(o_buf, size_t(n_items) * G * d);

  pool.parallel_for(n_items, [&](int64_t i0, int64_t i1, int) {
    for (int64_t item = i0; item < i1; ++item) {
      const int sh = int(item / chunks_per_head), c = int(item % chunks_per_head);
      const int n = cache.size(layer, sh);
      const int s0 = std::min(n, c * chunk), s1 = std::min(n, s0 + chunk);
      float* im = item_m + item * G;
      float* il = item_l + item * G;
      float* io = item_o + item * G * d;
      float* eh = e + size_t(sh) * G * e_stride;  // the G query heads of this store head
      const float* qh = q + size_t(sh) * G * d;
      decode_scores_any<KD>(qh, G, cache.k_rows(layer, sh), row_bytes, cache.positions(layer, sh), qpos, s0, s1, d,
                            scale, eh, e_stride);
      for (int h = 0; h < G; ++h) {
        float* eg = eh + h * e_stride;
        const float m = max_of(eg + s0, s1 - s0);
        im[h] = m;
        if (m == -INFINITY) {  // empty chunk or every slot in the future
          std::fill(eg + s0, eg + s1, 0.0f);
          il[h] = 0;
        } else {
          il[h] = exp_shift_sum(eg + s0, s1 - s0, m);
        }
      }
      decode_weighted_v_any<KD>(eh, e_stride, G, cache.v_rows(layer, sh), row_bytes, s0, s1, d, io);
    }
  }, 1);

  // Merge the chunks of each query head; emit the taps.
  pool.parallel_for(g.n_heads, [&](int64_t h0, int64_t h1, int) {
    for (int64_t h = h0; h < h1; ++h) {
      const int sh = int(h) / G, gi = int(h) % G;
      const int n = cache.size(layer, sh);
      float M = -INFINITY;
      for (int c = 0; c < chunks_per_head; ++c) M = std::max(M, item_m[(sh * chunks_per_head + c) * G + gi]);
      thread_local std::vector<float> factor_buf;
      float* factor = grow(factor_buf, size_t(chunks_per_head));  // exp(m_c - M) / L per chunk
      double L = 0;
      for (int c = 0; c < chunks_per_head; ++c) {
        const int64_t item = sh * chunks_per_head + c;
        const float mc = item_m[item * G + gi];
        factor[c] = mc == -INFINITY ? 0.0f : std::exp(mc - M);
        L += double(item_l[item * G + gi]) * factor[c];
      }
      const float inv_l = L > 0 ? float(1.0 / L) : 0.0f;
      for (int c = 0; c < chunks_per_head; ++c) factor[c] *= inv_l;
      float* o = out + size_t(h) * d;
      std::fill(o, o + d, 0.0f);
      for (int c = 0; c < chunks_per_head; ++c) {
        if (factor[c] == 0) continue;
        const float* oc = item_o + ((sh * chunks_per_head + c) * G + gi) * size_t(d);
        for (int i = 0; i < d; ++i) o[i] += oc[i] * factor[c];
      }
      if (!probs && !colsum) continue;
      const float* eh = e + size_t(h) * e_stride;
      for (int c = 0; c < chunks_per_head; ++c) {
        const int s0 = std::min(n, c * chunk), s1 = std::min(n, s0 + chunk);
        const float fc = factor[c];
        if (probs)
          for (int s = s0; s < s1; ++s) probs[h * probs_stride + s] = eh[s] * fc;
        if (colsum)
          for (int s = s0; s < s1; ++s) colsum[h * probs_stride + s] += eh[s] * fc;
      }
    }
  });
}

// =====================================================================================
// Prefill

constexpr int kSlotTile = 64;

struct PrefillTile {
  // One work item's buffers (thread-local, reused).
  std::vector<float> qt, ot, st, kf, vf, m, l;
  std::vector<int32_t> qpos;
};

template <DType KD>
void attention_prefill(const Geometry& g, const float* q, int n_tokens, const int32_t* q_pos, const KvCache& cache,
                       int layer, float scale, float* out, float* probs, float* colsum, int probs_stride,
                       ThreadPool& pool) {
  const int G = g.group, d = g.d, H = g.n_heads;
  const size_t row_bytes = cache.row_bytes();
  // Query tokens per tile, padded to whole vectors; rows = G * tq lanes, head-major.
  const int tq = std::min(kW * std::max(1, 4 / G), (n_tokens + kW - 1) / kW * kW);
  const int rows = G * tq, nvq = rows / kW, vec_per_head = tq / kW;
  const int n_qtiles = (n_tokens + tq - 1) / tq;
  const int n_items = g.n_store * n_qtiles;
  int n_max = 0;
  for (int sh = 0; sh < g.n_store; ++sh) n_max = std::max(n_max, cache.size(layer, sh));

  // colsum_parts: [threads][n_heads][n_max], one private accumulator per pool thread.
  thread_local std::vector<float> colsum_buf;
  float* colsum_parts = nullptr;
  if (colsum) {
    colsum_parts = grow(colsum_buf, size_t(pool.size()) * H * std::max(n_max, 1));
    std::fill(colsum_parts, colsum_parts + size_t(pool.size()) * H * std::max(n_max, 1), 0.0f);
  }
  const int last = n_tokens - 1;

  pool.parallel_for(n_items, [&](int64_t i0, int64_t i1, int thread) {
    thread_local PrefillTile b;
    float* qt = grow(b.qt, size_t(d) * rows);    // qt: [d][rows]  scaled queries
    float* ot = grow(b.ot, size_t(d) * rows);    // ot: [d][rows]  unnormalised output
    float* st = grow(b.st, size_t(kSlotTile) * rows);  // st: [kSlotTile][rows] scores / probabilities
    float* kf = grow(b.kf, size_t(kSlotTile) * d);     // kf, vf: [kSlotTile][d]
    float* vf = grow(b.vf, size_t(kSlotTile) * d);
    float* m = grow(b.m, size_t(rows));
    float* l = grow(b.l, size_t(rows));
    int32_t* qpos = grow(b.qpos, size_t(rows));
    for (int64_t item = i0; item < i1; ++item) {
      const int sh = int(item / n_qtiles), t0 = int(item % n_qtiles) * tq;
      const int tn = std::min(tq, n_tokens - t0);
      const int n = cache.size(layer, sh);
      const int32_t* pos = cache.positions(layer, sh);
      const uint8_t* k_rows = cache.k_rows(layer, sh);
      const uint8_t* v_rows = cache.v_rows(layer, sh);
      int32_t qmin = INT32_MAX, qmax = INT32_MIN;
      for (int gi = 0; gi < G; ++gi) {
        const int h = sh * G + gi;
        for (int t = 0; t < tq; ++t) {
          const int r = gi * tq + t;
          if (t < tn) {
            const float* qv = q + (size_t(t0 + t) * H + h) * d;
            for (int i = 0; i < d; ++i) qt[size_t(i) * rows + r] = qv[i] * scale;
            qpos[r] = q_pos[t0 + t];
            qmin = std::min(qmin, qpos[r]);
            qmax = std::max(qmax, qpos[r]);
          } else {
            for (int i = 0; i < d; ++i) qt[size_t(i) * rows + r] = 0.0f;
            qpos[r] = INT32_MIN;  // padding lane: sees nothing
          }
        }
      }
      std::fill(ot, ot + size_t(d) * rows, 0.0f);
      std::fill(m, m + rows, -INFINITY);
      std::fill(l, l + rows, 0.0f);

      // Visibility of slots [s0, s0 + ts): -1 none, 1 all (for every real query), 0 mixed.
      auto tile_visibility = [&](int s0, int ts) {
        int32_t pmin = INT32_MAX, pmax = INT32_MIN;
        for (int s = s0; s < s0 + ts; ++s) {
          pmin = std::min(pmin, pos[s]);
          pmax = std::max(pmax, pos[s]);
        }
        return pmin > qmax ? -1 : pmax <= qmin ? 1 : 0;
      };
      // st = scaled scores of the tile, masked with -inf where a slot is in a lane's future.
      auto tile_scores = [&](int s0, int ts, bool mask) {
        kv_rows_to_f32<KD>(k_rows + s0 * row_bytes, row_bytes, ts, d, kf);
        gemm_bcast_a(ts, nvq, d, kf, d, 1, qt, rows, st, rows, false);
        if (!mask) return;
        for (int s = 0; s < ts; ++s) {
          const VI ps = set1_i(pos[s0 + s]);
          for (int v = 0; v < nvq; ++v) {
            float* sv = st + s * rows + v * kW;
            store(sv, select(cmp_le_i(ps, load_i(qpos + v * kW)), load(sv), set1(-INFINITY)));
          }
        }
      };

      for (int s0 = 0; s0 < n; s0 += kSlotTile) {
        const int ts = std::min(kSlotTile, n - s0);
        const int vis = tile_visibility(s0, ts);
        if (vis < 0) continue;
        tile_scores(s0, ts, vis == 0);
        for (int v = 0; v < nvq; ++v) {
          VF tmax = set1(-INFINITY);
          for (int s = 0; s < ts; ++s) tmax = max(tmax, load(st + s * rows + v * kW));
          const VF m_old = load(m + v * kW);
          const VF m_new = max(m_old, tmax);
          const VF m_use = select(cmp_eq(m_new, set1(-INFINITY)), zero(), m_new);
          VF sum = zero();
          for (int s = 0; s < ts; ++s) {
            float* sv = st + s * rows + v * kW;
            const VF p = exp(sub(load(sv), m_use));
            store(sv, p);
            sum = add(sum, p);
          }
          if (any(cmp_gt(m_new, m_old))) {  // the max moved: rescale what was accumulated
            const VF alpha = exp(sub(m_old, m_use));
            store(l + v * kW, fma(load(l + v * kW), alpha, sum));
            for (int i = 0; i < d; ++i) {
              float* ov = ot + size_t(i) * rows + v * kW;
              store(ov, mul(load(ov), alpha));
            }
          } else {
            store(l + v * kW, add(load(l + v * kW), sum));
          }
          store(m + v * kW, m_new);
        }
        kv_rows_to_f32<KD>(v_rows + s0 * row_bytes, row_bytes, ts, d, vf);
        // ot[i][r] += sum_s vf[s][i] * st[s][r]
        gemm_bcast_a(d, nvq, ts, vf, 1, d, st, rows, ot, rows, true);
      }

      // l becomes 1/l (0 for a query that saw nothing); write the outputs.
      for (int r = 0; r < rows; ++r) l[r] = l[r] > 0 ? 1.0f / l[r] : 0.0f;
      for (int gi = 0; gi < G; ++gi) {
        const int h = sh * G + gi;
        for (int t = 0; t < tn; ++t) {
          const int r = gi * tq + t;
          float* o = out + (size_t(t0 + t) * H + h) * d;
          for (int i = 0; i < d; ++i) o[i] = ot[size_t(i) * rows + r] * l[r];
        }
      }

      const bool has_last = last >= t0 && last < t0 + tn;
      if (!colsum && !(probs && has_last)) continue;
      if (probs && has_last)
        for (int gi = 0; gi < G; ++gi) std::fill(probs + size_t(sh * G + gi) * probs_stride,
                                                 probs + size_t(sh * G + gi) * probs_stride + n, 0.0f);
      for (int s0 = 0; s0 < n; s0 += kSlotTile) {
        const int ts = std::min(kSlotTile, n - s0);
        if (tile_visibility(s0, ts) < 0) continue;
        tile_scores(s0, ts, true);  // always mask here: padding lanes must contribute 0
        for (int v = 0; v < nvq; ++v) {
          const VF mv = load(m + v * kW);
          const VF m_use = select(cmp_eq(mv, set1(-INFINITY)), zero(), mv);
          const VF inv_l = load(l + v * kW);
          const int h = sh * G + v / vec_per_head;
          float* cs = colsum ? colsum_parts + (size_t(thread) * H + h) * n_max : nullptr;
          for (int s = 0; s < ts; ++s) {
            float* sv = st + s * rows + v * kW;
            const VF p = mul(exp(sub(load(sv), m_use)), inv_l);
            store(sv, p);
            if (cs) cs[s0 + s] += reduce_add(p);
          }
        }
        if (probs && has_last)
          for (int gi = 0; gi < G; ++gi) {
            const int r = gi * tq + (last - t0);
            float* pr = probs + size_t(sh * G + gi) * probs_stride;
            for (int s = 0; s < ts; ++s) pr[s0 + s] = st[s * rows + r];
          }
      }
    }
  }, 1);

  if (colsum) {
    pool.parallel_for(H, [&](int64_t h0, int64_t h1, int) {
      for (int64_t h = h0; h < h1; ++h) {
        const int n = cache.size(layer, cache.store_head_of_query(int(h)));
        float* dst = colsum + h * probs_stride;
        for (int t = 0; t < pool.size(); ++t) {
          const float* part = colsum_parts + (size_t(t) * H + h) * n_max;
          for (int s = 0; s < n; ++s) dst[s] += part[s];
        }
      }
    });
  }
}

template <DType KD>
void attention_dtype(const Geometry& g, const float* q, int n_tokens, const int32_t* q_pos, const KvCache& cache,
                     int layer, float scale, float* out, float* probs, float* colsum, int probs_stride,
                     ThreadPool& pool) {
  if (n_tokens == 1)
    attention_decode<KD>(g, q, q_pos[0], cache, layer, scale, out, probs, colsum, probs_stride, pool);
  else
    attention_prefill<KD>(g, q, n_tokens, q_pos, cache, layer, scale, out, probs, colsum, probs_stride, pool);
}

}  // namespace

void attention(const float* q, int n_tokens, const int32_t* q_pos, const KvCache& cache, int layer, float scale,
               float* out, float* probs, float* colsum, int probs_stride, ThreadPool& pool) {
  if (n_tokens <= 0) return;
  TC_CHECK_ARG(layer >= 0 && layer < cache.n_layers(), "attention: layer %d outside the cache's %d layers", layer,
               cache.n_layers());
  const Geometry g{cache.shape().n_heads, cache.n_store_heads(), cache.queries_per_store_head(), cache.head_dim()};
  switch (cache.dtype()) {
    case DType::F32:
      return attention_dtype<DType::F32>(g, q, n_tokens, q_pos, cache, layer, scale, out, probs, colsum, probs_stride, pool);
    case DType::F16:
      return attention_dtype<DType::F16>(g, q, n_tokens, q_pos, cache, layer, scale, out, probs, colsum, probs_stride, pool);
    case DType::BF16:
      return attention_dtype<DType::BF16>(g, q, n_tokens, q_pos, cache, layer, scale, out, probs, colsum, probs_stride, pool);
    default:
      TC_THROW("attention: KV cache dtype %s is not supported", dtype_name(cache.dtype()));
  }
}

}  // namespace tc::cpu

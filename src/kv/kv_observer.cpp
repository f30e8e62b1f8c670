#include "kv/kv_observer.h"

#include <algorithm>
#include <cmath>

#include "kv/policy_score_ops.h"
#include "util/error.h"

namespace tc {

KvObserver::KvObserver(std::unique_ptr<KvPolicy> inner, const ObserverOptions& options)
    : inner_(std::move(inner)), options_(options) {
  TC_CHECK_ARG(inner_ != nullptr, "observer: no policy to wrap");
  TC_CHECK_ARG(options.alpha > 0 && options.alpha <= 1, "observer: alpha must be in (0, 1], got %g", options.alpha);
  TC_CHECK_ARG(options.outlier_factor > 0, "observer: outlier factor must be positive");
}

AttentionNeeds KvObserver::needs() const {
  AttentionNeeds n = inner_->needs();
  n.current_probs = true;
  return n;
}

void KvObserver::attach(KvCache& cache) {
  cache_ = &cache;
  n_heads_ = options_.per_kv_head ? cache.shape().n_kv_heads : cache.shape().n_heads;
  queries_per_track_ = cache.shape().n_heads / n_heads_;
  tracks_.assign(size_t(cache.n_layers()) * n_heads_, Track{});
  value_ranges_.assign(size_t(cache.n_layers()), {});
  range_pos_.assign(size_t(cache.n_layers()), {});
  decode_steps_ = 0;
  inner_->attach(cache);
}

void KvObserver::begin_forward(const ForwardInfo& info) {
  fwd_ = info;
  if (!info.is_prefill) decode_steps_ = std::max(decode_steps_, info.step);
  for (Track& t : tracks_) {
    if (int64_t(t.ts.size()) < info.total_tokens) {
      t.ts.resize(size_t(info.total_tokens), -1);
      t.mri.resize(size_t(info.total_tokens), 0);
    }
  }
  inner_->begin_forward(info);
}

void KvObserver::on_append(int layer, int n_tokens) {
  const KvCache& c = *cache_;
  std::vector<float> v(size_t(c.head_dim()));
  const int per_kv = c.n_store_heads() / c.shape().n_kv_heads;  // copies of a KV head (PerQueryHead layout)
  for (int h = 0; h < c.n_store_heads(); h += per_kv) {
    const int n = c.size(layer, h);
    for (int s = n - n_tokens; s < n; ++s) {
      c.read_v(layer, h, s, v.data());
      value_ranges_[layer].push_back(value_range(v.data(), c.head_dim()));
      range_pos_[layer].push_back(c.positions(layer, h)[s]);
    }
  }
  inner_->on_append(layer, n_tokens);
}

void KvObserver::on_attention(const AttentionStats& stats) {
  if (!fwd_.is_prefill) {
    TC_CHECK_ARG(stats.probs != nullptr,
                 "observer: the engine did not pass the current query's attention probabilities (layer %d)",
                 stats.layer);
    const KvCache& c = *cache_;
    const int32_t t = int32_t(fwd_.step);
    const float alpha = float(options_.alpha);
    for (int h = 0; h < stats.n_heads; ++h) {
      const int sh = c.store_head_of_query(h);
      const int n = c.size(stats.layer, sh);
      const int32_t* pos = c.positions(stats.layer, sh);
      const float* p = stats.probs + size_t(h) * stats.stride;
      // Per KV head, the group's query heads update one track: a second activation of a
      // token in the same step finds TS = t already and changes nothing ("any head").
      Track& tr = track(stats.layer, h / queries_per_track_);
      for (int s = 0; s < n; ++s) {
        const int32_t q = pos[s];
        int32_t& ts = tr.ts[q];
        // First sight: LazyEviction's initial state (TS = 0 for tokens present at t = 1, else t − 1).
        if (ts < 0) ts = (t >= 2 && q >= fwd_.first_pos) ? t - 1 : 0;
        if (p[s] >= alpha) {
          tr.mri[q] = std::max(tr.mri[q], t - ts);
          ts = t;
        }
      }
    }
  }
  // The wrapped policy sees only what it asked for.
  const AttentionNeeds inner_needs = inner_->needs();
  AttentionStats forwarded = stats;
  if (!inner_needs.current_probs) forwarded.probs = nullptr;
  if (!inner_needs.prob_colsum) forwarded.colsum = nullptr;
  inner_->on_attention(forwarded);
}

int KvObserver::mri(int layer, int head, int64_t position) const {
  const Track& tr = track(layer, head);
  if (position < 0 || position >= int64_t(tr.ts.size()) || tr.ts[position] < 0) return -1;
  return tr.mri[position];
}

int KvObserver::last_active(int layer, int head, int64_t position) const {
  const Track& tr = track(layer, head);
  if (position < 0 || position >= int64_t(tr.ts.size())) return -1;
  return tr.ts[position];
}

int64_t KvObserver::table_positions() const {
  size_t n = 0;
  for (const Track& t : tracks_) n = std::max(n, t.ts.size());
  return int64_t(n);
}

std::vector<int32_t> KvObserver::mri_table() const {
  const size_t n = size_t(table_positions());
  std::vector<int32_t> out(tracks_.size() * n, -1);
  for (size_t i = 0; i < tracks_.size(); ++i)
    for (size_t q = 0; q < tracks_[i].ts.size(); ++q)
      if (tracks_[i].ts[q] >= 0) out[i * n + q] = tracks_[i].mri[q];
  return out;
}

std::vector<int32_t> KvObserver::ts_table() const {
  const size_t n = size_t(table_positions());
  std::vector<int32_t> out(tracks_.size() * n, -1);
  for (size_t i = 0; i < tracks_.size(); ++i) std::copy(tracks_[i].ts.begin(), tracks_[i].ts.end(), out.begin() + i * n);
  return out;
}

namespace {

// Nearest-rank percentile of sorted values (q in [0, 1]).
double percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  size_t rank = size_t(std::ceil(q * double(sorted.size())));
  return sorted[std::min(sorted.size(), std::max<size_t>(rank, 1)) - 1];
}

int log2_bin(int mri) {
  if (mri <= 0) return 0;
  int b = 1;
  while (mri > 1) {
    mri >>= 1;
    ++b;
  }
  return b;  // 1 -> 1, [2, 3] -> 2, [4, 7] -> 3, ...
}

}  // namespace

RecurrenceSummary KvObserver::recurrence() const {
  RecurrenceSummary r;
  r.gaps = options_.recurrence_gaps;
  std::vector<int64_t> recurring(r.gaps.size(), 0);
  std::vector<double> active;
  for (const Track& tr : tracks_) {
    for (size_t q = 0; q < tr.ts.size(); ++q) {
      if (tr.ts[q] < 0) continue;
      const int m = tr.mri[q];
      ++r.tokens;
      if (m == 0) ++r.never_active;
      else active.push_back(m);
      const int bin = log2_bin(m);
      if (int(r.histogram.size()) <= bin) r.histogram.resize(size_t(bin) + 1, 0);
      ++r.histogram[bin];
      for (size_t g = 0; g < r.gaps.size(); ++g) recurring[g] += m >= r.gaps[g];
    }
  }
  std::sort(active.begin(), active.end());
  r.p50 = percentile(active, 0.50);
  r.p80 = percentile(active, 0.80);
  r.p90 = percentile(active, 0.90);
  r.p95 = percentile(active, 0.95);
  r.p99 = percentile(active, 0.99);
  r.max = active.empty() ? 0 : active.back();
  r.recommended_window = int(std::ceil(r.p80));
  for (size_t g = 0; g < r.gaps.size(); ++g)
    r.share_recurring.push_back(r.tokens ? double(recurring[g]) / double(r.tokens) : 0.0);
  return r;
}

std::vector<ValueRangeLayer> KvObserver::value_ranges() const {
  std::vector<ValueRangeLayer> out;
  for (size_t l = 0; l < value_ranges_.size(); ++l) {
    const std::vector<float>& ranges = value_ranges_[l];
    ValueRangeLayer v;
    v.tokens = int64_t(ranges.size());
    if (!ranges.empty()) {
      std::vector<double> sorted(ranges.begin(), ranges.end());
      std::sort(sorted.begin(), sorted.end());
      v.median = percentile(sorted, 0.5);
      v.p90 = percentile(sorted, 0.9);
      v.p99 = percentile(sorted, 0.99);
      v.max = sorted.back();
      double sum = 0, sink_sum = 0;
      int64_t outliers = 0, sinks = 0;
      for (size_t i = 0; i < ranges.size(); ++i) {
        sum += ranges[i];
        outliers += ranges[i] > options_.outlier_factor * v.median;
        if (range_pos_[l][i] < 4) {
          sink_sum += ranges[i];
          ++sinks;
        }
      }
      v.mean = sum / double(ranges.size());
      v.outlier_share = double(outliers) / double(ranges.size());
      v.sink_ratio = sinks && v.median > 0 ? sink_sum / double(sinks) / v.median : 0.0;
      std::vector<size_t> idx(ranges.size());
      for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
      const size_t k = std::min(idx.size(), size_t(std::max(0, options_.top_tokens)));
      std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](size_t a, size_t b) {
        return ranges[a] != ranges[b] ? ranges[a] > ranges[b] : a < b;
      });
      for (size_t i = 0; i < k; ++i) v.top.push_back({range_pos_[l][idx[i]], ranges[idx[i]]});
    }
    out.push_back(std::move(v));
  }
  return out;
}

Json KvObserver::to_json() const {
  RecurrenceSummary r = recurrence();
  Json rec = Json::object();
  rec.set("alpha", options_.alpha);
  rec.set("heads", options_.per_kv_head ? "kv" : "query");
  rec.set("tracked_heads_per_layer", n_heads_);
  rec.set("decode_steps", decode_steps_);
  rec.set("tracked_tokens", r.tokens);
  rec.set("never_active_share", r.tokens ? double(r.never_active) / double(r.tokens) : 0.0);
  Json pct = Json::object();
  pct.set("p50", r.p50);
  pct.set("p80", r.p80);
  pct.set("p90", r.p90);
  pct.set("p95", r.p95);
  pct.set("p99", r.p99);
  pct.set("max", r.max);
  rec.set("mri_percentiles", std::move(pct));
  rec.set("recommended_window", r.recommended_window);
  Json shares = Json::array();
  for (size_t g = 0; g < r.gaps.size(); ++g) {
    Json j = Json::object();
    j.set("min_gap", r.gaps[g]);
    j.set("share", r.share_recurring[g]);
    shares.push(std::move(j));
  }
  rec.set("recurring_share", std::move(shares));
  Json hist = Json::array();
  for (size_t b = 0; b < r.histogram.size(); ++b) {
    Json j = Json::object();
    j.set("mri_min", b == 0 ? 0 : (1 << (b - 1)));
    j.set("mri_max", b == 0 ? 0 : (1 << b) - 1);
    j.set("count", r.histogram[b]);
    hist.push(std::move(j));
  }
  rec.set("mri_histogram", std::move(hist));

  Json layers = Json::array();
  std::vector<ValueRangeLayer> vr = value_ranges();
  for (size_t l = 0; l < vr.size(); ++l) {
    const ValueRangeLayer& v = vr[l];
    Json j = Json::object();
    j.set("layer", int(l));
    j.set("tokens", v.tokens);
    j.set("mean", v.mean);
    j.set("median", v.median);
    j.set("p90", v.p90);
    j.set("p99", v.p99);
    j.set("max", v.max);
    j.set("outlier_share", v.outlier_share);
    j.set("sink_ratio", v.sink_ratio);
    Json top = Json::array();
    for (auto [pos, range] : v.top) {
      Json t = Json::object();
      t.set("position", pos);
      t.set("range", double(range));
      top.push(std::move(t));
    }
    j.set("top", std::move(top));
    layers.push(std::move(j));
  }
  Json vj = Json::object();
  vj.set("outlier_factor", options_.outlier_factor);
  vj.set("layers", std::move(layers));

  Json out = Json::object();
  out.set("recurrence", std::move(rec));
  out.set("value_ranges", std::move(vj));
  return out;
}

std::string KvObserver::to_svg() const {
  RecurrenceSummary r = recurrence();
  std::vector<ValueRangeLayer> vr = value_ranges();
  const int w = 900, h = 360, pad = 50, panel = (w - 3 * pad) / 2, ph = h - 2 * pad;
  std::string s = str_printf(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" "
      "font-size=\"11\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
      w, h);
  // Panel 1: MRI histogram over log2 bins, bar heights on a log10 count scale.
  {
    const int x0 = pad, y0 = pad;
    s += str_printf("<text x=\"%d\" y=\"%d\" font-size=\"13\">Token MRI (alpha %g): p80 = %.0f -> W = %d</text>\n", x0,
                    y0 - 15, options_.alpha, r.p80, r.recommended_window);
    s += str_printf("<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#888\"/>\n", x0, y0,
                    panel, ph);
    const size_t bins = std::max<size_t>(r.histogram.size(), 1);
    double top = 1;
    for (int64_t c : r.histogram) top = std::max(top, std::log10(double(c) + 1));
    const double bw = double(panel) / double(bins);
    const int p80_bin = log2_bin(int(r.p80));
    for (size_t b = 0; b < r.histogram.size(); ++b) {
      const double bh = std::log10(double(r.histogram[b]) + 1) / top * ph;
      s += str_printf("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n", x0 + b * bw + 1,
                      y0 + ph - bh, bw - 2, bh, int(b) == p80_bin ? "#d62728" : "#1f77b4");
      s += str_printf("<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", x0 + (b + 0.5) * bw, y0 + ph + 14,
                      b == 0 ? "0" : str_printf("%d", 1 << (b - 1)).c_str());
    }
    s += str_printf("<text x=\"%d\" y=\"%d\">MRI bin (lower edge, log2); bar height log10(count + 1)</text>\n", x0,
                    y0 + ph + 30);
  }
  // Panel 2: value range per layer, median / p99 / max on a log10 scale.
  {
    const int x0 = 2 * pad + panel, y0 = pad;
    s += str_printf("<text x=\"%d\" y=\"%d\" font-size=\"13\">Value range per layer (median, p99, max)</text>\n", x0,
                    y0 - 15);
    s += str_printf("<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#888\"/>\n", x0, y0,
                    panel, ph);
    double lo = 1e30, hi = -1e30;
    for (const auto& v : vr)
      for (double x : {v.median, v.p99, v.max})
        if (x > 0) {
          lo = std::min(lo, std::log10(x));
          hi = std::max(hi, std::log10(x));
        }
    if (hi < lo) lo = 0, hi = 1;
    if (hi - lo < 1e-6) hi = lo + 1;
    const size_t n = std::max<size_t>(vr.size(), 1);
    auto y_of = [&](double x) { return y0 + ph - (x > 0 ? (std::log10(x) - lo) / (hi - lo) : 0.0) * ph; };
    const char* colors[3] = {"#1f77b4", "#ff7f0e", "#d62728"};
    const char* names[3] = {"median", "p99", "max"};
    for (int series = 0; series < 3; ++series) {
      std::string pts;
      for (size_t l = 0; l < vr.size(); ++l) {
        double x = series == 0 ? vr[l].median : series == 1 ? vr[l].p99 : vr[l].max;
        pts += str_printf("%.1f,%.1f ", x0 + (l + 0.5) * panel / double(n), y_of(x));
      }
      s += str_printf("<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"/>\n", pts.c_str(),
                      colors[series]);
      s += str_printf("<text x=\"%d\" y=\"%d\" fill=\"%s\">%s</text>\n", x0 + 10 + 60 * series, y0 + 14, colors[series],
                      names[series]);
    }
    s += str_printf("<text x=\"%d\" y=\"%d\">layer 0 .. %zu; log10 range %.2f .. %.2f</text>\n", x0, y0 + ph + 30,
                    vr.empty() ? size_t(0) : vr.size() - 1, lo, hi);
  }
  s += "</svg>\n";
  return s;
}

}  // namespace tc

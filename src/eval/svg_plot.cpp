#include "eval/svg_plot.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace tc::eval {

namespace {

// Distinguishable colours (Tableau 10 and a few more).
const char* const kPalette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
                                "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac", "#1b9e77", "#7570b3"};
constexpr int kPaletteSize = int(sizeof(kPalette) / sizeof(kPalette[0]));

std::string fmt(double v) { return str_printf("%.2f", v); }

std::string tick_label(double v, double step, bool percent) {
  if (percent) {
    v *= 100;
    step *= 100;
  }
  if (std::fabs(v) < step * 1e-9) v = 0;  // no "-0" or 1e-17
  int decimals = step >= 1 ? 0 : int(std::ceil(-std::log10(step) - 1e-9));
  return str_printf("%.*f%s", std::max(0, decimals), v, percent ? "%" : "");
}

struct Range {
  double lo = INFINITY, hi = -INFINITY;
  void add(double v) {
    if (!std::isfinite(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
};

// The axis range: the given bounds, or the data's padded to the enclosing ticks.
std::pair<double, double> axis_range(double given_lo, double given_hi, Range data) {
  double lo = std::isnan(given_lo) ? data.lo : given_lo;
  double hi = std::isnan(given_hi) ? data.hi : given_hi;
  if (!std::isfinite(lo) || !std::isfinite(hi)) {
    lo = 0;
    hi = 1;
  }
  if (hi - lo <= 0) {
    double pad = std::max(std::fabs(lo) * 0.1, 0.05);
    lo -= pad;
    hi += pad;
  }
  std::vector<double> ticks = nice_ticks(lo, hi);
  if (std::isnan(given_lo)) lo = std::min(lo, ticks.front());
  if (std::isnan(given_hi)) hi = std::max(hi, ticks.back());
  return {lo, hi};
}

}  // namespace

std::string xml_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi)) return {lo};
  const double raw = (hi - lo) / std::max(1, target);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * magnitude;
    if (step >= raw) break;
  }
  std::vector<double> ticks;
  const double first = std::floor(lo / step + 1e-9) * step;
  for (int i = 0;; ++i) {
    double t = first + i * step;
    ticks.push_back(t);
    if (t >= hi - step * 1e-9 || i > 1000) break;
  }
  return ticks;
}

std::string svg_line_plot(const PlotSpec& spec) {
  Range xr, yr;
  for (const PlotSeries& s : spec.series) {
    TC_CHECK_ARG(s.x.size() == s.y.size(), "plot series \"%s\": %zu x values but %zu y values", s.name.c_str(),
                 s.x.size(), s.y.size());
    TC_CHECK_ARG(s.y_low.size() == s.y_high.size() && (s.y_low.empty() || s.y_low.size() == s.y.size()),
                 "plot series \"%s\": error bars do not match the points", s.name.c_str());
    for (size_t i = 0; i < s.x.size(); ++i) {
      xr.add(s.x[i]);
      yr.add(s.y[i]);
      if (!s.y_low.empty()) {
        yr.add(s.y_low[i]);
        yr.add(s.y_high[i]);
      }
    }
  }
  for (const PlotReference& r : spec.references) yr.add(r.y);
  auto [x0, x1] = axis_range(spec.x_min, spec.x_max, xr);
  auto [y0, y1] = axis_range(spec.y_min, spec.y_max, yr);

  const double left = 72, right = 210, top = 42, bottom = 58;
  const double W = spec.width, H = spec.height;
  const double pw = W - left - right, ph = H - top - bottom;
  auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * pw; };
  auto py = [&](double y) { return top + (1 - (y - y0) / (y1 - y0)) * ph; };

  std::string svg;
  svg += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  svg += str_printf("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
                    "font-family=\"sans-serif\" font-size=\"12\">\n",
                    spec.width, spec.height, spec.width, spec.height);
  svg += str_printf("<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"white\"/>\n", spec.width, spec.height);
  svg += "<text x=\"" + fmt(left + pw / 2) + "\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">" +
         xml_escape(spec.title) + "</text>\n";

  // Grid, ticks and labels.
  std::vector<double> xt = nice_ticks(x0, x1), yt = nice_ticks(y0, y1);
  const double xstep = xt.size() > 1 ? xt[1] - xt[0] : 1, ystep = yt.size() > 1 ? yt[1] - yt[0] : 1;
  svg += "<g stroke=\"#dddddd\" stroke-width=\"1\">\n";
  for (double t : xt)
    if (t >= x0 - 1e-12 && t <= x1 + 1e-12)
      svg += "<line x1=\"" + fmt(px(t)) + "\" y1=\"" + fmt(top) + "\" x2=\"" + fmt(px(t)) + "\" y2=\"" + fmt(top + ph) + "\"/>\n";
  for (double t : yt)
    if (t >= y0 - 1e-12 && t <= y1 + 1e-12)
      svg += "<line x1=\"" + fmt(left) + "\" y1=\"" + fmt(py(t)) + "\" x2=\"" + fmt(left + pw) + "\" y2=\"" + fmt(py(t)) + "\"/>\n";
  svg += "</g>\n";
  svg += "<rect x=\"" + fmt(left) + "\" y=\"" + fmt(top) + "\" width=\"" + fmt(pw) + "\" height=\"" + fmt(ph) +
         "\" fill=\"none\" stroke=\"#333333\"/>\n";
  for (double t : xt)
    if (t >= x0 - 1e-12 && t <= x1 + 1e-12)
      svg += "<text x=\"" + fmt(px(t)) + "\" y=\"" + fmt(top + ph + 17) + "\" text-anchor=\"middle\">" +
             xml_escape(tick_label(t, xstep, spec.x_percent)) + "</text>\n";
  for (double t : yt)
    if (t >= y0 - 1e-12 && t <= y1 + 1e-12)
      svg += "<text x=\"" + fmt(left - 6) + "\" y=\"" + fmt(py(t) + 4) + "\" text-anchor=\"end\">" +
             xml_escape(tick_label(t, ystep, spec.y_percent)) + "</text>\n";
  svg += "<text x=\"" + fmt(left + pw / 2) + "\" y=\"" + fmt(H - 14) + "\" text-anchor=\"middle\">" +
         xml_escape(spec.x_label) + "</text>\n";
  svg += "<text x=\"18\" y=\"" + fmt(top + ph / 2) + "\" text-anchor=\"middle\" transform=\"rotate(-90 18 " +
         fmt(top + ph / 2) + ")\">" + xml_escape(spec.y_label) + "</text>\n";

  // References, then the series (clipped to the plot area).
  // The clip leaves room for markers on the frame (accuracy 0 or 1).
  svg += "<defs><clipPath id=\"plot-area\"><rect x=\"" + fmt(left - 6) + "\" y=\"" + fmt(top - 6) + "\" width=\"" +
         fmt(pw + 12) + "\" height=\"" + fmt(ph + 12) + "\"/></clipPath></defs>\n";
  svg += "<g clip-path=\"url(#plot-area)\">\n";
  for (const PlotReference& r : spec.references)
    svg += "<line x1=\"" + fmt(left) + "\" y1=\"" + fmt(py(r.y)) + "\" x2=\"" + fmt(left + pw) + "\" y2=\"" +
           fmt(py(r.y)) + "\" stroke=\"#222222\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n";
  for (size_t si = 0; si < spec.series.size(); ++si) {
    const PlotSeries& s = spec.series[si];
    const char* colour = kPalette[si % kPaletteSize];
    // Series at the same x are dodged sideways by a few pixels so their markers and error bars
    // stay apart (the x values themselves are in the data files).
    const double dodge = 2.5 * (double(si) - 0.5 * double(spec.series.size() - 1));
    auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * pw + dodge; };
    std::vector<size_t> order(s.x.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return s.x[a] < s.x[b]; });
    std::string points;
    for (size_t i : order) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      points += (points.empty() ? "" : " ") + fmt(px(s.x[i])) + "," + fmt(py(s.y[i]));
    }
    svg += str_printf("<g stroke=\"%s\" fill=\"%s\">\n", colour, colour);
    if (!points.empty())
      svg += "<polyline points=\"" + points + "\" fill=\"none\" stroke-width=\"2\"/>\n";
    for (size_t i : order) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      if (!s.y_low.empty() && std::isfinite(s.y_low[i]) && std::isfinite(s.y_high[i])) {
        const double x = px(s.x[i]);
        svg += "<line x1=\"" + fmt(x) + "\" y1=\"" + fmt(py(s.y_low[i])) + "\" x2=\"" + fmt(x) + "\" y2=\"" +
               fmt(py(s.y_high[i])) + "\" stroke-width=\"1\"/>\n";
        for (double yb : {s.y_low[i], s.y_high[i]})
          svg += "<line x1=\"" + fmt(x - 3) + "\" y1=\"" + fmt(py(yb)) + "\" x2=\"" + fmt(x + 3) + "\" y2=\"" +
                 fmt(py(yb)) + "\" stroke-width=\"1\"/>\n";
      }
      svg += "<circle cx=\"" + fmt(px(s.x[i])) + "\" cy=\"" + fmt(py(s.y[i])) + "\" r=\"3.5\"/>\n";
    }
    svg += "</g>\n";
  }
  svg += "</g>\n";

  // Legend.
  double ly = top + 8;
  const double lx = left + pw + 16;
  for (const PlotReference& r : spec.references) {
    svg += "<line x1=\"" + fmt(lx) + "\" y1=\"" + fmt(ly) + "\" x2=\"" + fmt(lx + 22) + "\" y2=\"" + fmt(ly) +
           "\" stroke=\"#222222\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n";
    svg += "<text x=\"" + fmt(lx + 28) + "\" y=\"" + fmt(ly + 4) + "\">" + xml_escape(r.name) + "</text>\n";
    ly += 18;
  }
  for (size_t si = 0; si < spec.series.size(); ++si) {
    const char* colour = kPalette[si % kPaletteSize];
    svg += str_printf("<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"%s\" stroke-width=\"2\"/>\n",
                      fmt(lx).c_str(), fmt(ly).c_str(), fmt(lx + 22).c_str(), fmt(ly).c_str(), colour);
    svg += str_printf("<circle cx=\"%s\" cy=\"%s\" r=\"3.5\" fill=\"%s\"/>\n", fmt(lx + 11).c_str(), fmt(ly).c_str(), colour);
    svg += "<text x=\"" + fmt(lx + 28) + "\" y=\"" + fmt(ly + 4) + "\">" + xml_escape(spec.series[si].name) + "</text>\n";
    ly += 18;
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace tc::eval

// A small self-contained SVG line-plot writer (no plotting dependency in the CLI path): axes
// with "nice" ticks, one polyline with markers per series, optional vertical error bars, and
// horizontal reference lines (the full cache), with a legend at the right.
#pragma once

#include <string>
#include <vector>

namespace tc::eval {

struct PlotSeries {
  std::string name;
  std::vector<double> x, y;
  std::vector<double> y_low, y_high;  // error bars: empty, or one pair per point
};

struct PlotReference {
  std::string name;
  double y = 0;
};

struct PlotSpec {
  std::string title;
  std::string x_label, y_label;
  // Axis ranges; NAN = from the data (padded to nice ticks).
  double x_min = 0.0 / 0.0, x_max = 0.0 / 0.0, y_min = 0.0 / 0.0, y_max = 0.0 / 0.0;
  bool x_percent = false, y_percent = false;  // tick labels as percentages of 1.0
  std::vector<PlotSeries> series;
  std::vector<PlotReference> references;       // dashed horizontal lines
  int width = 760, height = 440;
};

// The SVG document (UTF-8, well-formed XML). Throws tc::Error when a series has mismatched
// coordinate or error-bar lengths.
std::string svg_line_plot(const PlotSpec& spec);

// Escapes &, <, >, " and ' for XML text and attributes.
std::string xml_escape(const std::string& text);

// Tick positions covering [lo, hi] at a step of 1, 2 or 5 x 10^k, about `target` of them.
std::vector<double> nice_ticks(double lo, double hi, int target = 6);

}  // namespace tc::eval

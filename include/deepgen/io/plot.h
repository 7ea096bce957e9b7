#pragma once
// Self-contained SVG charts (no scripts, no fonts to fetch) for loss curves and 2-D scatters.
#include <string>
#include <vector>

namespace deepgen::io {

struct Series {
  std::string name;
  std::vector<double> x, y;
};

struct ChartOptions {
  std::string title, x_label, y_label;
  int width = 640, height = 360;
  bool log_y = false;    // only when every y is > 0
  bool scatter = false;  // a dot per point, no lines (2-D samples over data)
};

// Line chart (or scatter) with axes, ticks and a legend; non-finite points are skipped.
std::string line_chart_svg(const std::vector<Series>& series, const ChartOptions& options);

}  // namespace deepgen::io

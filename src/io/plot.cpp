#include "deepgen/io/plot.h"

#include <cstdio>
#include <sstream>

#include "escape.h"

namespace deepgen::io {
namespace {

using detail::escape_xml;

// Matplotlib's tab10: distinct for the handful of curves a run plots.
constexpr const char* kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                   "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
constexpr int kTargetTicks = 5;

// Coordinates are written through here so no NaN or Inf ever reaches the document.
std::string num(double v) {
  if (!std::isfinite(v)) v = 0;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

struct Axis {
  double lo = 0, hi = 1;  // in plotted space (log10 of the value on a log axis)
  std::vector<double> ticks;
  std::vector<std::string> labels;
};

// Heckbert's nice numbers: 1, 2 or 5 times a power of ten.
double nice_number(double x, bool round) {
  const double power = std::pow(10.0, std::floor(std::log10(x)));
  const double f = x / power;
  if (round) return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * power;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * power;
}

std::string tick_label(double v, double step) {
  if (std::abs(v) < step * 1e-9) v = 0;  // no "-0" or 1e-17 from accumulated rounding
  char buf[32];
  const int decimals = std::max(0, -static_cast<int>(std::floor(std::log10(step))));
  if (std::abs(v) >= 1e5 || decimals > 5) {
    std::snprintf(buf, sizeof buf, "%.3g", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  }
  return buf;
}

std::string short_label(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", value);
  return buf;
}

// The axis is widened to the outer ticks so every point lies inside the frame.
Axis linear_axis(double lo, double hi) {
  if (hi <= lo) {
    const double half = lo == 0 ? 1 : std::abs(lo) * 0.5;
    lo -= half;
    hi += half;
  }
  const double step = nice_number(nice_number(hi - lo, false) / (kTargetTicks - 1), true);
  if (!std::isfinite(step) || step <= 0)
    return Axis{lo, hi, {lo, hi}, {short_label(lo), short_label(hi)}};
  Axis axis{std::floor(lo / step) * step, std::ceil(hi / step) * step, {}, {}};
  const auto count = std::llround((axis.hi - axis.lo) / step);
  for (long long i = 0; i <= count; ++i) {
    axis.ticks.push_back(axis.lo + static_cast<double>(i) * step);
    axis.labels.push_back(tick_label(axis.ticks.back(), step));
  }
  return axis;
}

// Whole decades; within a single decade also 2x and 5x, so there are always a few ticks.
Axis log_axis(double lo, double hi) {
  Axis axis{std::floor(std::log10(lo)), std::ceil(std::log10(hi)), {}, {}};
  if (axis.hi <= axis.lo) axis.hi = axis.lo + 1;
  const int decades = static_cast<int>(axis.hi - axis.lo);
  const int stride = std::max(1, (decades + kTargetTicks) / (kTargetTicks + 1));
  const std::vector<double> mantissas =
      decades == 1 ? std::vector<double>{1, 2, 5} : std::vector<double>{1};
  for (int k = 0; k <= decades; k += stride) {
    for (double m : mantissas) {
      const double value = m * std::pow(10.0, axis.lo + k);
      if (std::log10(value) > axis.hi + 1e-9) break;
      axis.ticks.push_back(std::log10(value));
      axis.labels.push_back(short_label(value));
    }
  }
  return axis;
}

struct Frame {
  double left, top, right, bottom;  // plot area in pixels
  Axis x, y;
  double px(double v) const { return left + (v - x.lo) / (x.hi - x.lo) * (right - left); }
  double py(double v) const { return bottom - (v - y.lo) / (y.hi - y.lo) * (bottom - top); }
};

struct Point {
  double x, y;
};

std::vector<std::vector<Point>> finite_points(const std::vector<Series>& series) {
  std::vector<std::vector<Point>> out;
  for (const auto& s : series) {
    out.emplace_back();
    for (size_t i = 0; i < std::min(s.x.size(), s.y.size()); ++i)
      if (std::isfinite(s.x[i]) && std::isfinite(s.y[i])) out.back().push_back({s.x[i], s.y[i]});
  }
  return out;
}

Frame make_frame(const std::vector<std::vector<Point>>& points, const ChartOptions& o,
                 bool* log_y) {
  double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  for (const auto& series : points)
    for (const auto& p : series) {
      x_lo = std::min(x_lo, p.x), x_hi = std::max(x_hi, p.x);
      y_lo = std::min(y_lo, p.y), y_hi = std::max(y_hi, p.y);
    }
  const bool empty = x_lo > x_hi;
  if (empty) x_lo = y_lo = 0, x_hi = y_hi = 1;
  *log_y = o.log_y && !empty && y_lo > 0;  // a log axis cannot show y <= 0: fall back to linear
  Frame f{72, o.title.empty() ? 16.0 : 36.0, std::max(o.width, 200) - 16.0,
          std::max(o.height, 150) - (o.x_label.empty() ? 32.0 : 48.0)};
  f.x = linear_axis(x_lo, x_hi);
  f.y = *log_y ? log_axis(y_lo, y_hi) : linear_axis(y_lo, y_hi);
  return f;
}

void draw_axes(std::ostream& out, const Frame& f) {
  out << "<g stroke=\"#e0e0e0\">";
  for (double t : f.x.ticks)
    out << "<line x1=\"" << num(f.px(t)) << "\" y1=\"" << num(f.top) << "\" x2=\"" << num(f.px(t))
        << "\" y2=\"" << num(f.bottom) << "\"/>";
  for (double t : f.y.ticks)
    out << "<line x1=\"" << num(f.left) << "\" y1=\"" << num(f.py(t)) << "\" x2=\"" << num(f.right)
        << "\" y2=\"" << num(f.py(t)) << "\"/>";
  out << "</g>\n<rect x=\"" << num(f.left) << "\" y=\"" << num(f.top) << "\" width=\""
      << num(f.right - f.left) << "\" height=\"" << num(f.bottom - f.top)
      << "\" fill=\"none\" stroke=\"#333\"/>\n<g fill=\"#333\">";
  for (size_t i = 0; i < f.x.ticks.size(); ++i)
    out << "<text x=\"" << num(f.px(f.x.ticks[i])) << "\" y=\"" << num(f.bottom + 16)
        << "\" text-anchor=\"middle\">" << escape_xml(f.x.labels[i]) << "</text>";
  for (size_t i = 0; i < f.y.ticks.size(); ++i)
    out << "<text x=\"" << num(f.left - 6) << "\" y=\"" << num(f.py(f.y.ticks[i]) + 4)
        << "\" text-anchor=\"end\">" << escape_xml(f.y.labels[i]) << "</text>";
  out << "</g>\n";
}

void draw_labels(std::ostream& out, const Frame& f, const ChartOptions& o) {
  const double mid_x = (f.left + f.right) / 2, mid_y = (f.top + f.bottom) / 2;
  if (!o.title.empty())
    out << "<text x=\"" << num(mid_x) << "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">"
        << escape_xml(o.title) << "</text>\n";
  if (!o.x_label.empty())
    out << "<text x=\"" << num(mid_x) << "\" y=\"" << num(f.bottom + 36)
        << "\" text-anchor=\"middle\">" << escape_xml(o.x_label) << "</text>\n";
  if (!o.y_label.empty())
    out << "<text x=\"16\" y=\"" << num(mid_y)
        << "\" text-anchor=\"middle\" transform=\"rotate(-90 16 " << num(mid_y) << ")\">"
        << escape_xml(o.y_label) << "</text>\n";
}

void draw_dots(std::ostream& out, const Frame& f, const std::vector<Point>& points,
               const char* color) {
  out << "<g fill=\"" << color << "\" fill-opacity=\"0.5\">";
  for (const auto& p : points)
    out << "<circle cx=\"" << num(f.px(p.x)) << "\" cy=\"" << num(f.py(p.y)) << "\" r=\"1.5\"/>";
  out << "</g>\n";
}

void draw_series(std::ostream& out, const Frame& f, const std::vector<Point>& points, bool log_y,
                 const char* color) {
  const auto y_of = [&](const Point& p) { return f.py(log_y ? std::log10(p.y) : p.y); };
  out << "<polyline fill=\"none\" stroke=\"" << color << "\" stroke-width=\"1.5\" points=\"";
  for (size_t i = 0; i < points.size(); ++i)
    out << (i ? " " : "") << num(f.px(points[i].x)) << "," << num(y_of(points[i]));
  out << "\"/>\n";
  if (points.size() == 1)  // a one-point polyline draws nothing
    out << "<circle cx=\"" << num(f.px(points[0].x)) << "\" cy=\"" << num(y_of(points[0]))
        << "\" r=\"3\" fill=\"" << color << "\"/>\n";
}

size_t display_length(const std::string& utf8) {
  size_t n = 0;
  for (const char ch : utf8) n += (static_cast<unsigned char>(ch) & 0xc0) != 0x80;
  return n;
}

void draw_legend(std::ostream& out, const Frame& f, const std::vector<Series>& series) {
  size_t longest = 0;
  for (const auto& s : series) longest = std::max(longest, display_length(s.name));
  if (longest == 0) return;
  const double row = 16, width = 36 + 7.0 * static_cast<double>(longest);
  const double x = f.right - 8 - width, y = f.top + 8;
  out << "<g><rect x=\"" << num(x) << "\" y=\"" << num(y) << "\" width=\"" << num(width)
      << "\" height=\"" << num(row * static_cast<double>(series.size()) + 8)
      << "\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#ccc\"/>";
  for (size_t i = 0; i < series.size(); ++i) {
    const double cy = y + 12 + row * static_cast<double>(i);
    out << "<line x1=\"" << num(x + 6) << "\" y1=\"" << num(cy) << "\" x2=\"" << num(x + 26)
        << "\" y2=\"" << num(cy) << "\" stroke=\"" << kColors[i % 10] << "\" stroke-width=\"2\"/>"
        << "<text x=\"" << num(x + 30) << "\" y=\"" << num(cy + 4) << "\">"
        << escape_xml(series[i].name) << "</text>";
  }
  out << "</g>\n";
}

}  // namespace

std::string line_chart_svg(const std::vector<Series>& series, const ChartOptions& options) {
  const auto points = finite_points(series);
  bool log_y = false;
  const Frame frame = make_frame(points, options, &log_y);
  const int width = std::max(options.width, 200), height = std::max(options.height, 150);
  std::ostringstream out;
  out << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" viewBox=\"0 0 " << width << " " << height
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"" << width << "\" height=\"" << height << "\" fill=\"white\"/>\n";
  draw_axes(out, frame);
  draw_labels(out, frame, options);
  for (size_t i = 0; i < series.size(); ++i) {
    if (options.scatter) {
      draw_dots(out, frame, points[i], kColors[i % 10]);
    } else {
      draw_series(out, frame, points[i], log_y, kColors[i % 10]);
    }
  }
  draw_legend(out, frame, series);
  out << "</svg>\n";
  return out.str();
}

}  // namespace deepgen::io

#pragma once
// Small numerical helpers the convergence tests share.
#include <cmath>
#include <vector>

namespace deepgen::testing {

// Least-squares slope of log y against log x: the order of a solver whose error y falls as
// steps x grow is minus this slope.
inline double log_log_slope(const std::vector<double>& x, const std::vector<double>& y) {
  double mx = 0, my = 0;
  for (size_t i = 0; i < x.size(); ++i) mx += std::log(x[i]), my += std::log(y[i]);
  mx /= static_cast<double>(x.size()), my /= static_cast<double>(y.size());
  double sxy = 0, sxx = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double dx = std::log(x[i]) - mx;
    sxy += dx * (std::log(y[i]) - my), sxx += dx * dx;
  }
  return sxy / sxx;
}

}  // namespace deepgen::testing

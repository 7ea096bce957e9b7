// NCSNv2's ladder and step-size rules (Song & Ermon 2020, Techniques 1, 2 and 4).
#include "deepgen/score/ladder.h"

#include <torch/torch.h>

#include <cmath>
#include <string>

#include "deepgen/core/error.h"
#include "deepgen/data/dataset.h"

namespace deepgen::score {

namespace {

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// Rows at an even stride: deterministic, and spread over the whole (possibly ordered) set.
at::Tensor stride_subsample(const at::Tensor& x, int64_t max_points) {
  if (x.size(0) <= max_points) return x;
  const at::Tensor idx =
      at::linspace(0, static_cast<double>(x.size(0) - 1), max_points, at::kDouble).round();
  return x.index_select(0, idx.to(at::kLong));
}

// The pair of rows with the largest squared distance, by ‖a‖² + ‖b‖² − 2a·b in blocks of rows
// (memory: block × N doubles) against the rows from the block on (each pair once).
std::pair<int64_t, int64_t> farthest_pair(const at::Tensor& x) {
  constexpr int64_t kBlock = 512;
  const int64_t n = x.size(0);
  const at::Tensor sq = x.pow(2).sum(1);
  double best = -1.0;
  std::pair<int64_t, int64_t> pair{0, 0};
  for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
    const int64_t i1 = std::min(n, i0 + kBlock);
    const at::Tensor rows = x.slice(0, i0, i1), cols = x.slice(0, i0, n);
    const at::Tensor d2 = sq.slice(0, i0, i1).unsqueeze(1) + sq.slice(0, i0, n).unsqueeze(0) -
                          2.0 * rows.matmul(cols.t());
    const at::Tensor flat_max = d2.flatten().argmax();
    const int64_t k = flat_max.item<int64_t>();
    const double value = d2.flatten()[k].item<double>();
    if (value > best) {
      best = value;
      pair = {i0 + k / d2.size(1), i0 + k % d2.size(1)};
    }
  }
  return pair;
}

}  // namespace

double max_pairwise_distance(const at::Tensor& x, int64_t max_points) {
  if (max_points < 2) throw Error("max_pairwise_distance: max_points must be at least 2");
  if (!x.defined() || x.dim() < 1 || x.size(0) < 2) return 0.0;
  torch::NoGradGuard no_grad;
  const at::Tensor points =
      data::as_values(stride_subsample(x.reshape({x.size(0), -1}), max_points))
          .to(at::kDouble)
          .contiguous();
  const auto [i, j] = farthest_pair(points);
  // The Gram form cancels at ~1e-16·‖x‖²; the winning pair is measured again directly.
  return (points[i] - points[j]).pow(2).sum().sqrt().item<double>();
}

double ladder_overlap(int64_t dim, double ratio) {
  const double a = std::sqrt(2.0 * static_cast<double>(dim)) * (ratio - 1.0);
  return normal_cdf(a + 3.0 * ratio) - normal_cdf(a - 3.0 * ratio);
}

double ladder_ratio(int64_t dim) {
  if (dim < 5)
    throw Error("ladder_ratio: NCSNv2's rule needs a data dimension of at least 5 (got " +
                std::to_string(dim) + "): below √(2D) = 3 no ratio brings the overlap to 1/2");
  // overlap(1) = Φ(3) − Φ(−3) ≈ 0.997; widen hi until the overlap is below 1/2.
  double lo = 1.0, hi = 2.0;
  while (ladder_overlap(dim, hi) > 0.5) hi = 1.0 + 2.0 * (hi - 1.0);
  for (int it = 0; it < 200 && hi - lo > 1e-15 * hi; ++it) {
    const double mid = 0.5 * (lo + hi);
    (ladder_overlap(dim, mid) > 0.5 ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

int64_t ladder_length(double sigma_1, double sigma_L, double ratio) {
  if (!(sigma_L > 0) || !(sigma_1 > sigma_L) || !(ratio > 1))
    throw Error("ladder_length: needs sigma_1 > sigma_L > 0 and a ratio above 1");
  // The tolerance keeps an exact power of the ratio from gaining a level by rounding.
  const double levels = std::log(sigma_1 / sigma_L) / std::log(ratio);
  return 1 + static_cast<int64_t>(std::ceil(levels - 1e-9));
}

double langevin_variance_ratio(double eps, double sigma_L, double ratio, int64_t steps) {
  const double kappa = eps / (sigma_L * sigma_L);
  const double c = (1.0 - kappa) * (1.0 - kappa);  // per-step variance factor
  const double b = 2.0 * kappa / (1.0 - c);        // the chain's stationary variance / σ_i²
  return std::pow(c, static_cast<double>(steps)) * (ratio * ratio - b) + b;
}

namespace {

// d/dκ of langevin_variance_ratio, κ = ε/σ_L² in (0, 1).
double variance_ratio_slope(double kappa, double ratio, int64_t steps) {
  const double t = static_cast<double>(steps);
  const double c = (1.0 - kappa) * (1.0 - kappa);
  const double b = 2.0 / (2.0 - kappa), db = 2.0 / ((2.0 - kappa) * (2.0 - kappa));
  const double dct = t * std::pow(c, t - 1.0) * (-2.0 * (1.0 - kappa));
  return dct * (ratio * ratio - b) + (1.0 - std::pow(c, t)) * db;
}

}  // namespace

double langevin_step_for(double sigma_L, double ratio, int64_t steps) {
  if (!(sigma_L > 0) || !(ratio > 1) || steps < 1)
    throw Error("langevin_step_for: needs sigma_L > 0, a ratio above 1 and at least one step");
  // For κ in [1, 2) the ratio is at least b >= 2 > γ² (γ from ladder_ratio is far below √2):
  // the minimum lies in (0, 1). A log-spaced scan brackets it before bisecting on the slope, so
  // a second local minimum could not mislead the bisection.
  auto value = [&](double kappa) {
    return langevin_variance_ratio(kappa * sigma_L * sigma_L, sigma_L, ratio, steps);
  };
  constexpr int kGrid = 400;  // κ = 10^(−10 + 10k/kGrid), k = 0..kGrid: 1e-10 to 1
  auto kappa_at = [](int k) { return std::pow(10.0, -10.0 + 10.0 * k / kGrid); };
  int best = 0;
  for (int k = 1; k <= kGrid; ++k)
    if (value(kappa_at(k)) < value(kappa_at(best))) best = k;
  double lo = kappa_at(std::max(0, best - 1)), hi = kappa_at(std::min(kGrid, best + 1));
  for (int it = 0; it < 200 && hi - lo > 1e-14 * hi; ++it) {
    const double mid = 0.5 * (lo + hi);
    (variance_ratio_slope(mid, ratio, steps) < 0 ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi) * sigma_L * sigma_L;
}

}  // namespace deepgen::score

#include "deepgen/eval/metrics.h"

#include "deepgen/core/error.h"

namespace deepgen::eval {

double bits_per_dim(double nats, int64_t dim) {
  if (dim <= 0) throw Error("bits_per_dim: dimension must be positive");
  return nats / (static_cast<double>(dim) * std::log(2.0));
}

namespace {

// Mean pairwise distance; `same` drops the zero diagonal (U-statistic).
double mean_distance(const at::Tensor& a, const at::Tensor& b, bool same) {
  at::Tensor d = torch::cdist(a, b);
  const double n = static_cast<double>(a.size(0)), m = static_cast<double>(b.size(0));
  const double sum = d.sum().item<double>();
  return same ? sum / (n * (n - 1)) : sum / (n * m);
}

}  // namespace

double energy_distance(const at::Tensor& a, const at::Tensor& b) {
  if (a.dim() != 2 || b.dim() != 2 || a.size(1) != b.size(1))
    throw Error("energy_distance: expected two (N, D) sample sets of the same D");
  if (a.size(0) < 2 || b.size(0) < 2) throw Error("energy_distance: need at least 2 samples each");
  torch::NoGradGuard no_grad;
  at::Tensor x = a.to(torch::kDouble), y = b.to(torch::kDouble);
  return 2.0 * mean_distance(x, y, false) - mean_distance(x, x, true) - mean_distance(y, y, true);
}

}  // namespace deepgen::eval

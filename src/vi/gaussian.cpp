#include "deepgen/vi/gaussian.h"

namespace deepgen::vi {

at::Tensor gaussian_kl(const at::Tensor& mu1, const at::Tensor& logvar1, const at::Tensor& mu2,
                       const at::Tensor& logvar2) {
  return 0.5 * (logvar2 - logvar1 + (logvar1.exp() + (mu1 - mu2).pow(2)) * (-logvar2).exp() - 1.0);
}

at::Tensor kl_standard_normal(const at::Tensor& mu, const at::Tensor& logvar) {
  return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar);
}

at::Tensor reparameterize(const at::Tensor& mu, const at::Tensor& logvar, const at::Tensor& eps) {
  return mu + (0.5 * logvar).exp() * eps;
}

at::Tensor gaussian_log_prob(const at::Tensor& x, const at::Tensor& mean,
                             const at::Tensor& logvar) {
  return -0.5 * (kLog2Pi + logvar + (x - mean).pow(2) * (-logvar).exp());
}

at::Tensor bernoulli_log_prob(const at::Tensor& x, const at::Tensor& logits) {
  // softplus written out: torch::softplus switches to the identity above 20, which is off by
  // up to ~2e-9 in float64.
  return x * logits - (torch::relu(logits) + torch::log1p(torch::exp(-logits.abs())));
}

}  // namespace deepgen::vi

#include "deepgen/vi/gaussian.h"

#include <cmath>

#include "deepgen/data/transforms.h"

namespace deepgen::vi {

namespace {

// softplus(v) = log(1 + e^v). torch's default switches to the identity above 20, off by up to
// ~2e-9 in float64; above 40 the switch costs less than float64 resolves (e^-40 < 40·2^-53).
at::Tensor log1pexp(const at::Tensor& v) { return torch::softplus(v, 1.0, 40.0); }

// log(1 − e^−d) for d > 0, to the absolute accuracy a sum of log-factors needs: where −expm1(−d)
// rounds to 1 (d ≳ 17 in float32, 37 in float64) the true −e^−d is below the resolution of P.
at::Tensor log1mexp(const at::Tensor& d) { return torch::log(-torch::expm1(-d)); }

}  // namespace

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
  return x * logits - log1pexp(logits);
}

at::Tensor discretized_logistic_log_prob(const at::Tensor& x, const at::Tensor& mean,
                                         const at::Tensor& log_scale) {
  const at::Tensor k = data::quantize_8bit(x).to(mean.options());
  const at::Tensor inv_s = (-log_scale).exp();
  // Each edge from (k ± ½)/255 alone, so bin k's upper edge is bit for bit bin k+1's lower one
  // and the probabilities telescope to 1 in floating point too.
  const at::Tensor a = ((k + 0.5) / 255.0 - mean) * inv_s, b = ((k - 0.5) / 255.0 - mean) * inv_s;
  // σ(a) − σ(b) = σ(a)·σ(−b)·(1 − e^−(a−b)): three log-factors, each ≤ 0, so their sum neither
  // cancels nor underflows. An open edge (a = +∞ or b = −∞) makes its factors 1.
  const at::Tensor zero = torch::zeros({}, a.options());
  const at::Tensor lower = k > 0, upper = k < 255;
  return torch::where(upper, -log1pexp(-a), zero) + torch::where(lower, -log1pexp(b), zero) +
         torch::where(lower & upper, log1mexp(inv_s / 255.0), zero);
}

}  // namespace deepgen::vi

// MATH 2a–2h and the three terms of the VDM bound, in the stable forms of vdm.h.
#include "deepgen/diffusion/vdm.h"

#include <algorithm>
#include <cmath>

#include "deepgen/diffusion/schedule.h"

namespace deepgen::diffusion {

namespace {

constexpr double kBin = 2.0 / 256.0;  // spacing of the 8-bit values in data space

at::Tensor alpha(const at::Tensor& gamma) { return torch::exp(0.5 * log_alpha2(gamma)); }
at::Tensor sigma(const at::Tensor& gamma) { return torch::exp(0.5 * log_sigma2(gamma)); }

}  // namespace

at::Tensor per_example(const at::Tensor& gamma, const at::Tensor& x) {
  if (gamma.dim() == 0) return gamma;
  std::vector<int64_t> shape(x.dim(), 1);
  shape[0] = gamma.size(0);
  return gamma.view(shape);
}

at::Tensor sum_per_example(const at::Tensor& v) { return v.flatten(1).sum(1); }

Normal forward_marginal(const at::Tensor& x, const at::Tensor& gamma_t) {
  auto g = per_example(gamma_t, x);
  return {alpha(g) * x, sigma2(g)};
}

Normal transition(const at::Tensor& z_s, const at::Tensor& gamma_s, const at::Tensor& gamma_t) {
  auto gs = per_example(gamma_s, z_s), gt = per_example(gamma_t, z_s);
  auto a_ts = torch::exp(0.5 * (log_alpha2(gt) - log_alpha2(gs)));
  return {a_ts * z_s, sigma2(gt) * -torch::expm1(gs - gt)};
}

Normal posterior(const at::Tensor& z_t, const at::Tensor& x, const at::Tensor& gamma_s,
                 const at::Tensor& gamma_t) {
  auto gs = per_example(gamma_s, z_t), gt = per_example(gamma_t, z_t);
  auto c = -torch::expm1(gs - gt);
  auto a_s = alpha(gs);
  auto mean = torch::exp(0.5 * (log_alpha2(gs) - log_alpha2(gt)) + (gs - gt)) * z_t + a_s * c * x;
  return {mean, sigma2(gs) * c};
}

at::Tensor kl_equal_variance(const Normal& q, const Normal& p) {
  return sum_per_example((q.mean - p.mean).pow(2) / (2 * q.var).expand_as(q.mean));
}

at::Tensor kl_snr_form(const at::Tensor& x, const at::Tensor& x_hat, const at::Tensor& gamma_s,
                       const at::Tensor& gamma_t) {
  auto snr_gap = snr(gamma_s) * -torch::expm1(gamma_s - gamma_t);  // SNR(s) − SNR(t)
  return 0.5 * snr_gap * sum_per_example((x - x_hat).pow(2));
}

at::Tensor x_from_eps(const at::Tensor& z_t, const at::Tensor& eps, const at::Tensor& gamma_t) {
  auto g = per_example(gamma_t, z_t);
  return (z_t - sigma(g) * eps) / alpha(g);
}

at::Tensor eps_from_x(const at::Tensor& z_t, const at::Tensor& x, const at::Tensor& gamma_t) {
  auto g = per_example(gamma_t, z_t);
  return (z_t - alpha(g) * x) / sigma(g);
}

at::Tensor v_from_eps(const at::Tensor& z_t, const at::Tensor& eps, const at::Tensor& gamma_t) {
  auto g = per_example(gamma_t, z_t);
  return (eps - sigma(g) * z_t) / alpha(g);  // α ε − σ x with x = (z − σ ε)/α, α² + σ² = 1
}

at::Tensor eps_from_v(const at::Tensor& z_t, const at::Tensor& v, const at::Tensor& gamma_t) {
  auto g = per_example(gamma_t, z_t);
  return sigma(g) * z_t + alpha(g) * v;
}

at::Tensor x_from_v(const at::Tensor& z_t, const at::Tensor& v, const at::Tensor& gamma_t) {
  auto g = per_example(gamma_t, z_t);
  return alpha(g) * z_t - sigma(g) * v;
}

at::Tensor diffusion_loss_discrete_x(const at::Tensor& x, const at::Tensor& x_hat,
                                     const at::Tensor& gamma_s, const at::Tensor& gamma_t,
                                     int64_t T) {
  return static_cast<double>(T) * kl_snr_form(x, x_hat, gamma_s, gamma_t);
}

at::Tensor diffusion_loss_discrete(const at::Tensor& eps, const at::Tensor& eps_hat,
                                   const at::Tensor& gamma_s, const at::Tensor& gamma_t,
                                   int64_t T) {
  return 0.5 * static_cast<double>(T) * torch::expm1(gamma_t - gamma_s) *
         sum_per_example((eps - eps_hat).pow(2));
}

at::Tensor diffusion_loss_continuous_x(const at::Tensor& x, const at::Tensor& x_hat,
                                       const at::Tensor& gamma_t, const at::Tensor& dgamma_t) {
  return 0.5 * dgamma_t * snr(gamma_t) * sum_per_example((x - x_hat).pow(2));
}

at::Tensor diffusion_loss_continuous(const at::Tensor& eps, const at::Tensor& eps_hat,
                                     const at::Tensor& dgamma_t) {
  return 0.5 * dgamma_t * sum_per_example((eps - eps_hat).pow(2));
}

at::Tensor prior_loss(const at::Tensor& x, const at::Tensor& gamma_1) {
  auto g = per_example(gamma_1, x);
  // σ² − 1 = −α²: the form keeps its precision when σ_1² is within 1e-3 of 1.
  return 0.5 * sum_per_example(alpha2(g) * (x.pow(2) - 1) - log_sigma2(g).expand_as(x));
}

at::Tensor encode_8bit(const at::Tensor& k) { return (2 * k.to(at::kFloat) + 1) / 256.0 - 1; }

namespace {

// Index of the bin centre nearest to y, in {0..255}.
at::Tensor nearest_bin(const at::Tensor& y) {
  return torch::round((y + 1) / kBin - 0.5).clamp(0, 255).to(at::kLong);
}

at::Tensor rescaled_z0(const at::Tensor& z_0, const at::Tensor& gamma_0) {
  return z_0 * torch::exp(-0.5 * log_alpha2(per_example(gamma_0, z_0)));  // z_0/α_0
}

}  // namespace

at::Tensor recon_loss_8bit(const at::Tensor& k, const at::Tensor& z_0, const at::Tensor& gamma_0) {
  auto g = per_example(gamma_0, z_0);
  auto y = rescaled_z0(z_0, gamma_0);
  auto precision = torch::exp(-g);  // of y around f(k): α_0²/σ_0² = e^{−γ_0}
  const double max_std = std::exp(0.5 * gamma_0.max().item<double>());
  const int64_t w =
      std::min<int64_t>(255, static_cast<int64_t>(std::ceil(11 * max_std / kBin)) + 1);
  auto offsets = torch::arange(-w, w + 1, y.options().dtype(at::kLong));
  auto idx = nearest_bin(y).unsqueeze(-1) + offsets;
  auto valid = (idx >= 0).logical_and(idx <= 255);
  auto f = encode_8bit(idx.clamp(0, 255)).to(y.dtype());
  auto logits = -0.5 * precision.unsqueeze(-1) * (y.unsqueeze(-1) - f).pow(2);
  auto log_norm = torch::logsumexp(logits.masked_fill(valid.logical_not(), -INFINITY), -1);
  auto true_logit = -0.5 * precision * (y - encode_8bit(k).to(y.dtype())).pow(2);
  return sum_per_example(log_norm - true_logit);
}

at::Tensor decode_8bit(const at::Tensor& z_0, const at::Tensor& gamma_0) {
  return nearest_bin(rescaled_z0(z_0, gamma_0));
}

at::Tensor recon_loss_continuous(const at::Tensor& x, const at::Tensor& z_0,
                                 const at::Tensor& gamma_0) {
  auto g = per_example(gamma_0, x);
  auto y = rescaled_z0(z_0, gamma_0);
  return 0.5 * sum_per_example((x - y).pow(2) * torch::exp(-g) + std::log(2 * M_PI) + g);
}

at::Tensor antithetic_times(int64_t n, const at::Tensor& u0) {
  return torch::remainder(u0 + torch::arange(n, u0.options()) / static_cast<double>(n), 1.0);
}

at::Tensor discretize_times(const at::Tensor& t, int64_t T) {
  const double steps = static_cast<double>(T);
  return torch::ceil(t * steps).clamp(1, steps) / steps;
}

}  // namespace deepgen::diffusion

#pragma once
// Gaussian, Bernoulli and discretised-logistic building blocks of the ELBO (MATH 1.1, MATH 1.4).
// Elementwise: callers sum over the dimensions they need.
#include <ATen/core/Tensor.h>

namespace deepgen::vi {

inline constexpr double kLog2Pi = 1.8378770664093453;  // log(2π)

// KL(N(mu1, e^lv1) || N(mu2, e^lv2)) = ½[lv2 − lv1 + (e^lv1 + (mu1 − mu2)²)/e^lv2 − 1].
at::Tensor gaussian_kl(const at::Tensor& mu1, const at::Tensor& logvar1, const at::Tensor& mu2,
                       const at::Tensor& logvar2);
// KL(N(mu, e^lv) || N(0, 1)) = ½(mu² + e^lv − 1 − lv)  (MATH 1.4; Kingma & Welling 2014, App. B).
at::Tensor kl_standard_normal(const at::Tensor& mu, const at::Tensor& logvar);
// z = mu + e^{lv/2} · eps: the reparameterisation trick (MATH 1.4), differentiable in mu and lv.
at::Tensor reparameterize(const at::Tensor& mu, const at::Tensor& logvar, const at::Tensor& eps);
// log N(x; mean, e^lv) = −½[log 2π + lv + (x − mean)²/e^lv].
at::Tensor gaussian_log_prob(const at::Tensor& x, const at::Tensor& mean, const at::Tensor& logvar);
// log Bernoulli(x; sigmoid(logits)) = x·logits − softplus(logits), stable for large |logits|.
at::Tensor bernoulli_log_prob(const at::Tensor& x, const at::Tensor& logits);
// Discretised logistic (Salimans et al. 2017, PixelCNN++ eq. 2): log P(k) of the 8-bit pixel
// x = k/255 (k recovered by rounding), P(k) = σ((x⁺ − mean)/s) − σ((x⁻ − mean)/s) with bin edges
// x± = (k ± ½)/255, s = e^log_scale, and the edge bins open (x⁻ = −∞ at k = 0, x⁺ = +∞ at
// k = 255), so the 256 probabilities sum to 1 for any mean and scale. Exact in log space for
// every mean and scale: no underflow, and no mid-point fallback.
at::Tensor discretized_logistic_log_prob(const at::Tensor& x, const at::Tensor& mean,
                                         const at::Tensor& log_scale);

}  // namespace deepgen::vi

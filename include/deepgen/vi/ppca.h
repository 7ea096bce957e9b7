#pragma once
// Probabilistic PCA, z ~ N(0, I_k), x | z ~ N(W z + b, s² I_D): a latent-variable model whose
// marginal and posterior are exact, so every bound can be checked against the truth (MATH 1.1).
#include <ATen/core/Tensor.h>

#include <utility>

namespace deepgen::vi {

struct Ppca {
  at::Tensor w;  // (D, k)
  at::Tensor b;  // (D)
  double s2;     // observation noise variance s²

  // log p(x) = log N(x; b, W Wᵀ + s² I), x (B, D) -> (B).
  at::Tensor log_marginal(const at::Tensor& x) const;
  // log p(x, z) = log N(x; W z + b, s² I) + log N(z; 0, I), (B, D), (.., B, k) -> (.., B).
  at::Tensor log_joint(const at::Tensor& x, const at::Tensor& z) const;
  // p(z | x) = N(M⁻¹ Wᵀ (x − b), s² M⁻¹), M = WᵀW + s² I: mean (B, k), covariance (k, k).
  std::pair<at::Tensor, at::Tensor> posterior(const at::Tensor& x) const;
  // ELBO (MATH 1.1) of q(z) = N(mean, diag e^logvar) in closed form, (B, k) each -> (B):
  // E_q[log p(x|z)] − KL(q || N(0, I)).
  at::Tensor elbo(const at::Tensor& x, const at::Tensor& mean, const at::Tensor& logvar) const;
  // The smallest gap log p(x) − ELBO over diagonal Gaussians q: ½(Σ log M_jj − log det M).
  double diagonal_gap() const;
  at::Tensor m() const;  // M = WᵀW + s² I
};

}  // namespace deepgen::vi

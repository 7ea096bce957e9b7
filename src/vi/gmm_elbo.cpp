// The full ELBO of the Bayesian Gaussian mixture in closed form (PRML 10.70–10.77).
#include <cmath>

#include "deepgen/core/error.h"
#include "deepgen/vi/gaussian.h"
#include "deepgen/vi/gmm.h"
#include "gmm_internal.h"

namespace deepgen::vi {

using namespace gmm_detail;

namespace {

constexpr double kLogPi = 1.1447298858494002;  // ln π

// ln C(a) = ln Γ(Σ_k a_k) − Σ_k ln Γ(a_k), the Dirichlet normaliser (PRML B.23).
double log_dirichlet_norm(const at::Tensor& a) {
  return (torch::lgamma(a.sum()) - torch::lgamma(a).sum()).item<double>();
}

// ln B(W, ν) = −(ν/2) ln|W| − (νD/2) ln 2 − (D(D−1)/4) ln π − Σ_{i=1..D} ln Γ((ν + 1 − i)/2),
// the Wishart normaliser (PRML B.79), from ν (K) and ln|W| (K).
at::Tensor log_wishart_norm(const at::Tensor& nu, const at::Tensor& log_det_w, int64_t d) {
  const auto dd = static_cast<double>(d);
  const at::Tensor i = torch::arange(d, nu.options());
  const at::Tensor lgammas = torch::lgamma((nu.unsqueeze(1) - i) / 2).sum(1);
  return -0.5 * nu * log_det_w - 0.5 * dd * std::log(2.0) * nu - 0.25 * dd * (dd - 1) * kLogPi -
         lgammas;
}

// ln|W| of W⁻¹'s lower Cholesky factors (.., D, D).
at::Tensor log_det_from_inverse_chol(const at::Tensor& l) {
  return -2 * l.diagonal(0, -2, -1).log().sum(-1);
}

// E[ln p(μ, Λ)] (PRML 10.74): ½ Σ_k {D ln(β₀/2π) + E ln|Λ_k| − Dβ₀/β_k
// − β₀ν_k (m_k − m₀)ᵀ W_k (m_k − m₀)} + K ln B(W₀, ν₀) + ½(ν₀ − D − 1) Σ_k E ln|Λ_k|
// − ½ Σ_k ν_k Tr(W₀⁻¹ W_k).
double expected_log_prior_mu_lambda(const GmmPosterior& q, const GmmPrior& p,
                                    const at::Tensor& elog_det, const at::Tensor& l) {
  const int64_t d = q.m.size(1), k = q.m.size(0);
  const auto dd = static_cast<double>(d);
  const at::Tensor quad_m = solve_sq_norm(l, (q.m - p.m0).unsqueeze(2)).squeeze(1);  // (K)
  const at::Tensor c0 = lower_cholesky(p.w0_inv, "GMM prior w0_inv");
  const at::Tensor trace = torch::linalg_solve_triangular(l, c0.expand({k, d, d}), false)
                               .pow(2)
                               .sum({1, 2});  // Tr(W₀⁻¹ W_k) = ‖L_k⁻¹ C₀‖²_F
  const at::Tensor log_det_w0 = log_det_from_inverse_chol(c0).reshape({1});
  const double log_b0 =
      log_wishart_norm(torch::full({1}, p.nu0, q.nu.options()), log_det_w0, d).item<double>();
  const at::Tensor per_k = 0.5 * (dd * std::log(p.beta0) - dd * kLog2Pi + elog_det -
                                  dd * p.beta0 / q.beta - p.beta0 * q.nu * quad_m) +
                           log_b0 + 0.5 * (p.nu0 - dd - 1) * elog_det - 0.5 * q.nu * trace;
  return per_k.sum().item<double>();
}

// E[ln q(μ, Λ)] (PRML 10.77): Σ_k {½ E ln|Λ_k| + (D/2) ln(β_k/2π) − D/2 − H[q(Λ_k)]}, with the
// Wishart entropy H = −ln B(W_k, ν_k) − ½(ν_k − D − 1) E ln|Λ_k| + ν_k D/2 (PRML B.82).
double expected_log_q_mu_lambda(const GmmPosterior& q, const at::Tensor& elog_det,
                                const at::Tensor& l) {
  const int64_t d = q.m.size(1);
  const auto dd = static_cast<double>(d);
  const at::Tensor entropy = -log_wishart_norm(q.nu, log_det_from_inverse_chol(l), d) -
                             0.5 * (q.nu - dd - 1) * elog_det + 0.5 * dd * q.nu;
  const at::Tensor per_k =
      0.5 * elog_det + 0.5 * dd * (q.beta.log() - kLog2Pi) - 0.5 * dd - entropy;
  return per_k.sum().item<double>();
}

}  // namespace

GmmElbo gmm_elbo(const at::Tensor& x_in, const at::Tensor& resp, const GmmPosterior& q,
                 const GmmPrior& prior) {
  const at::Tensor x = as_points(x_in, "GMM data x");
  const int64_t d = x.size(1);
  check_prior(prior, d);
  check_posterior(q, d);
  const at::Tensor r = as_resp(resp, x.size(0), "GMM responsibilities");
  if (r.size(1) != q.alpha.size(0))
    throw Error("GMM responsibilities have " + std::to_string(r.size(1)) +
                " columns but the posterior has " + std::to_string(q.alpha.size(0)) +
                " components");
  const int64_t k = q.alpha.size(0);
  const at::Tensor l = lower_cholesky(q.w_inv, "GMM posterior w_inv");
  const at::Tensor elog_pi = gmm_expected_log_weights(q);  // (10.66)
  const at::Tensor elog_det = gmm_expected_log_det(q);     // (10.65)
  const at::Tensor maha = gmm_expected_mahalanobis(x, q);  // (10.64)
  GmmElbo e;
  // (10.71), summed point by point: Σ_nk r_nk ½{E ln|Λ_k| − E[(x_n − μ_k)ᵀΛ_k(x_n − μ_k)] − D ln
  // 2π}.
  e.log_p_x =
      (r * (0.5 * (elog_det - maha - static_cast<double>(d) * kLog2Pi))).sum().item<double>();
  e.log_p_z = (r.sum(0) * elog_pi).sum().item<double>();  // (10.72)
  e.log_p_pi = log_dirichlet_norm(torch::full({k}, prior.alpha0, q.alpha.options())) +
               (prior.alpha0 - 1) * elog_pi.sum().item<double>();           // (10.73)
  e.log_p_mu_lambda = expected_log_prior_mu_lambda(q, prior, elog_det, l);  // (10.74)
  e.log_q_z = torch::xlogy(r, r).sum().item<double>();                      // (10.75)
  e.log_q_pi =
      ((q.alpha - 1) * elog_pi).sum().item<double>() + log_dirichlet_norm(q.alpha);  // (10.76)
  e.log_q_mu_lambda = expected_log_q_mu_lambda(q, elog_det, l);                      // (10.77)
  return e;
}

}  // namespace deepgen::vi

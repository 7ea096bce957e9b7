#pragma once
// Mean-field coordinate-ascent VI for the Bayesian Gaussian mixture (MATH 1.5; Bishop, PRML
// §10.2). Model: π ~ Dir(α₀ 1_K); Λ_k ~ W(W₀, ν₀), μ_k | Λ_k ~ N(m₀, (β₀ Λ_k)⁻¹); z_n | π ~ Cat(π);
// x_n | z_n = k ~ N(μ_k, Λ_k⁻¹), full covariances. The variational family is
// q(Z) q(π) Π_k q(μ_k, Λ_k) with q(z_n) = Cat(r_n), q(π) = Dir(α),
// q(μ_k, Λ_k) = N(μ_k | m_k, (β_k Λ_k)⁻¹) W(Λ_k | W_k, ν_k).
//
// Everything is computed in float64 on the CPU (inputs are converted). Scale matrices are held as
// their inverses W⁻¹ (what the updates produce) and used through their Cholesky factors. The
// updates are the textbook ones, written as scikit-learn's BayesianGaussianMixture
// (weight_concentration_prior_type='dirichlet_distribution', covariance_type='full',
// reg_covar=0) writes them, including its N_k + 10·eps guard, so that from the same initial
// responsibilities both give the same parameters.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace deepgen::vi {

// The prior. Zero / undefined fields take scikit-learn's data-dependent defaults, filled in by
// gmm_resolve_prior.
struct GmmPrior {
  double alpha0 = 0;  // Dirichlet concentration α₀ of each component (0: 1/K)
  double beta0 = 1;   // β₀: prior precision of μ_k in units of Λ_k (> 0)
  double nu0 = 0;     // Wishart degrees of freedom ν₀ > D − 1 (0: D)
  at::Tensor m0;      // (D) prior mean of μ_k (undefined: the data mean)
  at::Tensor w0_inv;  // (D, D) W₀⁻¹, inverse Wishart scale (undefined: the data covariance, N − 1)
};

// q(π) q(μ, Λ): the parameters of PRML (10.58)–(10.63).
struct GmmPosterior {
  at::Tensor alpha;  // (K) Dirichlet α_k
  at::Tensor beta;   // (K) β_k
  at::Tensor m;      // (K, D) m_k
  at::Tensor w_inv;  // (K, D, D) W_k⁻¹
  at::Tensor nu;     // (K) ν_k
};

// The seven expectations of the ELBO (PRML 10.70), in nats for the whole data set; nothing is
// dropped, so total() is the bound on log p(X) itself.
struct GmmElbo {
  double log_p_x = 0;          // E[log p(X | Z, μ, Λ)]  (10.71)
  double log_p_z = 0;          // E[log p(Z | π)]        (10.72)
  double log_p_pi = 0;         // E[log p(π)]            (10.73)
  double log_p_mu_lambda = 0;  // E[log p(μ, Λ)]         (10.74)
  double log_q_z = 0;          // E[log q(Z)]            (10.75)
  double log_q_pi = 0;         // E[log q(π)]            (10.76)
  double log_q_mu_lambda = 0;  // E[log q(μ, Λ)]         (10.77)
  double total() const {
    return log_p_x + log_p_z + log_p_pi + log_p_mu_lambda - log_q_z - log_q_pi - log_q_mu_lambda;
  }
};

struct GmmFitOptions {
  int64_t components = 0;  // K, 1 <= K <= N
  int64_t max_iter = 100;  // CAVI sweeps (E-step then M-step), >= 1
  // Converged when the ELBO changes by less than tol nats per data point between sweeps,
  // |L_t − L_{t−1}| / N < tol (scikit-learn compares its lower bound's total change to tol).
  double tol = 1e-3;
  uint64_t seed = 0;  // k-means++ initialisation when no responsibilities are given
  // Component k is reported collapsed when N_k = Σ_n r_nk < collapse_threshold · N.
  double collapse_threshold = 1e-3;
  GmmPrior prior;
};

struct GmmFit {
  GmmPrior prior;  // resolved: every default filled in
  GmmPosterior posterior;
  at::Tensor log_resp;       // (N, K) log r_nk of a final E-step with the fitted posterior
  at::Tensor weights;        // (K) E[π_k] = α_k / Σ_j α_j
  at::Tensor means;          // (K, D) E[μ_k] = m_k
  at::Tensor covariances;    // (K, D, D) E[Λ_k]⁻¹ = W_k⁻¹ / ν_k
  std::vector<double> elbo;  // the full ELBO after each sweep's M-step
  int64_t iterations = 0;
  bool converged = false;
  std::vector<int64_t> collapsed;  // components with N_k < collapse_threshold · N
};

// The prior with scikit-learn's defaults filled in from the data x (N, D): α₀ = 1/K, ν₀ = D,
// m₀ = mean, W₀⁻¹ = covariance (denominator N − 1). Error when a value is out of range.
GmmPrior gmm_resolve_prior(const at::Tensor& x, int64_t k, const GmmPrior& prior = {});

// E[ln π_k] = ψ(α_k) − ψ(Σ_j α_j), (K)  (PRML 10.66).
at::Tensor gmm_expected_log_weights(const GmmPosterior& q);
// E[ln |Λ_k|] = Σ_{i=1..D} ψ((ν_k + 1 − i)/2) + D ln 2 + ln |W_k|, (K)  (PRML 10.65).
at::Tensor gmm_expected_log_det(const GmmPosterior& q);
// E[(x_n − μ_k)ᵀ Λ_k (x_n − μ_k)] = D/β_k + ν_k (x_n − m_k)ᵀ W_k (x_n − m_k), (N, K)  (10.64).
at::Tensor gmm_expected_mahalanobis(const at::Tensor& x, const GmmPosterior& q);

// M-step: q(π) and q(μ, Λ) from responsibilities r (N, K) (PRML 10.51–10.53, 10.58, 10.60–10.63).
GmmPosterior gmm_m_step(const at::Tensor& x, const at::Tensor& resp, const GmmPrior& prior);
// ln ρ_nk = E[ln π_k] + ½ E[ln |Λ_k|] − (D/2) ln 2π − ½ E[(x_n − μ_k)ᵀ Λ_k (x_n − μ_k)],
// (N, K)  (PRML 10.46).
at::Tensor gmm_log_rho(const at::Tensor& x, const GmmPosterior& q);
// E-step: log r_nk = ln ρ_nk − logsumexp_j ln ρ_nj, (N, K)  (PRML 10.49).
at::Tensor gmm_e_step(const at::Tensor& x, const GmmPosterior& q);
// The full ELBO of q(Z) = r (N, K) and q(π, μ, Λ) in closed form (PRML 10.70–10.77). Any r and
// posterior are allowed; the prior must be resolved.
GmmElbo gmm_elbo(const at::Tensor& x, const at::Tensor& resp, const GmmPosterior& q,
                 const GmmPrior& prior);

// Hard responsibilities (N, K) from k-means++ seeding followed by Lloyd iterations (at most
// 100), deterministic in seed.
at::Tensor gmm_kmeans_resp(const at::Tensor& x, int64_t k, uint64_t seed);

// CAVI (MATH 1.5): posterior = M-step(initial_resp, or k-means when undefined), then up to max_iter
// sweeps of E-step, M-step, ELBO. Error names the input and the fix for bad data or options.
GmmFit fit_gmm(const at::Tensor& x, const GmmFitOptions& options,
               const at::Tensor& initial_resp = {});

}  // namespace deepgen::vi

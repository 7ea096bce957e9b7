// The Bayesian Gaussian mixture's prior, expectations, E-step and M-step (PRML §10.2.1).
#include "deepgen/vi/gmm.h"

#include <limits>

#include "deepgen/core/error.h"
#include "deepgen/vi/gaussian.h"
#include "gmm_internal.h"

namespace deepgen::vi {

namespace gmm_detail {

namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kDouble);

std::string shape_of(const at::Tensor& t) {
  if (!t.defined()) return "undefined";
  std::string s = "(";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + ")";
}

bool all_finite(const at::Tensor& t) { return torch::isfinite(t).all().item<bool>(); }

}  // namespace

at::Tensor as_points(const at::Tensor& x, const std::string& what) {
  if (!x.defined() || x.dim() != 2 || x.size(0) < 1 || x.size(1) < 1)
    throw Error(what + " must be a 2-D tensor of points (N, D) with N, D >= 1, got " + shape_of(x) +
                ": flatten each point into one row");
  at::Tensor out = x.detach().to(torch::kCPU, torch::kDouble).contiguous();
  if (!all_finite(out))
    throw Error(what + " has NaN or infinite values: drop or impute those rows first");
  return out;
}

at::Tensor as_resp(const at::Tensor& resp, int64_t n, const std::string& what) {
  if (!resp.defined() || resp.dim() != 2 || resp.size(0) != n || resp.size(1) < 1)
    throw Error(what + " must be responsibilities (N, K) with N = " + std::to_string(n) +
                " rows, got " + shape_of(resp));
  at::Tensor r = resp.detach().to(torch::kCPU, torch::kDouble).contiguous();
  if (!all_finite(r) || r.min().item<double>() < 0)
    throw Error(what + " must be finite and non-negative");
  if ((r.sum(1) - 1).abs().max().item<double>() > 1e-6)
    throw Error(what + ": every row must sum to 1 (within 1e-6); normalise the rows");
  return r;
}

at::Tensor lower_cholesky(const at::Tensor& a, const std::string& what) {
  if (!all_finite(a)) throw Error(what + " has NaN or infinite entries");
  auto [l, info] = torch::linalg_cholesky_ex(a);
  if (info.ne(0).any().item<bool>()) throw Error(what + " is not symmetric positive definite");
  return l;
}

at::Tensor solve_sq_norm(const at::Tensor& l, const at::Tensor& v) {
  return torch::linalg_solve_triangular(l, v, /*upper=*/false).pow(2).sum(-2);
}

void check_prior(const GmmPrior& p, int64_t d) {
  const std::string hint = " (fill the defaults with gmm_resolve_prior)";
  if (!(p.alpha0 > 0) || !std::isfinite(p.alpha0))
    throw Error("GMM prior: alpha0 must be > 0, got " + std::to_string(p.alpha0) + hint);
  if (!(p.beta0 > 0) || !std::isfinite(p.beta0))
    throw Error("GMM prior: beta0 must be > 0, got " + std::to_string(p.beta0));
  if (!(p.nu0 > static_cast<double>(d) - 1) || !std::isfinite(p.nu0))
    throw Error("GMM prior: nu0 must be > D - 1 = " + std::to_string(d - 1) + ", got " +
                std::to_string(p.nu0) + hint);
  if (!p.m0.defined() || p.m0.scalar_type() != torch::kDouble || p.m0.sizes() != at::IntArrayRef{d})
    throw Error("GMM prior: m0 must be float64 of shape (" + std::to_string(d) + "), got " +
                shape_of(p.m0) + hint);
  if (!all_finite(p.m0)) throw Error("GMM prior: m0 has NaN or infinite entries");
  if (!p.w0_inv.defined() || p.w0_inv.scalar_type() != torch::kDouble ||
      p.w0_inv.sizes() != at::IntArrayRef{d, d})
    throw Error("GMM prior: w0_inv must be float64 of shape (" + std::to_string(d) + ", " +
                std::to_string(d) + "), got " + shape_of(p.w0_inv) + hint);
  const double scale = p.w0_inv.abs().max().item<double>();
  if ((p.w0_inv - p.w0_inv.t()).abs().max().item<double>() > 1e-10 * scale)
    throw Error("GMM prior: w0_inv must be symmetric");
  lower_cholesky(p.w0_inv,
                 "GMM prior: w0_inv (by default the data covariance; singular when a coordinate is "
                 "constant or the points lie in a lower-dimensional subspace: give w0_inv)");
}

void check_posterior(const GmmPosterior& q, int64_t d) {
  const bool ok = q.alpha.defined() && q.alpha.dim() == 1 && q.beta.defined() && q.m.defined() &&
                  q.w_inv.defined() && q.nu.defined();
  const int64_t k = ok ? q.alpha.size(0) : 0;
  if (!ok || q.beta.sizes() != at::IntArrayRef{k} || q.nu.sizes() != at::IntArrayRef{k} ||
      q.m.sizes() != at::IntArrayRef{k, d} || q.w_inv.sizes() != at::IntArrayRef{k, d, d})
    throw Error("GMM posterior: expected alpha, beta, nu (K), m (K, " + std::to_string(d) +
                "), w_inv (K, " + std::to_string(d) + ", " + std::to_string(d) + "); got m " +
                shape_of(q.m) + ", w_inv " + shape_of(q.w_inv));
}

}  // namespace gmm_detail

using namespace gmm_detail;

GmmPrior gmm_resolve_prior(const at::Tensor& x_in, int64_t k, const GmmPrior& prior) {
  const at::Tensor x = as_points(x_in, "GMM data x");
  const int64_t n = x.size(0), d = x.size(1);
  if (k < 1) throw Error("GMM: the number of components must be >= 1, got " + std::to_string(k));
  GmmPrior p = prior;
  if (p.alpha0 == 0) p.alpha0 = 1.0 / static_cast<double>(k);
  if (p.nu0 == 0) p.nu0 = static_cast<double>(d);
  p.m0 = p.m0.defined() ? p.m0.detach().to(torch::kCPU, torch::kDouble).contiguous() : x.mean(0);
  if (p.w0_inv.defined()) {
    p.w0_inv = p.w0_inv.detach().to(torch::kCPU, torch::kDouble).contiguous();
  } else {
    if (n < 2)
      throw Error(
          "GMM prior: the default w0_inv is the data covariance, which needs >= 2 points "
          "(got 1): give w0_inv or more data");
    const at::Tensor xc = x - x.mean(0);
    p.w0_inv = xc.t().matmul(xc) / static_cast<double>(n - 1);
  }
  check_prior(p, d);
  return p;
}

at::Tensor gmm_expected_log_weights(const GmmPosterior& q) {
  return torch::digamma(q.alpha) - torch::digamma(q.alpha.sum());
}

at::Tensor gmm_expected_log_det(const GmmPosterior& q) {
  const int64_t d = q.m.size(1);
  const at::Tensor i = torch::arange(d, q.nu.options());  // i − 1 for i = 1..D
  const at::Tensor psi = torch::digamma((q.nu.unsqueeze(1) - i) / 2).sum(1);
  const at::Tensor l = lower_cholesky(q.w_inv, "GMM posterior w_inv");
  const at::Tensor log_det_w = -2 * l.diagonal(0, -2, -1).log().sum(-1);  // ln|W| = −ln|W⁻¹|
  return psi + static_cast<double>(d) * std::log(2.0) + log_det_w;
}

at::Tensor gmm_expected_mahalanobis(const at::Tensor& x_in, const GmmPosterior& q) {
  const at::Tensor x = as_points(x_in, "GMM data x");
  const int64_t d = x.size(1);
  check_posterior(q, d);
  const at::Tensor l = lower_cholesky(q.w_inv, "GMM posterior w_inv");
  const at::Tensor diff = (x.unsqueeze(0) - q.m.unsqueeze(1)).transpose(1, 2);  // (K, D, N)
  const at::Tensor quad = solve_sq_norm(l, diff);  // (x − m_k)ᵀ W_k (x − m_k), (K, N)
  return (static_cast<double>(d) / q.beta.unsqueeze(1) + q.nu.unsqueeze(1) * quad).t();
}

GmmPosterior gmm_m_step(const at::Tensor& x_in, const at::Tensor& resp, const GmmPrior& prior) {
  const at::Tensor x = as_points(x_in, "GMM data x");
  check_prior(prior, x.size(1));
  const at::Tensor r = as_resp(resp, x.size(0), "GMM responsibilities");
  // N_k (10.51), plus scikit-learn's 10·eps so that x̄_k stays finite when a component is empty.
  const at::Tensor nk = r.sum(0) + 10 * std::numeric_limits<double>::epsilon();
  const at::Tensor xbar = r.t().matmul(x) / nk.unsqueeze(1);                            // (10.52)
  const at::Tensor diff = x.unsqueeze(0) - xbar.unsqueeze(1);                           // (K, N, D)
  const at::Tensor scatter = (r.t().unsqueeze(2) * diff).transpose(1, 2).matmul(diff);  // N_k S_k
  const at::Tensor dm = xbar - prior.m0;
  GmmPosterior q;
  q.alpha = prior.alpha0 + nk;                                                    // (10.58)
  q.beta = prior.beta0 + nk;                                                      // (10.60)
  q.m = (prior.beta0 * prior.m0 + nk.unsqueeze(1) * xbar) / q.beta.unsqueeze(1);  // (10.61)
  const at::Tensor shrink = (prior.beta0 * nk / q.beta).view({-1, 1, 1});
  q.w_inv = prior.w0_inv + scatter + shrink * dm.unsqueeze(2) * dm.unsqueeze(1);  // (10.62)
  q.nu = prior.nu0 + nk;                                                          // (10.63)
  return q;
}

at::Tensor gmm_log_rho(const at::Tensor& x, const GmmPosterior& q) {
  const auto d = static_cast<double>(q.m.size(1));
  const at::Tensor maha = gmm_expected_mahalanobis(x, q);  // checks x and q
  return gmm_expected_log_weights(q) + 0.5 * gmm_expected_log_det(q) - 0.5 * d * kLog2Pi -
         0.5 * maha;
}

at::Tensor gmm_e_step(const at::Tensor& x, const GmmPosterior& q) {
  return torch::log_softmax(gmm_log_rho(x, q), 1);
}

}  // namespace deepgen::vi

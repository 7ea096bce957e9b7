#include "deepgen/vi/ppca.h"

#include "deepgen/vi/gaussian.h"

namespace deepgen::vi {

at::Tensor Ppca::m() const {
  const int64_t k = w.size(1);
  return w.t().matmul(w) + s2 * torch::eye(k, w.options());
}

at::Tensor Ppca::log_marginal(const at::Tensor& x) const {
  const int64_t d = w.size(0);
  at::Tensor c = w.matmul(w.t()) + s2 * torch::eye(d, w.options());
  at::Tensor r = x - b;
  at::Tensor l = torch::linalg_cholesky(c);
  at::Tensor sol = torch::cholesky_solve(r.t(), l).t();  // C⁻¹ r for every row
  const at::Tensor logdet = 2.0 * l.diagonal().log().sum();
  return -0.5 * (d * kLog2Pi + logdet + (r * sol).sum(-1));
}

at::Tensor Ppca::log_joint(const at::Tensor& x, const at::Tensor& z) const {
  at::Tensor mean = z.matmul(w.t()) + b;
  at::Tensor log_s2 = torch::full({}, std::log(s2), x.options());
  at::Tensor zero = torch::zeros({}, z.options());
  return gaussian_log_prob(x, mean, log_s2).sum(-1) + gaussian_log_prob(z, zero, zero).sum(-1);
}

std::pair<at::Tensor, at::Tensor> Ppca::posterior(const at::Tensor& x) const {
  at::Tensor m_inv = torch::inverse(m());
  return {(x - b).matmul(w).matmul(m_inv), s2 * m_inv};
}

at::Tensor Ppca::elbo(const at::Tensor& x, const at::Tensor& mean, const at::Tensor& logvar) const {
  const int64_t d = w.size(0);
  at::Tensor r = x - b - mean.matmul(w.t());
  // E_q ||x − b − W z||² = ||x − b − W m||² + Σ_j v_j ||W_:j||².
  at::Tensor expected_sq = r.pow(2).sum(-1) + (logvar.exp() * w.pow(2).sum(0)).sum(-1);
  at::Tensor expected_ll = -0.5 * (d * (kLog2Pi + std::log(s2)) + expected_sq / s2);
  return expected_ll - kl_standard_normal(mean, logvar).sum(-1);
}

double Ppca::diagonal_gap() const {
  at::Tensor mm = m();
  return 0.5 * (mm.diagonal().log().sum() - torch::logdet(mm)).item<double>();
}

}  // namespace deepgen::vi

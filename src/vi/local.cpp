#include "deepgen/vi/local.h"

#include <torch/autograd.h>

#include "deepgen/core/error.h"

namespace deepgen::vi {

LocalPosteriorsImpl::LocalPosteriorsImpl(int64_t n, int64_t latent) : latent_(latent) {
  if (n <= 0)
    throw Error("per-example inference needs the training set size (got " + std::to_string(n) +
                " examples)");
  if (latent <= 0) throw Error("per-example inference needs latent > 0");
  psi_ = register_buffer("psi", torch::zeros({n, 2 * latent}));
  exp_avg_ = register_buffer("exp_avg", torch::zeros({n, 2 * latent}));
  exp_avg_sq_ = register_buffer("exp_avg_sq", torch::zeros({n, 2 * latent}));
  steps_ = register_buffer("steps", torch::zeros({n}, torch::kInt64));
}

std::pair<at::Tensor, at::Tensor> LocalPosteriorsImpl::gather(const at::Tensor& index) {
  if (index.dim() != 1 || index.numel() == 0)
    throw Error("per-example inference needs the batch's row indices");
  const int64_t lo = index.min().item<int64_t>(), hi = index.max().item<int64_t>();
  if (lo < 0 || hi >= size())
    throw Error("row index " + std::to_string(lo < 0 ? lo : hi) + " is outside the " +
                std::to_string(size()) + " per-example posteriors (trained on another data set?)");
  index_ = index;
  rows_ = psi_.index_select(0, index).detach().requires_grad_(true);
  return {rows_.narrow(1, 0, latent_), rows_.narrow(1, latent_, latent_)};
}

void LocalPosteriorsImpl::step(double lr, const train::OptimizerOptions& options) {
  if (!rows_.defined() || !rows_.grad().defined()) return;
  train::row_adam_step(psi_, exp_avg_, exp_avg_sq_, steps_, index_, rows_.grad(), lr, options);
  rows_ = at::Tensor();
}

std::pair<at::Tensor, at::Tensor> fit_local_posterior(const NegElboFn& neg_elbo, at::Tensor mu,
                                                      at::Tensor logvar, int64_t steps, double lr) {
  if (steps < 0 || !(lr > 0)) throw Error("refining q needs steps >= 0 and a positive rate");
  torch::AutoGradMode enable(true);  // callers evaluate under NoGradGuard
  const int64_t latent = mu.size(1);
  at::Tensor psi = torch::cat({mu, logvar}, 1).detach();
  at::Tensor m1 = torch::zeros_like(psi), m2 = torch::zeros_like(psi);
  at::Tensor count = torch::zeros({psi.size(0)}, psi.options().dtype(torch::kInt64));
  const at::Tensor all = torch::arange(psi.size(0), count.options());
  const train::OptimizerOptions adam;
  for (int64_t s = 0; s < steps; ++s) {
    at::Tensor leaf = psi.detach().requires_grad_(true);
    at::Tensor loss = neg_elbo(leaf.narrow(1, 0, latent), leaf.narrow(1, latent, latent));
    at::Tensor grad = torch::autograd::grad({loss}, {leaf})[0];
    // The rate decays linearly to 0 so that Monte-Carlo gradients settle on the optimum
    // instead of jittering around it at a distance set by lr.
    const double rate = lr * static_cast<double>(steps - s) / static_cast<double>(steps);
    train::row_adam_step(psi, m1, m2, count, all, grad, rate, adam);
  }
  return {psi.narrow(1, 0, latent).contiguous(), psi.narrow(1, latent, latent).contiguous()};
}

}  // namespace deepgen::vi

#pragma once
// Per-example variational parameters ψ_i = (μ_i, log σ²_i) of q_i(z) = N(μ_i, diag σ²_i): the
// non-amortised inference of MATH 1.2 (variational EM) and MATH 1.3a (stochastic VI).
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <functional>
#include <utility>

#include "deepgen/train/optim.h"

namespace deepgen::vi {

// All ψ_i in one (N, 2·latent) table indexed by the data index, updated sparsely: a step touches
// only the rows of its batch (no per-example modules, no dense optimiser state traffic).
class LocalPosteriorsImpl : public torch::nn::Module {
 public:
  LocalPosteriorsImpl(int64_t n, int64_t latent);
  // (μ, log σ²) of the rows `index`, each (B, latent), cut from one fresh leaf whose gradient
  // step() applies. q_i starts at the prior N(0, I).
  std::pair<at::Tensor, at::Tensor> gather(const at::Tensor& index);
  // Lazy Adam (train::row_adam_step) on the rows of the last gather; no-op without a gradient.
  void step(double lr, const train::OptimizerOptions& options);
  // The leaf of the last gather (its gradient is what step() applies); undefined after step().
  const at::Tensor& gathered() const { return rows_; }
  int64_t size() const { return psi_.size(0); }
  int64_t latent() const { return latent_; }

 private:
  int64_t latent_;
  at::Tensor psi_, exp_avg_, exp_avg_sq_, steps_;  // buffers: saved with the model
  at::Tensor index_, rows_;                        // the last gather
};
TORCH_MODULE(LocalPosteriors);

// Negative ELBO summed over a batch as a function of its q parameters (μ, log σ²).
using NegElboFn = std::function<at::Tensor(const at::Tensor& mu, const at::Tensor& logvar)>;

// argmin over ψ of the negative ELBO with the model fixed, by `steps` Adam steps from (mu,
// logvar), the rate decaying linearly from `lr` to 0: per-example inference (MATH 1.3a) for test
// points, and the refinement that measures the amortisation gap when started from an encoder's
// output. Gradients reach only ψ.
std::pair<at::Tensor, at::Tensor> fit_local_posterior(const NegElboFn& neg_elbo, at::Tensor mu,
                                                      at::Tensor logvar, int64_t steps, double lr);

}  // namespace deepgen::vi

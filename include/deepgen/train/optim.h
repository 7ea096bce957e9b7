#pragma once
// Optimiser and learning-rate schedule, as plain options.
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <memory>
#include <string>

namespace deepgen::train {

struct OptimizerOptions {
  std::string name = "adam";  // adam | adamw
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.0;
  std::string schedule = "constant";  // constant | cosine
  int64_t warmup = 0;                 // linear warm-up steps from 0 to lr
  double min_lr_factor = 0.0;         // cosine floor, as a fraction of lr
  double grad_clip = 0.0;             // max global gradient norm; 0 = off
};

// Learning rate at optimiser step `step` (0-based) of `total` (warm-up, then the schedule).
double learning_rate(const OptimizerOptions& options, int64_t step, int64_t total);
// A FlatAdam (train/flat_adam.h) over the module's trainable parameters; torch's own Adam/AdamW
// when they cannot share one buffer (mixed dtypes or devices). Call after moving the module to
// its device: moving it afterwards would detach the parameters from the flat buffer.
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimizerOptions& options,
                                                        torch::nn::Module& module);
// Zeroes the gradients of the optimiser's parameters (one fill for a flat buffer).
void zero_grad(torch::optim::Optimizer& optimizer);
// Scales the gradients so their global 2-norm is at most max_norm; returns the norm before.
double clip_grad_norm(torch::optim::Optimizer& optimizer, double max_norm);
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);
// Throws deepgen::Error naming the bad field.
void validate(const OptimizerOptions& options);

// Adam on the rows `index` (no repeats) of `param` only, each row with its own step count in
// `steps`: the lazy rule of torch.optim.SparseAdam. Rows outside the batch have no gradient, so
// they keep their value and moments instead of drifting on stale momentum. grad: (len(index), ...).
void row_adam_step(at::Tensor& param, at::Tensor& exp_avg, at::Tensor& exp_avg_sq,
                   at::Tensor& steps, const at::Tensor& index, const at::Tensor& grad, double lr,
                   const OptimizerOptions& options);

}  // namespace deepgen::train

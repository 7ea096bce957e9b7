#include "deepgen/train/optim.h"

#include "deepgen/core/error.h"
#include "deepgen/train/flat_adam.h"

namespace deepgen::train {

void validate(const OptimizerOptions& o) {
  if (o.name != "adam" && o.name != "adamw")
    throw Error("unknown optimizer '" + o.name + "': use adam or adamw");
  if (o.schedule != "constant" && o.schedule != "cosine")
    throw Error("unknown lr schedule '" + o.schedule + "': use constant or cosine");
  if (!(o.lr > 0) || !std::isfinite(o.lr))
    throw Error(option_ref("train", "lr") + " must be a positive number");
  if (o.warmup < 0) throw Error(option_ref("train", "warmup") + " must be >= 0");
  if (o.grad_clip < 0)
    throw Error(option_ref("train", "grad_clip") + " must be >= 0 (0 disables clipping)");
  if (o.beta1 < 0 || o.beta1 >= 1 || o.beta2 < 0 || o.beta2 >= 1)
    throw Error("optimizer betas must lie in [0, 1)");
}

double learning_rate(const OptimizerOptions& o, int64_t step, int64_t total) {
  if (o.warmup > 0 && step < o.warmup) return o.lr * static_cast<double>(step + 1) / o.warmup;
  if (o.schedule == "constant") return o.lr;
  // Cosine decay over the steps after warm-up (Loshchilov & Hutter 2017, no restarts).
  const double span = std::max<int64_t>(1, total - o.warmup);
  const double progress = std::min(1.0, static_cast<double>(step - o.warmup) / span);
  const double floor = o.lr * o.min_lr_factor;
  return floor + (o.lr - floor) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const OptimizerOptions& o,
                                                        torch::nn::Module& module) {
  validate(o);
  std::vector<at::Tensor> params;
  for (const at::Tensor& p : module.parameters())
    if (p.requires_grad()) params.push_back(p);
  if (params.empty())
    throw Error("the model has no trainable parameters: nothing for the optimiser to do");
  if (FlatParameters::can_flatten(params)) return std::make_unique<FlatAdam>(params, o);
  if (o.name == "adamw") {
    auto opts = torch::optim::AdamWOptions(o.lr)
                    .betas({o.beta1, o.beta2})
                    .eps(o.eps)
                    .weight_decay(o.weight_decay);
    return std::make_unique<torch::optim::AdamW>(params, opts);
  }
  auto opts = torch::optim::AdamOptions(o.lr)
                  .betas({o.beta1, o.beta2})
                  .eps(o.eps)
                  .weight_decay(o.weight_decay);
  return std::make_unique<torch::optim::Adam>(params, opts);
}

void zero_grad(torch::optim::Optimizer& optimizer) {
  if (auto* flat = dynamic_cast<FlatAdam*>(&optimizer))
    flat->flat().zero_grad();
  else
    optimizer.zero_grad();
}

double clip_grad_norm(torch::optim::Optimizer& optimizer, double max_norm) {
  auto* flat = dynamic_cast<FlatAdam*>(&optimizer);
  if (!flat) {
    std::vector<at::Tensor> params;
    for (auto& group : optimizer.param_groups())
      params.insert(params.end(), group.params().begin(), group.params().end());
    return torch::nn::utils::clip_grad_norm_(params, max_norm);
  }
  // As torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) when that is below 1.
  torch::NoGradGuard no_grad;
  const at::Tensor& g = flat->flat().grads();
  const double norm = g.norm().item<double>();
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1) g.mul_(coef);
  return norm;
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

void row_adam_step(at::Tensor& param, at::Tensor& exp_avg, at::Tensor& exp_avg_sq,
                   at::Tensor& steps, const at::Tensor& index, const at::Tensor& grad, double lr,
                   const OptimizerOptions& o) {
  torch::NoGradGuard no_grad;
  const at::Tensor t = steps.index_select(0, index) + 1;
  std::vector<int64_t> row_shape(grad.dim(), 1);
  row_shape[0] = grad.size(0);
  const at::Tensor tr = t.to(grad.scalar_type()).reshape(row_shape);
  const at::Tensor m = exp_avg.index_select(0, index).mul_(o.beta1).add_(grad, 1.0 - o.beta1);
  const at::Tensor v =
      exp_avg_sq.index_select(0, index).mul_(o.beta2).addcmul_(grad, grad, 1.0 - o.beta2);
  const at::Tensor bias1 = 1.0 - torch::pow(o.beta1, tr);
  const at::Tensor bias2 = 1.0 - torch::pow(o.beta2, tr);
  const at::Tensor step = lr * (m / bias1) / ((v / bias2).sqrt() + o.eps);
  param.index_copy_(0, index, param.index_select(0, index) - step);
  exp_avg.index_copy_(0, index, m);
  exp_avg_sq.index_copy_(0, index, v);
  steps.index_copy_(0, index, t);
}

}  // namespace deepgen::train

#include "deepgen/train/flat_adam.h"

#include <torch/optim/adam.h>

#include "deepgen/core/error.h"

namespace deepgen::train {
namespace {

// A plain tensor over `storage` (no autograd view metadata, so in-place detach_/zero_ on it,
// as torch's own zero_grad does, stay legal).
at::Tensor alias(const at::Tensor& flat, int64_t offset, at::IntArrayRef sizes) {
  at::Tensor t = at::empty({0}, flat.options());
  t.set_(flat.storage(), flat.storage_offset() + offset, sizes, c10::contiguous_strides(sizes));
  return t;
}

}  // namespace

bool FlatParameters::can_flatten(const std::vector<at::Tensor>& params) {
  if (params.empty()) return false;
  for (const at::Tensor& p : params)
    if (p.scalar_type() != params[0].scalar_type() || p.device() != params[0].device() ||
        !p.is_floating_point() || p.is_sparse())
      return false;
  return true;
}

FlatParameters::FlatParameters(std::vector<at::Tensor> params) : params_(std::move(params)) {
  if (!can_flatten(params_))
    throw Error("flat parameters need one floating dtype and device for every parameter");
  int64_t total = 0;
  for (const at::Tensor& p : params_) {
    offsets_.push_back(total);
    total += p.numel();
  }
  torch::NoGradGuard no_grad;
  values_ = at::empty({total}, params_[0].options());
  grads_ = at::zeros({total}, params_[0].options());
  for (size_t i = 0; i < params_.size(); ++i) {
    at::Tensor& p = params_[i];
    values_.narrow(0, offsets_[i], p.numel()).copy_(p.detach().reshape(-1));
    if (p.grad().defined()) grads_.narrow(0, offsets_[i], p.numel()).copy_(p.grad().reshape(-1));
    p.set_data(alias(values_, offsets_[i], p.sizes()));
    point_grad(i);
  }
}

void FlatParameters::point_grad(size_t i) {
  params_[i].mutable_grad() = alias(grads_, offsets_[i], params_[i].sizes());
}

const at::Tensor& FlatParameters::grads() {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    const at::Tensor& g = params_[i].grad();
    const auto* slot = static_cast<const char*>(grads_.data_ptr()) +
                       offsets_[i] * static_cast<int64_t>(grads_.element_size());
    if (g.defined() && g.data_ptr() == slot) continue;
    at::Tensor view = alias(grads_, offsets_[i], params_[i].sizes());
    if (g.defined())
      view.copy_(g);
    else
      view.zero_();
    point_grad(i);
  }
  return grads_;
}

void FlatParameters::zero_grad() {
  grads();  // re-point any replaced gradient before zeroing the buffer
  grads_.zero_();
}

FlatAdam::FlatAdam(const std::vector<at::Tensor>& params, const OptimizerOptions& o)
    : torch::optim::Optimizer(params, std::make_unique<torch::optim::AdamOptions>(o.lr)),
      flat_(params),
      o_(o) {
  exp_avg_ = at::zeros_like(flat_.values());
  exp_avg_sq_ = at::zeros_like(flat_.values());
  denom_ = at::empty_like(flat_.values());
  steps_ = at::zeros({}, at::kLong);
}

// LibTorch 1.13's Adam::step, term for term: decay (L2 for adam, decoupled for adamw), the
// moments, then p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
at::Tensor FlatAdam::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  at::Tensor loss;
  if (closure) {
    torch::AutoGradMode enable(true);
    loss = closure();
  }
  const at::Tensor& p = flat_.values();
  const at::Tensor& g = flat_.grads();
  const double lr = param_groups().front().options().get_lr();
  const int64_t t = steps_.item<int64_t>() + 1;
  steps_.fill_(t);
  at::Tensor grad = g;
  if (o_.weight_decay != 0) {
    if (o_.name == "adamw")
      p.mul_(1 - lr * o_.weight_decay);
    else
      grad = g.add(p, o_.weight_decay);
  }
  const double bias1 = 1 - std::pow(o_.beta1, static_cast<double>(t));
  const double bias2 = 1 - std::pow(o_.beta2, static_cast<double>(t));
  exp_avg_.mul_(o_.beta1).add_(grad, 1 - o_.beta1);
  exp_avg_sq_.mul_(o_.beta2).addcmul_(grad, grad, 1 - o_.beta2);
  at::sqrt_out(denom_, exp_avg_sq_).div_(std::sqrt(bias2)).add_(o_.eps);
  p.addcdiv_(exp_avg_, denom_, -lr / bias1);
  return loss;
}

void FlatAdam::save(torch::serialize::OutputArchive& archive) const {
  archive.write("flat_exp_avg", exp_avg_);
  archive.write("flat_exp_avg_sq", exp_avg_sq_);
  archive.write("flat_step", steps_);
}

void FlatAdam::load(torch::serialize::InputArchive& archive) {
  at::Tensor m, v, t;
  if (!archive.try_read("flat_exp_avg", m)) return load_torch_adam(archive);
  archive.read("flat_exp_avg_sq", v);
  archive.read("flat_step", t);
  if (m.numel() != exp_avg_.numel() || v.numel() != exp_avg_sq_.numel())
    throw Error("optimiser state holds " + std::to_string(m.numel()) + " values, the model has " +
                std::to_string(exp_avg_.numel()) + " parameters (different model configuration?)");
  torch::NoGradGuard no_grad;
  exp_avg_.copy_(m);
  exp_avg_sq_.copy_(v);
  steps_.fill_(t.item<int64_t>());
}

// State written by torch::optim::Adam (checkpoints from before the flat optimiser).
void FlatAdam::load_torch_adam(torch::serialize::InputArchive& archive) {
  torch::optim::Adam legacy(flat_.params(), torch::optim::AdamOptions(o_.lr));
  legacy.load(archive);
  torch::NoGradGuard no_grad;
  int64_t offset = 0, t = 0;
  for (const at::Tensor& p : flat_.params()) {
    auto it = legacy.state().find(c10::guts::to_string(p.unsafeGetTensorImpl()));
    if (it != legacy.state().end()) {
      auto& s = static_cast<torch::optim::AdamParamState&>(*it->second);
      exp_avg_.narrow(0, offset, p.numel()).copy_(s.exp_avg().reshape(-1));
      exp_avg_sq_.narrow(0, offset, p.numel()).copy_(s.exp_avg_sq().reshape(-1));
      t = std::max(t, s.step());
    }
    offset += p.numel();
  }
  steps_.fill_(t);
}

}  // namespace deepgen::train

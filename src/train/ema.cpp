#include "deepgen/train/ema.h"

#include <algorithm>

#include "deepgen/core/error.h"

namespace deepgen::train {

namespace {

// The one buffer the parameters are consecutive views of, or an undefined tensor.
at::Tensor flat_buffer_of(const std::vector<at::Tensor>& params) {
  if (params.empty()) return {};
  const at::Tensor& first = params.front();
  int64_t offset = first.storage_offset(), total = 0;
  for (const at::Tensor& p : params) {
    if (!p.is_contiguous() || !p.storage().is_alias_of(first.storage()) ||
        p.storage_offset() != offset)
      return {};
    offset += p.numel();
    total += p.numel();
  }
  at::Tensor flat = at::empty({0}, first.options());
  flat.set_(first.storage(), first.storage_offset(), {total}, {1});
  return flat;
}

}  // namespace

Ema::Ema(torch::nn::Module& module, double decay) : decay_(decay) {
  if (!(decay > 0 && decay < 1)) throw Error("EMA decay must lie in (0, 1)");
  torch::NoGradGuard no_grad;
  const auto params = module.parameters();
  flat_params_ = flat_buffer_of(params);
  if (!flat_params_.defined()) {
    for (const auto& p : params) shadow_.push_back(p.detach().clone());
    return;
  }
  flat_shadow_ = flat_params_.clone();
  flat_tmp_ = at::empty_like(flat_shadow_);
  int64_t offset = 0;
  for (const auto& p : params) {
    shadow_.push_back(flat_shadow_.narrow(0, offset, p.numel()).view(p.sizes()));
    offset += p.numel();
  }
}

double Ema::decay_at(int64_t updates) const {
  if (updates < 0) return decay_;
  return std::min(decay_,
                  (1.0 + static_cast<double>(updates)) / (10.0 + static_cast<double>(updates)));
}

void Ema::update(torch::nn::Module& module, int64_t updates) {
  torch::NoGradGuard no_grad;
  const double d = decay_at(updates);
  if (flat_shadow_.defined()) {
    flat_shadow_.lerp_(flat_params_, 1.0 - d);
    return;
  }
  auto params = module.parameters();
  for (size_t i = 0; i < params.size(); ++i) shadow_[i].lerp_(params[i].detach(), 1.0 - d);
}

void Ema::swap(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  if (flat_shadow_.defined()) {
    flat_tmp_.copy_(flat_params_);
    flat_params_.copy_(flat_shadow_);
    flat_shadow_.copy_(flat_tmp_);
    return;
  }
  auto params = module.parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    at::Tensor tmp = params[i].detach().clone();
    params[i].detach().copy_(shadow_[i]);
    shadow_[i].copy_(tmp);
  }
}

}  // namespace deepgen::train

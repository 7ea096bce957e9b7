#include "deepgen/train/ema.h"

#include <algorithm>

#include "deepgen/core/error.h"

namespace deepgen::train {

Ema::Ema(torch::nn::Module& module, double decay) : decay_(decay) {
  if (!(decay > 0 && decay < 1)) throw Error("EMA decay must lie in (0, 1)");
  torch::NoGradGuard no_grad;
  for (const auto& p : module.parameters()) shadow_.push_back(p.detach().clone());
}

double Ema::decay_at(int64_t updates) const {
  if (updates < 0) return decay_;
  return std::min(decay_,
                  (1.0 + static_cast<double>(updates)) / (10.0 + static_cast<double>(updates)));
}

void Ema::update(torch::nn::Module& module, int64_t updates) {
  torch::NoGradGuard no_grad;
  const double d = decay_at(updates);
  auto params = module.parameters();
  for (size_t i = 0; i < params.size(); ++i) shadow_[i].lerp_(params[i].detach(), 1.0 - d);
}

void Ema::swap(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  auto params = module.parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    at::Tensor tmp = params[i].detach().clone();
    params[i].detach().copy_(shadow_[i]);
    shadow_[i].copy_(tmp);
  }
}

}  // namespace deepgen::train

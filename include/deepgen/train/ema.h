#pragma once
// Exponential moving average of a module's parameters (Polyak averaging), kept as detached copies.
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <vector>

namespace deepgen::train {

class Ema {
 public:
  Ema(torch::nn::Module& module, double decay);
  // shadow <- d * shadow + (1 - d) * parameter, with d = decay, or, given the number of earlier
  // updates n, d = min(decay, (1 + n)/(10 + n)) (TensorFlow's num_updates warm-up): without it
  // the average of a short run still holds decay^n of the random initial weights (0.37 after
  // 1000 steps at 0.999).
  void update(torch::nn::Module& module, int64_t updates = -1);
  double decay_at(int64_t updates) const;
  // Exchanges the module's parameters with the averages (call twice to undo).
  void swap(torch::nn::Module& module);
  double decay() const { return decay_; }
  std::vector<at::Tensor>& shadow() { return shadow_; }
  const std::vector<at::Tensor>& shadow() const { return shadow_; }

 private:
  double decay_;
  std::vector<at::Tensor> shadow_;
  // When the parameters are one flat buffer (train/flat_adam.h), the averages are one too:
  // update and swap are then whole-buffer kernels. shadow_ are views of flat_shadow_.
  at::Tensor flat_params_, flat_shadow_, flat_tmp_;
};

// Runs a scope with the EMA weights in the module (no-op when ema is null).
class EmaScope {
 public:
  EmaScope(Ema* ema, torch::nn::Module& module) : ema_(ema), module_(module) {
    if (ema_) ema_->swap(module_);
  }
  ~EmaScope() {
    if (ema_) ema_->swap(module_);
  }
  EmaScope(const EmaScope&) = delete;
  EmaScope& operator=(const EmaScope&) = delete;

 private:
  Ema* ema_;
  torch::nn::Module& module_;
};

}  // namespace deepgen::train

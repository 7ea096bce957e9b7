#pragma once
// The interface between a model family and the shared trainer, evaluator and CLI.
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <string>
#include <utility>
#include <vector>

namespace deepgen::train {

struct LossOutput {
  at::Tensor loss;  // scalar to minimise: mean over the batch
  // Scalars to log (means over the batch), e.g. {"recon", ..}, {"kl", ..}. Read after the step.
  std::vector<std::pair<std::string, at::Tensor>> parts;
};

class GenerativeModel {
 public:
  virtual ~GenerativeModel() = default;
  virtual std::string name() const = 0;
  virtual torch::nn::Module& module() = 0;
  // Training objective on a batch in data units, on the module's device.
  virtual LossOutput loss(const at::Tensor& x) = 0;
  // Test metrics on a batch (means over the batch). Runs without gradients.
  virtual LossOutput evaluate(const at::Tensor& x) { return loss(x); }
  // n samples in data units and data shape, on the module's device.
  virtual at::Tensor sample(int64_t n) = 0;
  // Model's reconstruction of x, or an undefined tensor when the model has none.
  virtual at::Tensor reconstruct(const at::Tensor& /*x*/) { return {}; }
};

}  // namespace deepgen::train

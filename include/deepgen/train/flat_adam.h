#pragma once
// Adam over one flat buffer: the parameters become views of one contiguous tensor and their
// gradients views of another, so an optimiser step, gradient clipping, zeroing and the
// data-parallel all-reduce are each a few whole-buffer kernels instead of one per tensor (the
// per-tensor loop dominates small models' steps).
#include <ATen/core/Tensor.h>
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <vector>

#include "deepgen/train/optim.h"

namespace deepgen::train {

class FlatParameters {
 public:
  // Moves the values of `params` (one dtype and device) into one buffer and re-points every
  // tensor and its gradient into it; the tensors keep their identity, shape and values.
  explicit FlatParameters(std::vector<at::Tensor> params);
  static bool can_flatten(const std::vector<at::Tensor>& params);
  const at::Tensor& values() const { return values_; }
  // The gradient buffer. A gradient that autograd replaced instead of accumulating in place
  // (e.g. a backward with create_graph) is copied back into its slot first.
  const at::Tensor& grads();
  void zero_grad();
  const std::vector<at::Tensor>& params() const { return params_; }

 private:
  void point_grad(size_t i);
  std::vector<at::Tensor> params_;
  std::vector<int64_t> offsets_;
  at::Tensor values_, grads_;
};

// torch.optim.Adam / AdamW (decoupled decay) with the same arithmetic as LibTorch 1.13's step,
// applied to the whole flat buffer at once. Checkpoints store the flat moments; load() also
// reads the state that torch::optim::Adam wrote, so runs from before keep resuming.
class FlatAdam : public torch::optim::Optimizer {
 public:
  FlatAdam(const std::vector<at::Tensor>& params, const OptimizerOptions& options);
  at::Tensor step(LossClosure closure = nullptr) override;
  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;
  FlatParameters& flat() { return flat_; }
  int64_t steps_taken() const { return steps_.item<int64_t>(); }
  // The optimiser state as tensors (moments, step count), e.g. to broadcast from one rank.
  std::vector<at::Tensor> state_tensors() { return {exp_avg_, exp_avg_sq_, steps_}; }

 private:
  void load_torch_adam(torch::serialize::InputArchive& archive);
  FlatParameters flat_;
  OptimizerOptions o_;
  at::Tensor exp_avg_, exp_avg_sq_, denom_;
  at::Tensor steps_;  // int64 scalar on the CPU
};

}  // namespace deepgen::train

#pragma once
// Building blocks shared by the ε-networks (not installed).
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <memory>

#include "deepgen/diffusion/net.h"

namespace deepgen::diffusion::detail {

// γ -> rescaled time -> sinusoidal embedding -> two SiLU layers: (B) -> (B, 4·dim).
class GammaEmbeddingImpl : public torch::nn::Module {
 public:
  GammaEmbeddingImpl(int64_t dim, double gamma_min, double gamma_max);
  at::Tensor forward(const at::Tensor& gamma);

 private:
  int64_t dim_;
  double gamma_min_, gamma_max_;
  torch::nn::Linear l1_{nullptr}, l2_{nullptr};
};
TORCH_MODULE(GammaEmbedding);

std::shared_ptr<EpsNetwork> make_unet(const EpsNetOptions& options);

}  // namespace deepgen::diffusion::detail

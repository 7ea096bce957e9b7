#pragma once
// Noise-prediction networks ε̂_θ(z_t; γ_t) of the VDM (Kingma et al. 2021, App. B): Fourier
// features of z, conditioning on the rescaled γ, residual blocks, zero-initialised output layers
// and the skip ε̂ = z + net(z), so that an untrained net predicts ε̂ = z_t.
#include <torch/nn/module.h>

#include <memory>
#include <string>
#include <vector>

#include "deepgen/diffusion/schedule.h"

namespace deepgen::diffusion {

struct EpsNetOptions {
  std::vector<int64_t> data_shape;  // {C, H, W} images, {D} points
  // unet: residual blocks at each level of `channels`, halving the resolution between levels;
  // one level is the paper's net, all at full resolution. mlp: for points.
  std::string architecture = "unet";
  // The defaults are the fastest-learning design per CPU second we measured on MNIST
  // (docs/results.md): two levels after a 2x2 space-to-depth, 28 -> 14 -> 7.
  std::vector<int64_t> channels = {32, 64};  // unet: per level
  int64_t blocks = 2;                        // unet: residual blocks per level (down path)
  bool attention = true;  // unet: self-attention in the middle (the lowest resolution)
  // unet: space-to-depth factor before the first level (p×p pixels become p² channels, and back
  // at the output): lossless, and p² times fewer positions for every convolution.
  int64_t patch = 2;
  std::vector<int64_t> fourier = {6, 7};  // images: sin/cos(2^n·2π·z) per pixel; empty: none
  double dropout = 0.0;
  int64_t hidden = 256;  // mlp width
  int64_t layers = 3;    // mlp residual blocks
  // ε̂ = z + net(z), VDM's base-measure skip (an untrained net predicts ε̂ = z_t); off when the
  // output is x̂ or v̂, which that skip does not fit (VdmImpl sets it from the prediction).
  bool skip = true;
  // Rescale γ to about [0, 1] for the embedding: the schedule's range (VdmImpl sets it).
  double gamma_min = ScheduleOptions().gamma_min(), gamma_max = ScheduleOptions().gamma_max();
};
// Throws deepgen::Error naming the option and the fix.
void validate(const EpsNetOptions& options);

class EpsNetwork : public torch::nn::Module {
 public:
  // z (B, data_shape), gamma (B) -> ε̂ (B, data_shape).
  virtual at::Tensor forward(const at::Tensor& z, const at::Tensor& gamma) = 0;
};

std::shared_ptr<EpsNetwork> make_eps_network(const EpsNetOptions& options);

// VDM App. B: sin/cos(2^n·2π·z) for n in `exponents`, concatenated to z along channels.
at::Tensor fourier_features(const at::Tensor& z, const std::vector<int64_t>& exponents);
// Transformer-style sinusoidal embedding (B) -> (B, dim) of 1000·t.
at::Tensor timestep_embedding(const at::Tensor& t, int64_t dim);

}  // namespace deepgen::diffusion

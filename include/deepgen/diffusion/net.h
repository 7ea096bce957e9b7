#pragma once
// Noise-prediction networks ε̂_θ(z_t; γ_t) of the VDM (Kingma et al. 2021, App. B): Fourier
// features of z, conditioning on the rescaled γ, residual blocks, zero-initialised output layers
// and the skip ε̂ = z + net(z), so that an untrained net predicts ε̂ = z_t.
#include <torch/nn/module.h>

#include <memory>
#include <string>
#include <vector>

#include "deepgen/diffusion/schedule.h"
#include "deepgen/nn/unet.h"

namespace deepgen::diffusion {

// The image U-Net's options (nn/unet.h: channels, blocks, attention, patch, fourier, dropout,
// skip, and noise_min / noise_max, the γ range the embedding rescales: VdmImpl sets it from the
// schedule, and skip from the prediction: ε̂ = z + net(z) fits ε only), plus the points' MLP.
struct EpsNetOptions : nn::UNetOptions {
  std::string architecture = "unet";  // unet (images) | mlp (points)
  int64_t hidden = 256;               // mlp width
  int64_t layers = 3;                 // mlp residual blocks
};
// Throws deepgen::Error naming the option and the fix.
void validate(const EpsNetOptions& options);

class EpsNetwork : public torch::nn::Module {
 public:
  // z (B, data_shape), gamma (B), labels (B) or undefined (∅; unconditional nets ignore them)
  // -> the network's output (B, data_shape).
  virtual at::Tensor forward(const at::Tensor& z, const at::Tensor& gamma,
                             const at::Tensor& labels) = 0;
};

std::shared_ptr<EpsNetwork> make_eps_network(const EpsNetOptions& options);

using nn::fourier_features;    // VDM App. B's Fourier features (nn/unet.h)
using nn::timestep_embedding;  // sinusoidal embedding of 1000·t (nn/unet.h)

}  // namespace deepgen::diffusion

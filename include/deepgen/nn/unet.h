#pragma once
// The noise-conditional image U-Net shared by the VDM's ε-network and the score family's
// (Kingma et al. 2021, App. B, generalised to several resolution levels): Fourier features of
// the input, a sinusoidal embedding of the noise level, residual blocks with skip connections,
// self-attention at the lowest resolution and a zero-initialised output. One level is the VDM
// paper's net (every block at full resolution); more levels halve the resolution between levels,
// which is what makes it practical on a CPU.
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <string>
#include <vector>

#include "deepgen/nn/blocks.h"
#include "deepgen/nn/condition.h"

namespace deepgen::nn {

struct UNetOptions {
  std::vector<int64_t> data_shape;  // {C, H, W}
  // The defaults are the fastest-learning design per CPU second we measured on MNIST
  // (docs/results.md): two levels after a 2x2 space-to-depth, 28 -> 14 -> 7.
  std::vector<int64_t> channels = {32, 64};  // per level
  int64_t blocks = 2;                        // residual blocks per level (down path)
  bool attention = true;                     // self-attention in the middle (lowest resolution)
  // Space-to-depth factor before the first level (p×p pixels become p² channels, and back at the
  // output): lossless, and p² times fewer positions for every convolution.
  int64_t patch = 2;
  std::vector<int64_t> fourier = {6, 7};  // sin/cos(2^n·2π·z) per pixel; empty: none
  // Each feature pair times exp(−½(2^n·2π)²σ²), the share of it that survives noise of variance
  // σ² in z (E sin(ω(μ + σε)) = sin(ωμ)·e^{−ω²σ²/2}), so the network sees no feature where it
  // is noise: its ε̂, and a probability-flow ODE's drift, stay smooth there. Both families'
  // noise input is a γ with σ² = sigmoid(γ) (the VDM's own; the score U-Net's log 4σ²).
  bool fourier_gate = false;
  double dropout = 0.0;
  // out = z + net(z): the VDM's base-measure skip, so an untrained ε-network predicts ε̂ = z.
  bool skip = true;
  // The noise level's range (a log-SNR-like scalar), rescaled to [0, 1] for the embedding.
  double noise_min = -13.3, noise_max = 5.0;
  // Conditional: a class embedding (condition.h) added to the noise embedding; 0: none.
  int64_t classes = 0;
};

// Throws deepgen::Error naming `section`'s options and the fix.
void validate(const UNetOptions& options, const std::string& section);

// VDM App. B: sin/cos(2^n·2π·z) for n in `exponents`, concatenated to z along channels; with
// noise_var (B) each pair scaled by exp(−½(2^n·2π)²·noise_var) (UNetOptions::fourier_gate).
at::Tensor fourier_features(const at::Tensor& z, const std::vector<int64_t>& exponents,
                            const at::Tensor& noise_var = {});
// Transformer-style sinusoidal embedding (B) -> (B, dim) of 1000·t.
at::Tensor timestep_embedding(const at::Tensor& t, int64_t dim);

// Noise level -> rescaled to about [0, 1] -> sinusoidal embedding -> two SiLU layers:
// (B) -> (B, 4·dim).
class NoiseEmbeddingImpl : public torch::nn::Module {
 public:
  NoiseEmbeddingImpl(int64_t dim, double noise_min, double noise_max);
  at::Tensor forward(const at::Tensor& noise);

 private:
  int64_t dim_;
  double noise_min_, noise_max_;
  torch::nn::Linear l1_{nullptr}, l2_{nullptr};
};
TORCH_MODULE(NoiseEmbedding);

// Single-head self-attention over all positions, zero-initialised output projection.
class AttentionImpl : public torch::nn::Module {
 public:
  explicit AttentionImpl(int64_t channels);
  at::Tensor forward(const at::Tensor& x);

 private:
  GroupNorm norm_{nullptr};
  torch::nn::Conv2d qkv_{nullptr}, proj_{nullptr};
};
TORCH_MODULE(Attention);

// The U-Net's layers, registered into the module that owns them under the names saved weights
// know them by ("embed", "conv_in", "down", "downsample", "mid1", "attn", "mid2", "up",
// "upsample", "norm_out", "conv_out"), so each family's network keeps its own type and interface.
class UNetLayers {
 public:
  UNetLayers(torch::nn::Module& owner, const UNetOptions& options);
  // z (B, C, H, W), noise (B), labels (B) class indices or undefined (∅) -> (B, C, H, W).
  at::Tensor forward(const at::Tensor& z, const at::Tensor& noise, const at::Tensor& labels = {});

 private:
  UNetOptions o_;
  NoiseEmbedding embed_{nullptr};
  torch::nn::Conv2d conv_in_{nullptr}, conv_out_{nullptr};
  torch::nn::ModuleList down_, downsample_, up_, upsample_;
  ResBlock mid1_{nullptr}, mid2_{nullptr};
  Attention attn_{nullptr};
  GroupNorm norm_out_{nullptr};
  ClassEmbedding classes_{nullptr};
};

}  // namespace deepgen::nn

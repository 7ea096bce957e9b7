#pragma once
// Noise-conditional score networks s_θ(x, σ) (Song & Ermon 2019). Both divide their output by σ
// (NCSNv2, Song & Ermon 2020, technique 3): the true score of data noised at σ has size ~1/σ,
// so the network itself only predicts O(1) values (σ·s ≈ −z) at every level. Methods with a
// single σ (esm-kde, dsm, ssm) pass that σ as a constant.
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <string>
#include <vector>

#include "deepgen/nn/blocks.h"
#include "deepgen/nn/mlp.h"
#include "deepgen/nn/unet.h"

namespace deepgen::score {

// Points (B, D): an MLP on [x/√(1+σ²), log σ] (the input scaled to unit size when the data are,
// as c_in of Karras et al. 2022), output divided by σ.
class ScoreMLPImpl : public torch::nn::Module {
 public:
  ScoreMLPImpl(int64_t dim, std::vector<int64_t> hidden, std::string activation);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& sigma);  // sigma (B)

 private:
  nn::MLP mlp_{nullptr};
};
TORCH_MODULE(ScoreMLP);

// Images (B, C, H, W) with H, W divisible by 4: a small U-Net, two stride-2 downsamplings and
// two nearest-neighbour upsamplings with skip connections, widths channels = {c0, c1}. The input
// is mapped to 2x − 1 (NCSN's convention for data in [0, 1]); σ enters through an MLP embedding
// of log σ added in every residual block (nn/blocks.h, as in DDPM's U-Net). Output divided by σ.
class ScoreUNetImpl : public torch::nn::Module {
 public:
  ScoreUNetImpl(std::vector<int64_t> image, std::vector<int64_t> channels);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& sigma);  // sigma (B)

 private:
  torch::nn::Linear embed1_{nullptr}, embed2_{nullptr};
  torch::nn::Conv2d in_{nullptr}, down1_{nullptr}, down2_{nullptr}, out_{nullptr};
  nn::ResBlock block0_{nullptr}, block1_{nullptr}, middle_{nullptr}, up1_{nullptr}, up0_{nullptr};
  nn::GroupNorm out_norm_{nullptr};
};
TORCH_MODULE(ScoreUNet);

// Throws deepgen::Error unless the U-Net can take this image shape and these widths.
void validate_unet(const std::vector<int64_t>& image, const std::vector<int64_t>& channels);

std::vector<std::string> architecture_names();  // of the image networks: unet, small-unet

// Images (B, C, H, W): the VDM's U-Net (nn/unet.h) as the ε-network of the same noised data in
// variance-preserving form. Data in [0, 1] are mapped to x' = 2x − 1, so x + σε becomes
// x' + σ'ε with σ' = 2σ; z = x'_σ' / √(1 + σ'²) = α x' + σ_vp ε has α² + σ_vp² = 1 and
// γ = log(σ_vp²/α²) = log σ'² (VE and VP are one process rescaled, Song et al. 2021 App. B;
// Karras et al. 2022's c_in). The score is s = −ε̂/σ (MATH 3.3: the noise's score is −ε/σ), so
// an untrained net (ε̂ = z, the U-Net's skip) already gives the score of N(0, (1 + σ'²)/4·I) at
// large σ, and NCSN's σ²-weighted loss is the plain ε-regression ‖ε̂ − ε‖².
class ScoreEpsUNetImpl : public torch::nn::Module {
 public:
  // unet.data_shape is the image; the embedding's range is set from the ladder [σ_min, σ_max].
  ScoreEpsUNetImpl(nn::UNetOptions unet, double sigma_min, double sigma_max);
  // sigma (B); labels (B) class indices of a conditional net, undefined for ∅.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& sigma, const at::Tensor& labels = {});

 protected:
  FORWARD_HAS_DEFAULT_ARGS({2, torch::nn::AnyValue(at::Tensor())})

 private:
  nn::UNetLayers layers_;
};
TORCH_MODULE(ScoreEpsUNet);

}  // namespace deepgen::score

#pragma once
// Weighted diffusion objectives (BEYOND B1; Kingma & Gao 2023, "Understanding diffusion
// objectives as the ELBO with simple data augmentation"): L_w = ½ E[w(ℓ)(−dℓ/dt)‖ε − ε̂‖²] in
// ℓ = log SNR = −γ, estimated by drawing ℓ from a proposal p(ℓ) and weighting by w(ℓ)/p(ℓ).
// w ≡ 1 is the ELBO's L_∞ (MATH 2h) for any proposal that covers the range.
#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <vector>

namespace deepgen::diffusion {

// w(ℓ) of a tensor of log-SNR values, elementwise and nonnegative.
using LogSnrWeight = std::function<at::Tensor(const at::Tensor& logsnr)>;

// Kingma & Gao 2023, eq. 9 / Table 1: w(ℓ) = sigmoid(b − ℓ); weights the noisy levels fully
// and the nearly clean ones (ℓ ≫ b) by e^{b−ℓ}.
at::Tensor sigmoid_weighting(const at::Tensor& logsnr, double bias);
// Karras et al. 2022 in the ℓ form of Kingma & Gao 2023 (Table 1, App. D.1): the EDM training
// density of log σ, N(−1.2, 1.2²), as a density of ℓ = −2 log σ, times the EDM loss weight
// (σ² + σ_data²)/σ_data² with σ² = e^{−ℓ} and σ_data = ½.
at::Tensor edm_weighting(const at::Tensor& logsnr);

std::vector<std::string> weighting_names();  // elbo, sigmoid, edm
// The weighting by name; throws naming `vdm.weighting` when unknown. `bias` is sigmoid's b.
LogSnrWeight weighting(const std::string& name, double bias);

std::vector<std::string> proposal_names();  // uniform, weighting

// A proposal density p(ℓ) on [ℓ_min, ℓ_max] ∝ a given shape, piecewise constant on `cells`
// equal cells (the shape's trapezoid mass in each), drawn by its exact inverse CDF. The density
// returned with a draw is the density that drew it, so w/p is unbiased for any shape that is
// positive wherever w is (checked on the grid at construction).
class LogSnrProposal {
 public:
  // A shape that is zero on a cell where `weight` is positive throws naming `vdm.proposal`.
  LogSnrProposal(const LogSnrWeight& shape, const LogSnrWeight& weight, double logsnr_min,
                 double logsnr_max, int64_t cells = 4096);
  struct Draw {
    at::Tensor logsnr, density;  // (B) each, in u's dtype and device
  };
  // u ∈ [0, 1) (B) -> ℓ = F⁻¹(u) and p(ℓ). Low-discrepancy u gives stratified ℓ.
  Draw draw(const at::Tensor& u) const;
  at::Tensor density(const at::Tensor& logsnr) const;  // p(ℓ), 0 outside the range

 private:
  double lo_, width_;   // ℓ_min and the cell width
  at::Tensor cdf_;      // (cells + 1) float64, 0 .. 1
  at::Tensor density_;  // (cells) float64: each cell's mass / width
};

// The proposal by name: uniform in ℓ, or p ∝ w ("weighting": w/p is then constant, the least
// variance for a denoiser whose error does not depend on ℓ).
LogSnrProposal make_proposal(const std::string& name, const LogSnrWeight& weight, double logsnr_min,
                             double logsnr_max);

// BEYOND B1, one draw per example: ½ (w(ℓ)/p(ℓ)) ‖ε − ε̂‖², summed over the non-batch dims.
at::Tensor weighted_diffusion_loss(const at::Tensor& eps, const at::Tensor& eps_hat,
                                   const at::Tensor& weight_over_density);

}  // namespace deepgen::diffusion

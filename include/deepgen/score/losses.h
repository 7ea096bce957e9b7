#pragma once
// Score-matching objectives (MATH 3.2): explicit (against a kernel density), denoising, sliced,
// and the noise-conditional NCSN loss (Song & Ermon 2019). Each returns the batch mean of a
// per-example loss, so values are per example and comparable across batch sizes.
#include <ATen/core/Tensor.h>

#include <vector>

#include "deepgen/score/langevin.h"

namespace deepgen::score {

// MATH 3.2, J1 at given points: mean_b ½‖s_b − target_b‖² (sums over every non-batch dim).
at::Tensor esm_loss(const at::Tensor& score, const at::Tensor& target);

// J1 with q the Gaussian KDE of `data` (MATH 3.2a): points x = x0 + σz, x0 a batch of the data,
// target kde_score(x, data, σ). One draw z = randn(x0.shape) from gen, the same draw dsm_loss
// makes, so the two losses can share random numbers. Cost O(B·M·D) per call.
at::Tensor esm_kde_loss(const ScoreFn& net, const at::Tensor& x0, const at::Tensor& data,
                        double sigma, OptGenerator gen = c10::nullopt);

// MATH 3.2d: J2 = mean_b ½‖s(x0 + σz) + z/σ‖². Equals J1 + C (Vincent 2011; MATH 3.2c).
at::Tensor dsm_loss(const ScoreFn& net, const at::Tensor& x0, double sigma,
                    OptGenerator gen = c10::nullopt);

// Sliced score matching, variance-reduced (Song, Garg, Shi & Ermon 2019, eq. 8 / SSM-VR):
// mean_b [ ½‖s(x)‖² + (1/S) Σ_v vᵀ∇ₓ(s(x)ᵀv) ], v ~ N(0, I), S = slices. In expectation it is
// Hyvärinen's E[½‖s‖² + tr ∇ₓs] = J1 − ½E‖∇log p‖². The trace term is a vector–Jacobian product
// built with create_graph, so the loss backpropagates into the net's parameters.
at::Tensor ssm_loss(const ScoreFn& net, const at::Tensor& x, int64_t slices = 1,
                    OptGenerator gen = c10::nullopt);

// NCSN (Song & Ermon 2019, eqs. 5–6 with λ(σ) = σ²): one level i ~ U{1..L} per example,
// x = x0 + σ_i z, loss mean_b ½‖σ_i·s(x, σ_i) + z‖² (= σ_i²·ℓ(σ_i); D/2 for s ≡ 0 at every σ).
at::Tensor ncsn_loss(const NoiseScoreFn& net, const at::Tensor& x0,
                     const std::vector<double>& sigmas, OptGenerator gen = c10::nullopt);

// The same weighted loss at every level for every example: (L), level order of `sigmas`. A
// lower-variance test metric and a per-level training diagnostic (ncsnv2's log_all_sigmas).
at::Tensor ncsn_level_losses(const NoiseScoreFn& net, const at::Tensor& x0,
                             const std::vector<double>& sigmas, OptGenerator gen = c10::nullopt);

// exp(linspace(log σ_1, log σ_L, L)): the geometric ladder of NCSN, largest first.
std::vector<double> geometric_sigmas(double sigma_1, double sigma_L, int64_t levels);

}  // namespace deepgen::score

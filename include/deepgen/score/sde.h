#pragma once
// Samplers of the variance-exploding (VE) SDE (Song et al. 2021, "Score-Based Generative
// Modeling through Stochastic Differential Equations"; BEYOND B4): x_σ = x + σ·ε, so p_σ is the
// data convolved with N(0, σ²I) and NCSN's noise-conditional score s(x, σ) ≈ ∇log p_σ(x) drives
// both the reverse SDE (predictor–corrector) and its probability-flow ODE.
//
// A σ grid is descending, σ_0 > σ_1 > ... > σ_N (NCSN's ladder, or a finer geometric grid where
// the network takes σ continuously). Both samplers end at the grid's last σ, optionally followed
// by the Tweedie denoise x + σ_N²·s(x, σ_N) (langevin.h).
#include <string>
#include <vector>

#include "deepgen/score/langevin.h"

namespace deepgen::score {

// Reverse-diffusion predictor from σ to σ_next < σ (Song et al. 2021, Alg. 2 lines 3–5):
// x + (σ² − σ_next²)·s(x, σ) + √(σ² − σ_next²)·z.
at::Tensor reverse_diffusion_step(const at::Tensor& x, const NoiseScoreFn& score, double sigma,
                                  double sigma_next, OptGenerator gen = c10::nullopt);

// Ancestral predictor (Song et al. 2021, App. F eq. 47 for SMLD): the exact posterior
// p(x_σnext | x_σ, x = D(x_σ)) of the VE process given the Tweedie estimate D = x + σ² s, i.e.
// x + (σ² − σ_next²)·s(x, σ) + σ_next √(1 − σ_next²/σ²)·z: reverse diffusion's drift with less
// noise (reverse diffusion over-disperses Gaussian data at coarse steps, this under-disperses).
at::Tensor ancestral_ve_step(const at::Tensor& x, const NoiseScoreFn& score, double sigma,
                             double sigma_next, OptGenerator gen = c10::nullopt);

// The predictors of pc_sampler: reverse-diffusion and ancestral (above), and dpmpp2m-sde,
// SDE-DPM-Solver++(2M) in the VE process (Lu et al. 2022b; the diffusion family's dpmpp2m-sde
// with α = 1, η = −log σ): the ancestral step with D extrapolated linearly in log σ from this
// step's and the last step's estimates, q = σ_next²/σ², h = log(σ/σ_next):
// q x + (1 − q)(D + h/(2 h_prev)(D − D_prev)) + σ_next √(1 − q)·z. It is second order in the
// step for the distribution where both one-step predictors are first order.
std::vector<std::string> predictor_names();

// Langevin corrector at σ (Song et al. 2021, Alg. 4): x + ε·s + √(2ε)·z with the step set by
// the signal-to-noise ratio r, ε = 2 (r ‖z‖ / ‖s‖)², the norms per example averaged over the
// batch (as the paper's code does: one ε per step, not a noisy one per example).
at::Tensor langevin_corrector_step(const at::Tensor& x, const NoiseScoreFn& score, double sigma,
                                   double snr, OptGenerator gen = c10::nullopt);

// PC sampling for the VE SDE (Song et al. 2021, Alg. 2): from x0 at sigmas[0], one step of
// `predictor` (predictor_names()) to each next σ followed by `corrector_steps` corrector steps
// there. The callback counts every predictor and corrector step (N·(1 + corrector_steps) for
// N + 1 sigmas).
at::Tensor pc_sampler(const at::Tensor& x0, const NoiseScoreFn& score,
                      const std::vector<double>& sigmas, int64_t corrector_steps, double snr,
                      OptGenerator gen = c10::nullopt, bool final_denoise = true,
                      const StepCallback& callback = {},
                      const std::string& predictor = "reverse-diffusion");

std::vector<std::string> ode_solver_names();  // euler, heun

// The probability-flow ODE in t on the geometric σ(t) = σ_lo·r^t, r = σ_hi/σ_lo (BEYOND B4):
// dx/dt = −σσ′ s(x, σ) = −σ² log r · s(x, σ(t)), for likelihoods (ode/likelihood.h).
at::Tensor ve_flow_drift(const at::Tensor& score, double sigma, double log_r);

// The probability-flow ODE of the VE SDE in σ, dx/dσ = −σ·s(x, σ) (Song et al. 2021 eq. 13 with
// f = 0, g² = dσ²/dt; B4's drift −σσ′s divided by σ′), integrated from sigmas[0] down the grid
// by `solver`: "euler" (order 1) or "heun" (order 2; Karras et al. 2022, Alg. 1 without churn).
// Deterministic: x0 decides the output. The callback counts the N steps of N + 1 sigmas.
at::Tensor probability_flow_ode(const at::Tensor& x0, const NoiseScoreFn& score,
                                const std::vector<double>& sigmas, const std::string& solver,
                                bool final_denoise = true, const StepCallback& callback = {});

}  // namespace deepgen::score

#pragma once
// Samplers: each is one small step z_t -> z_s (s < t) over the network's ε̂, and one loop runs
// any of them over a grid of γ values (the pieces are interchangeable, as in stable-diffusion.cpp
// and k-diffusion). The deterministic ones solve the probability-flow ODE (BEYOND B3) in
// η = log(α/σ) = −γ/2; a step needs only γ values, since the network is conditioned on γ.
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <vector>

#include "deepgen/diffusion/schedule.h"

namespace deepgen::diffusion {

// ε̂(z, γ) with γ of shape (B).
using EpsFn = std::function<at::Tensor(const at::Tensor& z, const at::Tensor& gamma)>;

// The stochastic steps' noise: N(0, I) drawn on the CPU generator `gen`, then moved to z's
// device, so that a seed gives the same samples on every device.
at::Tensor standard_normal_like(const at::Tensor& z, at::Generator& gen);

// Ancestral step z_s ~ p_θ(z_s|z_t) (MATH 2e; VDM App. A with σ_t in front of ε̂, which the
// paper's eq. 33 drops): mean (α_s/α_t)(z_t − c σ_t ε̂), variance σ_s² c, c = −expm1(γ_s − γ_t).
at::Tensor ancestral_step(const at::Tensor& z_t, const at::Tensor& eps_hat,
                          const at::Tensor& gamma_t, const at::Tensor& gamma_s,
                          const at::Tensor& noise);
// Deterministic DDIM step (Song et al. 2021, η = 0): z_s = α_s x̂ + σ_s ε̂, x̂ = (z_t − σ_t ε̂)/α_t.
// It is the first-order solver of the probability-flow ODE in λ = −γ/2 (DPM-Solver-1).
at::Tensor ddim_step(const at::Tensor& z_t, const at::Tensor& eps_hat, const at::Tensor& gamma_t,
                     const at::Tensor& gamma_s);
// DPM-Solver-2 (BEYOND B3; Lu et al. 2022, Alg. 1 with r = ½): two evaluations per step.
at::Tensor dpm_solver2_step(const at::Tensor& z_t, const EpsFn& eps, const at::Tensor& gamma_t,
                            const at::Tensor& gamma_s);
// DPM-Solver-3 (BEYOND B3; Lu et al. 2022, Alg. 2 with r₁ = ⅓, r₂ = ⅔): three evaluations.
at::Tensor dpm_solver3_step(const at::Tensor& z_t, const EpsFn& eps, const at::Tensor& gamma_t,
                            const at::Tensor& gamma_s);
// Heun's method (Karras et al. 2022, Alg. 1) on dx̃/dσ̃ = ε̂ with x̃ = z/α, σ̃ = σ/α = e^{−η}:
// the variance-preserving ODE in the variables where it is the plain ε̂. Two evaluations.
at::Tensor heun_step(const at::Tensor& z_t, const EpsFn& eps, const at::Tensor& gamma_t,
                     const at::Tensor& gamma_s);
// DPM-Solver++(2M) (BEYOND B3; Lu et al. 2022b, Alg. 2): the data-prediction update
// z_s = (σ_s/σ_t) z_t − α_s expm1(−h) D, with D extrapolated from x̂ now and x̂_prev of the step
// before (h_prev its η-step); an undefined x_hat_prev gives the first-order D = x̂.
at::Tensor dpmpp_2m_step(const at::Tensor& z_t, const at::Tensor& x_hat, const at::Tensor& gamma_t,
                         const at::Tensor& gamma_s, const at::Tensor& x_hat_prev,
                         const at::Tensor& h_prev);
// SDE-DPM-Solver++(2M) (Lu et al. 2022b; diffusers' "sde-dpmsolver++", midpoint form): the
// same extrapolated D inside the exact posterior step of the VP SDE,
// z_s = (σ_s/σ_t) e^{−h} z_t + α_s (1 − e^{−2h}) D + σ_s √(1 − e^{−2h}) · noise. With D = x̂ (the
// first step) it is the ancestral step: the noise re-draws what the network got wrong earlier,
// which is what the deterministic solvers lack at few steps (Karras et al. 2022 §4).
at::Tensor dpmpp_2m_sde_step(const at::Tensor& z_t, const at::Tensor& x_hat,
                             const at::Tensor& gamma_t, const at::Tensor& gamma_s,
                             const at::Tensor& x_hat_prev, const at::Tensor& h_prev,
                             const at::Tensor& noise);

// ancestral, ddim, dpm2, dpm3, dpmpp2m, dpmpp2m-sde, heun
std::vector<std::string> sampler_names();
int sampler_order(const std::string& name);  // of the deterministic solver; 1 for the SDE ones
// Network evaluations of `steps` steps of the sampler: what a sample costs.
int64_t sampler_nfe(const std::string& name, int64_t steps);
// An error naming the option unless `sampler` is known and `steps` reach its minimum.
void check_sampler(const std::string& sampler, int64_t steps);

std::vector<std::string> sampling_grids();  // t, eta
// The T + 1 values γ_0 < .. < γ_T a sampler steps down: at t = i/T (grid "t") or uniform in
// η = −γ/2 between γ(0) and γ(1) (grid "eta"); the two agree for a linear schedule.
at::Tensor sampling_gammas(NoiseSchedule& schedule, const std::string& grid, int64_t steps);

// Runs `sampler` from z_1 down the grid gammas = γ_0, .., γ_T (T + 1 increasing values, on the
// device of z_1) and returns z_0. on_step(i, T) after each of the T steps.
at::Tensor sample_loop(const std::string& sampler, const EpsFn& eps, const at::Tensor& gammas,
                       at::Tensor z_1, at::Generator& gen,
                       const std::function<void(int64_t, int64_t)>& on_step = {});

}  // namespace deepgen::diffusion

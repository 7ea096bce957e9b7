#pragma once
// Langevin dynamics (MATH 3.1a, MATH 3.1b): gradient ascent on log p, the unadjusted Langevin
// algorithm (ULA), its Metropolis-adjusted form (MALA) and annealed Langevin dynamics (Song &
// Ermon 2019).
//
// Step convention, used everywhere in deepgen: x' = x + δ·s(x) + √(2δ)·ε, ε ~ N(0, I).
// The NCSN paper (Alg. 1) writes x' = x + (α/2)·s + √α·ε; its image code, NCSNv2 and score SDE
// write x' = x + α·s + √(2α)·ε. We use the latter with α = δ, so a paper step α_paper is our
// δ = α_paper / 2. For a target N(0, s²) our ULA chain is the AR(1) x' = (1 − δ/s²)x + √(2δ)ε
// with stationary variance s² / (1 − δ/(2s²)) (stable for δ < 2s²).
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/util/Optional.h>

#include <functional>
#include <vector>

namespace deepgen::score {

// s(x) ≈ ∇ₓ log p(x), same shape as x (a batch of points or images).
using ScoreFn = std::function<at::Tensor(const at::Tensor& x)>;
// s(x, σ) ≈ ∇ₓ log p_σ(x) for p convolved with N(0, σ²I); sigma holds one σ per example (B,).
using NoiseScoreFn = std::function<at::Tensor(const at::Tensor& x, const at::Tensor& sigma)>;
// log p(x) up to a constant, one value per example (B,); differentiable in x.
using LogProbFn = std::function<at::Tensor(const at::Tensor& x)>;
// Called after each step with the 1-based step count, the total and the current state.
using StepCallback = std::function<void(int64_t step, int64_t total, const at::Tensor& x)>;
using OptGenerator = c10::optional<at::Generator>;  // nullopt: the global generator

// MATH 3.1a: x + δ·s(x). Gradient ascent on log p: repeated, it climbs to a mode.
at::Tensor gradient_ascent_step(const at::Tensor& x, const ScoreFn& score, double delta);

// MATH 3.1b: x + δ·s(x) + √(2δ)·ε (the convention above).
at::Tensor langevin_step(const at::Tensor& x, const ScoreFn& score, double delta,
                         OptGenerator gen = c10::nullopt);

// `steps` Langevin steps (MATH 3.1b) from x0 (the one sampler loop; callback after every step).
at::Tensor langevin(const at::Tensor& x0, const ScoreFn& score, double delta, int64_t steps,
                    OptGenerator gen = c10::nullopt, const StepCallback& callback = {});

struct MalaResult {
  at::Tensor x;             // the chains' final states
  double acceptance = 0.0;  // accepted proposals / (chains · steps)
};

// Metropolis-adjusted Langevin: proposal x' ~ N(x + δ∇log p(x), 2δI), accepted per chain with
// probability min(1, p(x')q(x|x') / (p(x)q(x'|x))). Exact stationary law p for any δ > 0.
// The score is autograd of log_prob; callback sees the state after each accept/reject step.
MalaResult mala(const at::Tensor& x0, const LogProbFn& log_prob, double delta, int64_t steps,
                OptGenerator gen = c10::nullopt, const StepCallback& callback = {});

// Tweedie's formula E[x_clean | x] = x + σ²·∇log p_σ(x) (NCSNv2, Jolicoeur-Martineau et al.
// 2021): the samplers' last step, which removes the noise of their smallest σ.
at::Tensor tweedie_denoise(const at::Tensor& x, const NoiseScoreFn& score, double sigma);

// Annealed Langevin dynamics (Song & Ermon 2019, Alg. 1, in the convention above): for each σ_i
// of the descending ladder, `steps_per_level` steps with δ_i = eps·σ_i²/σ_L². With
// final_denoise, one last Tweedie step at σ_L removes the σ_L noise. The callback counts steps over
// all levels. `project(x, σ_i)`, when given, maps the state before every step and before the
// Tweedie step (inpainting's replacement of the known values, inpaint.h).
using LevelProjection = std::function<at::Tensor(const at::Tensor& x, double sigma)>;
at::Tensor annealed_langevin(const at::Tensor& x0, const NoiseScoreFn& score,
                             const std::vector<double>& sigmas, int64_t steps_per_level, double eps,
                             OptGenerator gen = c10::nullopt, bool final_denoise = true,
                             const StepCallback& callback = {},
                             const LevelProjection& project = {});

}  // namespace deepgen::score

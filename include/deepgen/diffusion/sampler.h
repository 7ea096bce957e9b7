#pragma once
// Samplers: each is one small step z_t -> z_s (s < t) given the network's ε̂, and one loop
// runs any of them over a grid of γ values (the pieces are interchangeable, as in
// stable-diffusion.cpp).
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <vector>

namespace deepgen::diffusion {

// Ancestral step z_s ~ p_θ(z_s|z_t) (MATH 2e; VDM App. A with σ_t in front of ε̂, which the
// paper's eq. 33 drops): mean (α_s/α_t)(z_t − c σ_t ε̂), variance σ_s² c, c = −expm1(γ_s − γ_t).
at::Tensor ancestral_step(const at::Tensor& z_t, const at::Tensor& eps_hat,
                          const at::Tensor& gamma_t, const at::Tensor& gamma_s,
                          const at::Tensor& noise);
// Deterministic DDIM step (Song et al. 2021, η = 0): z_s = α_s x̂ + σ_s ε̂, x̂ = (z_t − σ_t ε̂)/α_t.
// It is the first-order solver of the probability-flow ODE in λ = −γ/2 (DPM-Solver-1).
at::Tensor ddim_step(const at::Tensor& z_t, const at::Tensor& eps_hat, const at::Tensor& gamma_t,
                     const at::Tensor& gamma_s);

std::vector<std::string> sampler_names();  // ancestral, ddim

// ε̂(z, γ) with γ of shape (B).
using EpsFn = std::function<at::Tensor(const at::Tensor& z, const at::Tensor& gamma)>;

// Runs `sampler` from z_1 down the grid gammas = γ(0), γ(1/T), .., γ(1) (T + 1 values, on the
// device of z_1) and returns z_0. on_step(i, T) after each of the T steps.
at::Tensor sample_loop(const std::string& sampler, const EpsFn& eps, const at::Tensor& gammas,
                       at::Tensor z_1, at::Generator& gen,
                       const std::function<void(int64_t, int64_t)>& on_step = {});

}  // namespace deepgen::diffusion

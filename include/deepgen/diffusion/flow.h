#pragma once
// The VDM's probability-flow ODE in t, for likelihoods (ode/likelihood.h; BEYOND B3).
#include <ATen/core/Tensor.h>

namespace deepgen::diffusion {

// dz/dt = ½γ′(t)(σ_t ε̂ − σ_t² z), σ_t² = sigmoid(γ(t)): the VP SDE's drift −½σ²γ′z minus
// ½g²∇log p_t with g² = σ²γ′ and ∇log p_t = −ε̂/σ (Song et al. 2021 eq. 13).
at::Tensor vp_flow_drift(const at::Tensor& z, const at::Tensor& eps_hat, double gamma,
                         double dgamma);

}  // namespace deepgen::diffusion

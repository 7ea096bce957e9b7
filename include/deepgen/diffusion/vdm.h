#pragma once
// The variational diffusion model's distributions and bound, MATH 2a–2h (Kingma et al. 2021),
// as functions of γ = −log SNR. Tensors x, z, eps are (B, ...); γ is (B) or a 0-dim tensor.
// Per-example terms are summed over every non-batch dimension, in nats.
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace deepgen::diffusion {

struct Normal {
  at::Tensor mean, var;  // var broadcasts against mean
};

// MATH 2a: q(z_t|x) = N(α_t x, σ_t² I).
Normal forward_marginal(const at::Tensor& x, const at::Tensor& gamma_t);
// MATH 2c: q(z_t|z_s) = N(α_{t|s} z_s, σ_{t|s}² I), α_{t|s} = α_t/α_s, σ_{t|s}² =
// σ_t²·(−expm1(γ_s−γ_t)); with MATH 2a, the Markov factorisation of MATH 2b.
Normal transition(const at::Tensor& z_s, const at::Tensor& gamma_s, const at::Tensor& gamma_t);
// MATH 2d: q(z_s|z_t, x) = N(μ_Q, σ_Q² I), μ_Q = (α_s/α_t)(1−c) z_t + α_s c x, σ_Q² = σ_s² c,
//     c = −expm1(γ_s − γ_t) = 1 − SNR(t)/SNR(s)  (the same as MATH 2d, without cancellation).
Normal posterior(const at::Tensor& z_t, const at::Tensor& x, const at::Tensor& gamma_s,
                 const at::Tensor& gamma_t);
// MATH 2e: p_θ(z_s|z_t) = q(z_s|z_t, x = x̂_θ(z_t; t)).
inline Normal reverse(const at::Tensor& z_t, const at::Tensor& x_hat, const at::Tensor& gamma_s,
                      const at::Tensor& gamma_t) {
  return posterior(z_t, x_hat, gamma_s, gamma_t);
}
// MATH 2e: KL(q‖p) between Gaussians of equal variance: ‖μ_q − μ_p‖² / (2σ²), per example.
at::Tensor kl_equal_variance(const Normal& q, const Normal& p);
// MATH 2f: the same KL as ½(SNR(s) − SNR(t))‖x − x̂‖², per example.
at::Tensor kl_snr_form(const at::Tensor& x, const at::Tensor& x_hat, const at::Tensor& gamma_s,
                       const at::Tensor& gamma_t);

// VDM eq. 10: x̂ = (z_t − σ_t ε̂)/α_t, and back ε = (z_t − α_t x)/σ_t.
at::Tensor x_from_eps(const at::Tensor& z_t, const at::Tensor& eps, const at::Tensor& gamma_t);
at::Tensor eps_from_x(const at::Tensor& z_t, const at::Tensor& x, const at::Tensor& gamma_t);
// BEYOND B2, v-prediction (Salimans & Ho 2022, §4): v = α ε − σ x, so that x̂ = α z − σ v̂ and
// ε̂ = σ z + α v̂ (α² + σ² = 1).
at::Tensor v_from_eps(const at::Tensor& z_t, const at::Tensor& eps, const at::Tensor& gamma_t);
at::Tensor eps_from_v(const at::Tensor& z_t, const at::Tensor& v, const at::Tensor& gamma_t);
at::Tensor x_from_v(const at::Tensor& z_t, const at::Tensor& v, const at::Tensor& gamma_t);

// MATH 2g: one-sample L_T term (T/2)(SNR(s) − SNR(t))‖x − x̂‖², s = t − 1/T, per example.
at::Tensor diffusion_loss_discrete_x(const at::Tensor& x, const at::Tensor& x_hat,
                                     const at::Tensor& gamma_s, const at::Tensor& gamma_t,
                                     int64_t T);
// MATH 2g in ε-form: (T/2)·expm1(γ_t − γ_s)·‖ε − ε̂‖² (VDM eq. 14).
at::Tensor diffusion_loss_discrete(const at::Tensor& eps, const at::Tensor& eps_hat,
                                   const at::Tensor& gamma_s, const at::Tensor& gamma_t, int64_t T);
// MATH 2h: one-sample L_∞ term −½ SNR'(t)‖x − x̂‖² with SNR' = −γ' e^{−γ}, per example.
at::Tensor diffusion_loss_continuous_x(const at::Tensor& x, const at::Tensor& x_hat,
                                       const at::Tensor& gamma_t, const at::Tensor& dgamma_t);
// MATH 2h in ε-form: ½ γ'(t)‖ε − ε̂‖² (VDM eq. 17).
at::Tensor diffusion_loss_continuous(const at::Tensor& eps, const at::Tensor& eps_hat,
                                     const at::Tensor& dgamma_t);

// Prior loss KL(q(z_1|x) ‖ N(0, I)) = ½ Σ (α_1² x² + σ_1² − log σ_1² − 1), per example.
at::Tensor prior_loss(const at::Tensor& x, const at::Tensor& gamma_1);

// 8-bit pixels k ∈ {0..255} <-> the model's data space f = 2(k + ½)/256 − 1 (VDM §3.1).
at::Tensor encode_8bit(const at::Tensor& k);
// Reconstruction loss −log p(x|z_0) of the discretised decoder p(k|z_0) ∝ q(z_0|f(k)) over the
// 256 values of each dimension (VDM eq. 8), per example, for any number of channels. Exact:
// the normaliser sums the bins within 11 standard deviations of z_0/α_0; the rest add < e^-60.
at::Tensor recon_loss_8bit(const at::Tensor& k, const at::Tensor& z_0, const at::Tensor& gamma_0);
// The decoder's most probable bin of each dimension, int64 in {0..255}.
at::Tensor decode_8bit(const at::Tensor& z_0, const at::Tensor& gamma_0);
// Continuous data: −log N(x; z_0/α_0, e^{γ_0} I), the same decoder without bins, per example.
at::Tensor recon_loss_continuous(const at::Tensor& x, const at::Tensor& z_0,
                                 const at::Tensor& gamma_0);

// Low-discrepancy times t_i = (u_0 + i/n) mod 1 (VDM App. I.1): one uniform draw per batch.
at::Tensor antithetic_times(int64_t n, const at::Tensor& u0);
// The discrete-time grid: t ← ceil(t·T)/T, so that t ∈ {1/T, .., 1}.
at::Tensor discretize_times(const at::Tensor& t, int64_t T);

// γ (B) reshaped to broadcast against x (B, ...); 0-dim γ unchanged.
at::Tensor per_example(const at::Tensor& gamma, const at::Tensor& x);
at::Tensor sum_per_example(const at::Tensor& v);  // (B, ...) -> (B)

}  // namespace deepgen::diffusion

#pragma once
// Noise schedules of the variational diffusion model (Kingma et al. 2021), parameterised by
// γ(t) = −log SNR(t), increasing in t ∈ [0, 1] (MATH Part 2; VDM eq. 3 — several ports use
// +log SNR).
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <string>
#include <utility>
#include <vector>

namespace deepgen::diffusion {

// Variance-preserving coefficients of γ, computed without cancellation at |γ| ≫ 1.
at::Tensor sigma2(const at::Tensor& gamma);      // σ² = sigmoid(γ)
at::Tensor alpha2(const at::Tensor& gamma);      // α² = sigmoid(−γ) = 1 − σ²
at::Tensor log_sigma2(const at::Tensor& gamma);  // −softplus(−γ)
at::Tensor log_alpha2(const at::Tensor& gamma);  // −softplus(γ)
at::Tensor snr(const at::Tensor& gamma);         // α²/σ² = exp(−γ)

struct ScheduleOptions {
  // fixed: γ linear between gamma_min and gamma_max; learned_linear: the same with learnable
  // endpoints; learned_net: the monotone network of VDM App. H with learnable endpoints.
  TORCH_ARG(std::string, kind) = "fixed";
  TORCH_ARG(double, gamma_min) = -13.3;  // γ(0) = −log SNR_max
  TORCH_ARG(double, gamma_max) = 5.0;    // γ(1) = −log SNR_min
  TORCH_ARG(int64_t, hidden) = 1024;     // learned_net: width of the monotone layer
};
void validate(const ScheduleOptions& options);
std::vector<std::string> schedule_kinds();  // fixed, learned_linear, learned_net

// γ(t) = γ0 + (γ1 − γ0)·S(t) with S(0) = 0, S(1) = 1 increasing: the endpoints are pinned by
// construction (VDM App. I.2 eq. 59, which the public JAX code leaves out), so the endpoints
// and the shape S are separate parameters — the variance-minimising trick needs exactly that.
class NoiseScheduleImpl : public torch::nn::Module {
 public:
  explicit NoiseScheduleImpl(ScheduleOptions options = {});
  at::Tensor gamma(const at::Tensor& t);
  // (γ(t), γ'(t)), γ' in closed form.
  std::pair<at::Tensor, at::Tensor> gamma_and_derivative(const at::Tensor& t);
  // (S(t), S'(t)) of the shape alone; the identity (t, 1) for the linear kinds.
  std::pair<at::Tensor, at::Tensor> shape(const at::Tensor& t);
  // γ from a given shape: γ0 + (γ1 − γ0)·S, and its t-derivative (γ1 − γ0)·S'.
  std::pair<at::Tensor, at::Tensor> gamma_from_shape(const at::Tensor& s, const at::Tensor& ds);
  at::Tensor gamma0();  // γ(0), a 0-dim tensor
  at::Tensor gamma1();  // γ(1)
  bool has_shape_parameters() const { return options_.kind() == "learned_net"; }
  const ScheduleOptions& options() const { return options_; }

 private:
  // Unnormalised monotone net γ̃(t) and γ̃'(t) (VDM App. H: linear + sigmoid layer of |W|).
  std::pair<at::Tensor, at::Tensor> raw_net(const at::Tensor& t);
  ScheduleOptions options_;
  at::Tensor gamma0_, log_gap_;   // γ0 and log(γ1 − γ0): parameters unless kind == fixed
  at::Tensor w1_, w2_, b2_, w3_;  // learned_net; absolute values keep it monotone
};
TORCH_MODULE(NoiseSchedule);

}  // namespace deepgen::diffusion

// The VDM's probability-flow ODE, for likelihoods by the change of variables (ode/likelihood.h).
#include "deepgen/diffusion/flow.h"

#include <cmath>

#include "deepgen/data/transforms.h"
#include "deepgen/diffusion/model.h"
#include "deepgen/diffusion/vdm.h"
#include "deepgen/ode/likelihood.h"

namespace deepgen::diffusion {

namespace {

constexpr double kLog2Pi = 1.8378770664093453;  // log 2π, of q(z_0|x)'s density

}  // namespace

at::Tensor vp_flow_drift(const at::Tensor& z, const at::Tensor& eps_hat, double gamma,
                         double dgamma) {
  const double s2 = 1.0 / (1.0 + std::exp(-gamma));
  return 0.5 * dgamma * (std::sqrt(s2) * eps_hat - s2 * z);
}

// γ and γ′ enter the drift as numbers: the likelihood differentiates it in z only.
train::ProbabilityFlow VdmImpl::probability_flow(const at::Tensor& labels) {
  train::ProbabilityFlow flow;
  flow.drift = [this, labels](const at::Tensor& z, double t) {
    double g = 0, dg = 0;
    {
      torch::NoGradGuard numbers;
      auto [gamma, dgamma] = schedule_->gamma_and_derivative(
          torch::full({1}, t, schedule_->gamma0().options().dtype(torch::kFloat64)));
      g = gamma.item<double>();
      dg = dgamma.item<double>();
    }
    return vp_flow_drift(z, eps(z, torch::full({z.size(0)}, g, z.options()), labels), g, dg);
  };
  const double g0 = schedule_->gamma0().item<double>();
  const double log_alpha0 = 0.5 * log_alpha2(torch::full({}, g0, torch::kFloat64)).item<double>();
  const double d = static_cast<double>(dim());
  if (is_image(options_)) {
    // q(z_0|x) is within σ_0 ≈ 10⁻³ of each bin's centre, far narrower than the bins (2/256),
    // so the ODE's density at t = 0 is a comb of spikes: uniformly dequantised points fall
    // between them. The model's own encoder and decoder dequantise instead.
    flow.dequantize = [this](const at::Tensor& x) {
      torch::NoGradGuard constant;
      const at::Tensor f = to_model_space(x), g0 = schedule_->gamma0().to(x.dtype());
      const Normal q = forward_marginal(f, g0);
      const at::Tensor eps = torch::randn_like(f);
      const at::Tensor z0 = q.mean + q.var.sqrt() * eps;
      const at::Tensor log_q = (-0.5 * (eps.square() + q.var.log() + kLog2Pi)).flatten(1).sum(1);
      return std::make_pair(z0, log_q + recon_loss_8bit(data::quantize_8bit(x), z0, g0));
    };
    // Data units k/255 to f = 2(k + ½)/256 − 1: f = (510x + 1)/256 − 1, then z = α_0 f.
    flow.to_state = [log_alpha0](const at::Tensor& x) {
      return std::exp(log_alpha0) * ((510.0 * x + 1.0) / 256.0 - 1.0);
    };
    flow.log_det = d * (log_alpha0 + std::log(510.0 / 256.0));
  } else {
    flow.to_state = [this, log_alpha0](const at::Tensor& x) {
      return std::exp(log_alpha0) * (x - mean_) / std_;
    };
    flow.log_det = d * log_alpha0 - log_std_sum();
  }
  flow.prior_log_prob = [](const at::Tensor& z1) {
    return ode::isotropic_normal_log_prob(z1, 0.0, 1.0);
  };
  return flow;
}

}  // namespace deepgen::diffusion

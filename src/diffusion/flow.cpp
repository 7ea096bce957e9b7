// The VDM's probability-flow ODE, for likelihoods by the change of variables (ode/likelihood.h).
#include "deepgen/diffusion/flow.h"

#include <cmath>

#include "deepgen/core/error.h"
#include "deepgen/data/transforms.h"
#include "deepgen/diffusion/model.h"
#include "deepgen/diffusion/vdm.h"
#include "deepgen/ode/likelihood.h"

namespace deepgen::diffusion {

namespace {

constexpr double kLog2Pi = 1.8378770664093453;  // log 2π, of q(z_t|x)'s density
// Stratified times per example for the diffusion loss below a flow's start t0; their Monte Carlo
// noise is part of the spread over examples that the reported standard error measures.
constexpr int64_t kBoundDrawsBelowT0 = 8;

}  // namespace

at::Tensor vp_flow_drift(const at::Tensor& z, const at::Tensor& eps_hat, double gamma,
                         double dgamma) {
  const double s2 = 1.0 / (1.0 + std::exp(-gamma));
  return 0.5 * dgamma * (std::sqrt(s2) * eps_hat - s2 * z);
}

// A draw z ~ q(z_t|x) = N(α_t f, σ_t² I) (MATH 2a) and log q(z|x) per example.
std::pair<at::Tensor, at::Tensor> VdmImpl::draw_forward(const at::Tensor& f,
                                                        const at::Tensor& gamma) {
  const Normal q = forward_marginal(f, gamma);
  const at::Tensor e = torch::randn_like(f);
  const at::Tensor log_q = (-0.5 * (e.square() + q.var.log() + kLog2Pi)).flatten(1).sum(1);
  return {q.mean + q.var.sqrt() * e, log_q};
}

at::Tensor VdmImpl::diffusion_loss_until(const at::Tensor& f, double t0, int64_t draws,
                                         const at::Tensor& labels) {
  const double width = t0 / static_cast<double>(draws);
  at::Tensor total = torch::zeros({f.size(0)}, f.options());
  for (int64_t i = 0; i < draws; ++i) {
    const at::Tensor t = (static_cast<double>(i) + torch::rand({f.size(0)}, f.options())) * width;
    const auto [gamma, dgamma] = schedule_->gamma_and_derivative(t);
    const at::Tensor e = torch::randn_like(f);
    const Normal q = forward_marginal(f, gamma);
    total =
        total + diffusion_loss_continuous(e, eps(q.mean + q.var.sqrt() * e, gamma, labels), dgamma);
  }
  return total * width;
}

// γ and γ′ enter the drift as numbers: the likelihood differentiates it in z only.
train::ProbabilityFlow VdmImpl::probability_flow(const at::Tensor& labels, double t0) {
  if (!(t0 >= 0.0 && t0 < 1.0))
    throw Error("the VDM's flow starts at t0 in [0, 1), not " + c10::str(t0));
  train::ProbabilityFlow flow;
  flow.t0 = t0;
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
  const bool image = is_image(options_);
  // Images: q(z_0|x) is within σ_0 ≈ 10⁻³ of each bin's centre, far narrower than the bins
  // (2/256), so the ODE's density at t = 0 is a comb of spikes: uniformly dequantised points
  // fall between them. The model's own encoder and decoder dequantise instead. From t0 > 0 the
  // bound's decoder and diffusion loss on [0, t0] take the part the flow leaves out:
  // −log P(x) ≤ E[−log p(x|z_0)] + L_[0,t0] + E_{q(z_t0|x)}[−log p_ODE(z_t0) + log q(z_t0|x)],
  // the VDM's bound with p_ODE(z_t0) in place of its reverse process above t0 and its prior.
  if (image || t0 > 0.0) {
    flow.dequantize = [this, labels, t0, image](const at::Tensor& x) {
      torch::NoGradGuard constant;
      const at::Tensor f = to_model_space(x), g0 = schedule_->gamma0().to(x.dtype());
      const auto [z0, log_q0] = draw_forward(f, g0);
      const at::Tensor decoder = image ? recon_loss_8bit(data::quantize_8bit(x), z0, g0)
                                       : recon_loss_continuous(f, z0, g0) + log_std_sum();
      if (t0 == 0.0) return std::make_pair(z0, log_q0 + decoder);
      const auto [z_t0, log_q] =
          draw_forward(f, schedule_->gamma(torch::full({}, t0, f.options())));
      const at::Tensor lower = diffusion_loss_until(f, t0, kBoundDrawsBelowT0, labels);
      return std::make_pair(z_t0, log_q + decoder + lower);
    };
    flow.dequantization =
        t0 == 0.0 ? "variational, by the model's own q(z_0|x) and p(x|z_0): bpd = (-log "
                    "p_ODE(z_0) + log q(z_0|x) - log p(x|z_0))/(D ln 2), an upper bound on "
                    "-log2 P(x)/D in expectation over z_0"
                  : "the VDM's bound with the ODE from t0 = " + c10::str(t0) +
                        ": z(t0) ~ q(z_t0|x), -log p(x) <= -log p(x|z_0) + L_diff[0, t0] + "
                        "log q(z_t0|x) - log p_ODE(z_t0) (L_diff by " +
                        std::to_string(kBoundDrawsBelowT0) +
                        " stratified times), an upper bound in expectation over the draws";
  }
  if (image) {
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

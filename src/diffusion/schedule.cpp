// γ(t) schedules and the stable variance-preserving coefficients (VDM §3, App. H, App. I.2).
#include "deepgen/diffusion/schedule.h"

#include <cmath>

#include "deepgen/core/error.h"

namespace deepgen::diffusion {

at::Tensor sigma2(const at::Tensor& gamma) { return torch::sigmoid(gamma); }
at::Tensor alpha2(const at::Tensor& gamma) { return torch::sigmoid(-gamma); }
at::Tensor log_sigma2(const at::Tensor& gamma) { return -torch::softplus(-gamma); }
at::Tensor log_alpha2(const at::Tensor& gamma) { return -torch::softplus(gamma); }
at::Tensor snr(const at::Tensor& gamma) { return torch::exp(-gamma); }

std::vector<std::string> schedule_kinds() { return {"fixed", "learned_linear", "learned_net"}; }

void validate(const ScheduleOptions& o) {
  const auto kinds = schedule_kinds();
  if (std::find(kinds.begin(), kinds.end(), o.kind()) == kinds.end())
    throw Error("vdm: " + option_ref("vdm", "schedule") + " '" + o.kind() +
                "' is unknown: use fixed, learned_linear or learned_net");
  if (!(o.gamma_min() < o.gamma_max()))
    throw Error("vdm: " + option_ref("vdm", "gamma_min") + " must be below " +
                option_ref("vdm", "gamma_max") + " (γ = −log SNR increases with t)");
  if (o.hidden() <= 0)
    throw Error("vdm: " + option_ref("vdm", "schedule_hidden") + " must be positive");
}

NoiseScheduleImpl::NoiseScheduleImpl(ScheduleOptions options) : options_(std::move(options)) {
  validate(options_);
  auto g0 = torch::full({}, options_.gamma_min());
  auto log_gap = torch::full({}, std::log(options_.gamma_max() - options_.gamma_min()));
  if (options_.kind() == "fixed") {
    gamma0_ = register_buffer("gamma0", g0);
    log_gap_ = register_buffer("log_gap", log_gap);
    return;
  }
  gamma0_ = register_parameter("gamma0", g0);
  log_gap_ = register_parameter("log_gap", log_gap);
  if (options_.kind() != "learned_net") return;
  const int64_t h = options_.hidden();
  w1_ = register_parameter("w1", torch::ones({}));
  w2_ = register_parameter("w2", torch::randn({h}));
  b2_ = register_parameter("b2", torch::zeros({h}));
  w3_ = register_parameter("w3", torch::randn({h}));
}

std::pair<at::Tensor, at::Tensor> NoiseScheduleImpl::raw_net(const at::Tensor& t) {
  auto tc = t.unsqueeze(-1);
  auto w2 = w2_.abs();
  auto sig = torch::sigmoid((2 * tc - 1) * w2 + b2_);
  const double h = static_cast<double>(options_.hidden());
  auto w3 = w3_.abs() / h;
  auto value = w1_.abs() * t + ((2 * sig - 1) * w3).sum(-1);
  auto slope = w1_.abs() + (4 * sig * (1 - sig) * w2 * w3).sum(-1);  // d/dt of the line above
  return {value, slope};
}

std::pair<at::Tensor, at::Tensor> NoiseScheduleImpl::shape(const at::Tensor& t) {
  if (!has_shape_parameters()) return {t, torch::ones_like(t)};
  auto [value, slope] = raw_net(t);
  auto ends = raw_net(torch::tensor({0.0, 1.0}, t.options())).first;
  auto span = ends[1] - ends[0];
  return {(value - ends[0]) / span, slope / span};
}

std::pair<at::Tensor, at::Tensor> NoiseScheduleImpl::gamma_from_shape(const at::Tensor& s,
                                                                      const at::Tensor& ds) {
  auto gap = log_gap_.exp();
  return {gamma0_ + gap * s, gap * ds};
}

std::pair<at::Tensor, at::Tensor> NoiseScheduleImpl::gamma_and_derivative(const at::Tensor& t) {
  auto [s, ds] = shape(t);
  return gamma_from_shape(s, ds);
}

at::Tensor NoiseScheduleImpl::gamma(const at::Tensor& t) { return gamma_and_derivative(t).first; }
at::Tensor NoiseScheduleImpl::gamma0() { return gamma0_; }
at::Tensor NoiseScheduleImpl::gamma1() { return gamma0_ + log_gap_.exp(); }

}  // namespace deepgen::diffusion

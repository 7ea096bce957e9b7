// VdmImpl: the bound of MATH Part 2 on a batch; VdmModel: it behind the shared trainer.
#include "deepgen/diffusion/model.h"

#include <c10/util/irange.h>

#include <cmath>

#include "deepgen/core/precision.h"
#include "deepgen/core/progress.h"
#include "deepgen/data/transforms.h"
#include "deepgen/diffusion/sampler.h"
#include "deepgen/diffusion/vdm.h"

namespace deepgen::diffusion {

namespace {

VdmOptions synced(VdmOptions o) {
  o.net.data_shape = o.data_shape;
  o.net.noise_min = o.schedule.gamma_min();
  o.net.noise_max = o.schedule.gamma_max();
  o.net.skip = o.prediction == "eps";
  o.net.classes = o.condition.classes;
  validate(o);
  return o;
}

at::Tensor vector_or(const std::vector<double>& v, int64_t d, double fill) {
  return v.empty() ? torch::full({d}, fill) : torch::tensor(v, torch::kFloat);
}

// Multiplies the gradient reaching `shape` by 2·L per example, so the shape parameters descend
// E[L²] (the estimator's variance, since E[L] does not depend on them: VDM App. I.2 eq. 61).
void scale_gradient_by(at::Tensor& shape, const std::shared_ptr<at::Tensor>& weight) {
  shape.register_hook([weight](at::Tensor grad) { return grad * *weight; });
}

}  // namespace

VdmImpl::VdmImpl(VdmOptions options) : options_(synced(std::move(options))) {
  schedule_ = register_module("schedule", NoiseSchedule(options_.schedule));
  net_ = register_module("net", make_eps_network(options_.net));
  weight_ = weighting(options_.weighting, options_.weighting_bias);
  if (importance_sampled())  // ℓ = −γ runs from −γ(1) to −γ(0)
    proposal_ = std::make_unique<LogSnrProposal>(make_proposal(options_.proposal, weight_,
                                                               -options_.schedule.gamma_max(),
                                                               -options_.schedule.gamma_min()));
  if (!is_image(options_)) {
    const int64_t d = options_.data_shape[0];
    mean_ = register_buffer("data_mean", vector_or(options_.data_mean, d, 0.0));
    std_ = register_buffer("data_std", vector_or(options_.data_std, d, 1.0));
  }
}

int64_t VdmImpl::dim() const { return c10::multiply_integers(options_.data_shape); }

double VdmImpl::log_std_sum() const {
  double s = 0;
  for (double v : options_.data_std) s += std::log(v);
  return s;
}

at::Tensor VdmImpl::to_model_space(const at::Tensor& x) const {
  if (is_image(options_)) return encode_8bit(data::quantize_8bit(x)).to(x.dtype());
  return (x - mean_) / std_;
}

at::Tensor VdmImpl::from_model_space(const at::Tensor& z_0) {
  auto g0 = schedule_->gamma0().to(z_0.dtype());
  if (is_image(options_)) return decode_8bit(z_0, g0).to(z_0.dtype()) / 255.0;
  return z_0 * torch::exp(-0.5 * log_alpha2(g0)) * std_ + mean_;
}

at::Tensor VdmImpl::times(int64_t n, int64_t T, const at::TensorOptions& opts) const {
  auto t =
      options_.antithetic ? antithetic_times(n, torch::rand({}, opts)) : torch::rand({n}, opts);
  return T > 0 ? discretize_times(t, T) : t;
}

VdmLoss VdmImpl::negative_elbo(const at::Tensor& x, int64_t T, const at::Tensor& labels) {
  if (T < 0) T = options_.T;
  const auto f = to_model_space(x);
  const int64_t b = f.size(0);
  auto t = times(b, T, f.options());
  auto [shape_t, dshape_t] = schedule_->shape(t);
  auto weight = std::make_shared<at::Tensor>();
  const bool trick = options_.variance_trick && T == 0 && schedule_->has_shape_parameters() &&
                     shape_t.requires_grad();
  if (trick) {
    scale_gradient_by(shape_t, weight);
    scale_gradient_by(dshape_t, weight);
  }
  auto [gamma_t, dgamma_t] = schedule_->gamma_from_shape(shape_t, dshape_t);
  auto eps = torch::randn_like(f);
  auto q = forward_marginal(f, gamma_t);
  auto z_t = q.mean + q.var.sqrt() * eps;
  auto eps_hat = this->eps(z_t, gamma_t, labels);
  VdmLoss l;
  if (T > 0) {
    auto gamma_s = schedule_->gamma(t - 1.0 / static_cast<double>(T));
    l.diffusion = diffusion_loss_discrete(eps, eps_hat, gamma_s, gamma_t, T);
  } else {
    l.diffusion = diffusion_loss_continuous(eps, eps_hat, dgamma_t);
  }
  if (trick) *weight = 2 * l.diffusion.detach();
  add_end_terms(x, f, l);
  return l;
}

void VdmImpl::add_end_terms(const at::Tensor& x, const at::Tensor& f, VdmLoss& l) {
  auto g0 = schedule_->gamma0(), g1 = schedule_->gamma1();
  auto q0 = forward_marginal(f, g0);
  auto z_0 = q0.mean + q0.var.sqrt() * torch::randn_like(f);
  if (is_image(options_))
    l.recon = recon_loss_8bit(data::quantize_8bit(x), z_0, g0);
  else
    l.recon = recon_loss_continuous(f, z_0, g0) + log_std_sum();
  l.prior = prior_loss(f, g1);
}

bool VdmImpl::importance_sampled() const {
  return options_.weighting != "elbo" || options_.proposal != "uniform";
}

at::Tensor VdmImpl::eps(const at::Tensor& z, const at::Tensor& gamma, const at::Tensor& labels,
                        double guidance) {
  const nn::ConditionalNet net = [this](const at::Tensor& z_, const at::Tensor& g,
                                        const at::Tensor& y) { return net_->forward(z_, g, y); };
  auto out = autocast_forward(z.scalar_type(), [&] {
    return nn::guided(net, z, gamma, labels, guidance, options_.condition.classes);
  });
  if (options_.prediction == "x") return eps_from_x(z, out, gamma);
  if (options_.prediction == "v") return eps_from_v(z, out, gamma);
  return out;
}

// BEYOND B1: one draw ℓ ~ p per example serves both estimators, ½(w/p)‖ε − ε̂‖² for L_w and
// ½(1/p)‖ε − ε̂‖² for the bound's L_∞ (its w ≡ 1 case), so training logs an unbiased bpd.
VdmLoss VdmImpl::training_loss(const at::Tensor& x, const at::Tensor& labels) {
  if (!importance_sampled()) return negative_elbo(x, -1, labels);
  const auto f = to_model_space(x);
  const int64_t b = f.size(0);
  auto u = options_.antithetic ? antithetic_times(b, torch::rand({}, f.options()))
                               : torch::rand({b}, f.options());
  auto [logsnr, density] = proposal_->draw(u);
  auto gamma_t = -logsnr;
  auto eps = torch::randn_like(f);
  auto q = forward_marginal(f, gamma_t);
  auto eps_hat = this->eps(q.mean + q.var.sqrt() * eps, gamma_t, labels);
  VdmLoss l;
  l.diffusion = weighted_diffusion_loss(eps, eps_hat, 1.0 / density);
  l.objective = weighted_diffusion_loss(eps, eps_hat, weight_(logsnr) / density);
  add_end_terms(x, f, l);
  return l;
}

at::Tensor VdmImpl::sample(int64_t n, const std::string& sampler, int64_t steps,
                           const at::Tensor& labels, double guidance) {
  torch::NoGradGuard no_grad;
  auto opts = schedule_->gamma0().options();
  std::vector<int64_t> shape{n};
  shape.insert(shape.end(), options_.data_shape.begin(), options_.data_shape.end());
  auto gen = at::detail::getDefaultCPUGenerator();
  auto z_1 = at::randn(shape, gen, opts.device(torch::kCPU)).to(opts.device());
  auto gammas = sampling_gammas(schedule_, options_.sample_grid, steps);
  EpsFn eps = [this, labels, guidance](const at::Tensor& z, const at::Tensor& g) {
    return this->eps(z, g, labels, guidance);
  };
  const auto progress = [](int64_t done, int64_t total) {
    report_progress("sample", done, total);  // to whoever listens (core/progress.h)
  };
  return from_model_space(sample_loop(sampler, eps, gammas, z_1, gen, progress));
}

VdmModel::VdmModel(VdmOptions options) : vdm_(std::move(options)) {}

train::LossOutput VdmModel::report(const VdmLoss& l) const {
  const double per_bit = 1.0 / (static_cast<double>(vdm_->dim()) * std::log(2.0));
  auto total = l.total().mean() * per_bit;
  // A weighted objective is reported in the same units: L_w + recon + prior, per bit and dim.
  auto loss = l.objective.defined() ? (l.objective + l.recon + l.prior).mean() * per_bit : total;
  return {loss,
          {{"bpd", total.detach()},
           {"bpd_diffusion", l.diffusion.mean().detach() * per_bit},
           {"bpd_recon", l.recon.mean().detach() * per_bit},
           {"bpd_prior", l.prior.mean().detach() * per_bit}}};
}

train::LossOutput VdmModel::loss(const at::Tensor& x) { return report(vdm_->training_loss(x)); }

train::LossOutput VdmModel::train_loss(const train::TrainBatch& batch) {
  const auto& c = vdm_->options().condition;
  const at::Tensor labels =
      c.classes > 0 ? nn::drop_labels(batch.labels, c.label_dropout, c.classes) : at::Tensor();
  return report(vdm_->training_loss(batch.x, labels));
}

train::LossOutput VdmModel::evaluate(const at::Tensor& x) { return averaged_bound(x, {}); }

// A conditional model's bound is on −log p(x|y); with label dropout its null class is a model
// of p(x) too, whose bound is reported beside it so that it compares with unconditional runs.
train::LossOutput VdmModel::test_loss(const train::TrainBatch& batch) {
  if (classes() == 0) return averaged_bound(batch.x, {});
  train::LossOutput out = averaged_bound(batch.x, batch.labels);
  if (vdm_->options().condition.label_dropout > 0)
    out.parts.emplace_back("bpd_unconditional", averaged_bound(batch.x, {}).loss.detach());
  return out;
}

train::LossOutput VdmModel::averaged_bound(const at::Tensor& x, const at::Tensor& labels) {
  VdmLoss sum = vdm_->negative_elbo(x, -1, labels);
  const int64_t k = vdm_->options().eval_samples;
  for (int64_t i = 1; i < k; ++i) {
    auto l = vdm_->negative_elbo(x, -1, labels);
    sum = {sum.diffusion + l.diffusion, sum.recon + l.recon, sum.prior + l.prior};
  }
  const double w = 1.0 / static_cast<double>(k);
  return report({sum.diffusion * w, sum.recon * w, sum.prior * w});
}

at::Tensor VdmModel::sample(int64_t n) {
  const auto& o = vdm_->options();
  if (classes() == 0) return vdm_->sample(n, o.sampler, o.sample_steps);
  return sample_classes(nn::uniform_labels(n, classes(), vdm_->schedule()->gamma0().device()),
                        o.condition.guidance);
}

at::Tensor VdmModel::sample_classes(const at::Tensor& labels, double guidance) {
  if (classes() == 0) return GenerativeModel::sample_classes(labels, guidance);
  const auto& o = vdm_->options();
  nn::Conditioning c = o.condition;
  c.guidance = guidance;
  nn::validate(c, "vdm");
  nn::check_labels(labels, c.classes);
  return vdm_->sample(labels.size(0), o.sampler, o.sample_steps, labels, guidance);
}

bool VdmModel::gains_from_bf16() const {
  return is_image(vdm_->options()) && vdm_->options().net.architecture == "unet";
}

}  // namespace deepgen::diffusion

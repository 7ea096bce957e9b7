#pragma once
// The variational diffusion model (Kingma et al. 2021) behind the shared trainer and the CLI:
// a likelihood model whose loss is the negative ELBO of MATH Part 2 in bits/dim.
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "deepgen/diffusion/net.h"
#include "deepgen/diffusion/schedule.h"
#include "deepgen/diffusion/weighting.h"
#include "deepgen/train/model.h"

namespace deepgen::diffusion {

struct VdmOptions {
  std::vector<int64_t> data_shape = {1, 28, 28};  // images: 8-bit, 256-bin decoder; else points
  ScheduleOptions schedule;
  // learned_net, continuous time: train the schedule's shape to minimise the variance of the
  // loss estimator and only its endpoints on the bound (VDM §5.2, App. I.2).
  bool variance_trick = true;
  int64_t T = 0;               // 0: continuous-time L_∞ (MATH 2h); else T-step L_T (MATH 2g)
  bool antithetic = true;      // low-discrepancy times (VDM App. I.1)
  EpsNetOptions net;           // net.data_shape and the γ range follow the fields above
  nn::Conditioning condition;  // class labels (issue 15); net.classes follows it
  // What the network outputs: eps (ε̂, VDM's own), x (x̂) or v (v̂ = α ε − σ x, Salimans & Ho
  // 2022); each is mapped exactly to ε̂ for the loss, the bound and the samplers (BEYOND B2).
  std::string prediction = "eps";
  // The training objective L_w of BEYOND B1: elbo (w ≡ 1, the bound itself), sigmoid or edm.
  // Whatever it is, the reported and evaluated bpd is the w ≡ 1 bound.
  std::string weighting = "elbo";
  double weighting_bias = 2.0;  // sigmoid: b of w(ℓ) = sigmoid(b − ℓ)
  // The density ℓ is drawn from: uniform (in ℓ; = uniform t for the fixed linear schedule) or
  // weighting (p ∝ w). Anything but elbo + uniform needs the fixed schedule and T = 0.
  std::string proposal = "uniform";
  std::string sampler = "ancestral";  // sampler_names(): ancestral | ddim | dpm2 | ...
  int64_t sample_steps = 1000;
  std::string sample_grid = "t";  // sampling_gammas(): t (uniform in t) | eta (uniform in η)
  int64_t eval_samples = 1;       // (t, ε) draws per test example in evaluate()
  // Points: the bound is computed on (x − mean)/std and corrected by Σ log std (change of
  // variables), so it is the density of x in its own units. Filled from the training set.
  std::vector<double> data_mean, data_std;
};

// JSON of every option (the table is diffusion/family.h's) and back; unknown keys and bad
// values are errors naming the key as `vdm.key`.
std::string to_json(const VdmOptions& options);
VdmOptions vdm_options_from_json(const std::string& json, std::vector<int64_t> data_shape);
// Each option's own checks, then the rules across options.
void validate(const VdmOptions& options);
bool is_image(const VdmOptions& options);

// Per-example terms of the negative ELBO, in nats.
struct VdmLoss {
  at::Tensor diffusion, recon, prior;
  at::Tensor objective;  // the weighted diffusion loss L_w trained on; undefined: the bound's
  at::Tensor total() const { return diffusion + recon + prior; }
};

class VdmImpl : public torch::nn::Module {
 public:
  explicit VdmImpl(VdmOptions options);
  // The model's data space: f = 2(k + ½)/256 − 1 of the 8-bit values, or standardised points.
  at::Tensor to_model_space(const at::Tensor& x) const;
  // One (t, ε) draw of each term of −ELBO for a batch x in data units, with the diffusion loss
  // of T steps (MATH 2g; 0: continuous, MATH 2h; -1: the model's own T). A continuous-time
  // model evaluated at T is the bound of its own T-step ancestral sampler.
  // labels: a conditional model's classes (−log p(x|y)), undefined for ∅.
  VdmLoss negative_elbo(const at::Tensor& x, int64_t T = -1, const at::Tensor& labels = {});
  // The training objective: −ELBO, or with a weighting or proposal (BEYOND B1) the terms of
  // −ELBO from an importance draw of ℓ and, in `objective`, L_w from the same draw.
  VdmLoss training_loss(const at::Tensor& x, const at::Tensor& labels = {});
  bool importance_sampled() const;  // a weighting or proposal other than elbo + uniform
  // ε̂(z, γ) from the network's output, whatever it predicts (BEYOND B2); for a conditional
  // model of the classes `labels` (undefined: ∅) under classifier-free guidance w (BEYOND B5).
  at::Tensor eps(const at::Tensor& z, const at::Tensor& gamma, const at::Tensor& labels = {},
                 double guidance = 0.0);
  // n samples in data units via the chosen sampler over `steps` steps of options().sample_grid;
  // a conditional model's of the classes `labels` (n of them) under guidance w.
  at::Tensor sample(int64_t n, const std::string& sampler, int64_t steps,
                    const at::Tensor& labels = {}, double guidance = 0.0);
  // x (B, data shape) in data units with the values where mask is 0 drawn given the rest:
  // replacement over `steps` ancestral steps of options().sample_grid, each taken `resample`
  // times (RePaint); the known values returned exactly (inpaint.cpp, BEYOND B5). A conditional
  // model's of the classes `labels` (one per row; undefined: ∅) under guidance w.
  at::Tensor inpaint(const at::Tensor& x, const at::Tensor& mask, int64_t steps,
                     int64_t resample = 1, const at::Tensor& labels = {}, double guidance = 0.0);
  // The probability-flow ODE of the VP process in t (BEYOND B3): dz/dt = ½γ′(t)(σ_t ε̂ − σ_t² z),
  // from z(0) = α_0·f(x) to the prior N(0, I) at t = 1 (flow.cpp); a conditional model's ε̂ of
  // the classes `labels` (one per row; undefined: ∅). With t0 > 0 it starts at z(t0) ~ q(z_t0|x)
  // and the bound's own terms cover [0, t0]: its decoder and MATH 2h there (docs/likelihood.md).
  train::ProbabilityFlow probability_flow(const at::Tensor& labels = {}, double t0 = 0.0);
  // MATH 2h over [0, t0] only: t0·E_{t~U[0,t0]} ½γ′(t)‖ε − ε̂(z_t)‖², per example, from
  // `draws` stratified times each (f in the model's data space).
  at::Tensor diffusion_loss_until(const at::Tensor& f, double t0, int64_t draws,
                                  const at::Tensor& labels = {});
  NoiseSchedule& schedule() { return schedule_; }
  const VdmOptions& options() const { return options_; }
  int64_t dim() const;         // D: numbers per example
  double log_std_sum() const;  // Σ log std of the point standardisation (0 for images)

 private:
  at::Tensor times(int64_t n, int64_t T, const at::TensorOptions& opts) const;
  // The terms of the bound that do not involve the network: −log p(x|z_0) and the prior KL.
  void add_end_terms(const at::Tensor& x, const at::Tensor& f, VdmLoss& l);
  at::Tensor from_model_space(const at::Tensor& z_0);
  std::pair<at::Tensor, at::Tensor> draw_forward(const at::Tensor& f, const at::Tensor& gamma);
  VdmOptions options_;
  NoiseSchedule schedule_{nullptr};
  std::shared_ptr<EpsNetwork> net_;
  std::unique_ptr<LogSnrProposal> proposal_;  // importance_sampled() only
  LogSnrWeight weight_;
  at::Tensor mean_, std_;  // points: standardisation buffers
};
TORCH_MODULE(Vdm);

class VdmModel : public train::GenerativeModel {
 public:
  explicit VdmModel(VdmOptions options);
  std::string name() const override { return "vdm"; }
  torch::nn::Module& module() override { return *vdm_; }
  train::LossOutput loss(const at::Tensor& x) override;
  // A conditional model's loss with its labels, each dropped to ∅ with label_dropout.
  train::LossOutput train_loss(const train::TrainBatch& batch) override;
  // The bound with the model's T (a continuous-time model made with T > 0 is evaluated as the
  // bound of its T-step ancestral sampler), averaged over eval_samples (t, ε) draws.
  train::LossOutput evaluate(const at::Tensor& x) override;
  // −log p(x|y), and with label dropout bpd_unconditional: −log p(x) of the null class.
  train::LossOutput test_loss(const train::TrainBatch& batch) override;
  at::Tensor sample(int64_t n) override;  // options().sampler over options().sample_steps
  int64_t classes() const override { return vdm_->options().condition.classes; }
  at::Tensor sample_classes(const at::Tensor& labels, double guidance) override;
  // Replacement over sample_steps (VdmImpl::inpaint); images and points both inpaint.
  std::string inpaint_blocker() const override;
  at::Tensor inpaint(const at::Tensor& x, const at::Tensor& mask,
                     const train::InpaintOptions& options) override;
  bool gains_from_bf16() const override;  // the image U-Net
  std::string probability_flow_blocker() const override { return {}; }
  train::ProbabilityFlow probability_flow(const at::Tensor& labels, double t0) override {
    return vdm_->probability_flow(labels, t0);
  }
  Vdm& vdm() { return vdm_; }

 private:
  train::LossOutput report(const VdmLoss& l) const;
  train::LossOutput averaged_bound(const at::Tensor& x, const at::Tensor& labels);
  Vdm vdm_;
};

}  // namespace deepgen::diffusion

#pragma once
// Score-based models (MATH Part 3) behind the shared trainer: a score network s_θ(x, σ) trained
// by explicit score matching against a kernel density (esm-kde, MATH 3.2a), denoising score
// matching (dsm, MATH 3.2d), sliced score matching (ssm) or the noise-conditional NCSN loss (ncsn,
// Song & Ermon 2019), and sampled by Langevin dynamics (annealed for ncsn).
#include <torch/arg.h>
#include <torch/nn/modules/container/any.h>

#include <string>
#include <vector>

#include "deepgen/core/progress.h"
#include "deepgen/nn/unet.h"
#include "deepgen/score/langevin.h"
#include "deepgen/train/model.h"

namespace deepgen::score {

// Defaults depend on the data: images (data_shape {C, H, W}, values in [0, 1]) follow NCSN's
// MNIST settings; points (data_shape {D}, raw units) follow its 2-D toy, whose data span ~10.
struct ScoreOptions {
  explicit ScoreOptions(std::vector<int64_t> data_shape = {1, 28, 28});
  TORCH_ARG(std::vector<int64_t>, data_shape);  // one sample, e.g. {1, 28, 28} or {2}
  TORCH_ARG(std::string, method) = "ncsn";      // esm-kde | dsm | ssm | ncsn
  // esm-kde: kernel width; dsm: noise std; ssm: noise added to the data first (0: clean data).
  TORCH_ARG(double, sigma) = 0.1;
  // ncsn: geometric ladder σ_1 > ... > σ_L (σ_1 about the data's largest pairwise distance).
  // Image runs fill sigma_begin, num_sigmas, steps_per_level and sample_eps left out by NCSNv2's
  // rules from the training set (score/ladder.h; the family's adapt records them in config.json).
  TORCH_ARG(double, sigma_begin);
  TORCH_ARG(double, sigma_end);
  TORCH_ARG(int64_t, num_sigmas) = 10;
  TORCH_ARG(std::vector<int64_t>, hidden) = std::vector<int64_t>{128, 128};  // points: MLP
  TORCH_ARG(std::string, activation) = "softplus";  // points: smooth, so ssm's Jacobian is too
  // images: unet (the VDM's U-Net, nn/unet.h, as an ε-network of the noised data) | small-unet
  // (NCSN's two-level U-Net, net.h: runs saved before the choice existed); unet(): its options,
  // whose channels small-unet reads as its two widths.
  TORCH_ARG(std::string, architecture) = "unet";
  TORCH_ARG(nn::UNetOptions, unet);
  TORCH_ARG(int64_t, ssm_slices) = 1;  // ssm: projections v per example
  // ncsn sampling: T steps per level with δ_i = sample_eps·σ_i²/σ_L² (langevin.h convention).
  TORCH_ARG(int64_t, steps_per_level) = 100;
  TORCH_ARG(double, sample_eps);
  // esm-kde / dsm / ssm sampling: plain Langevin with one step size at the trained σ.
  TORCH_ARG(int64_t, langevin_steps) = 1000;
  TORCH_ARG(double, step_size) = 1e-3;
  // ncsn sampling (sde.h): annealed (Langevin, above) | pc (reverse-SDE predictor–corrector)
  // | ode (probability flow), the last two on a geometric grid of sigma_steps steps σ_1 → σ_L
  // starting from the VE prior N(c, σ_1²I), c the centre of the annealed start box.
  TORCH_ARG(std::string, sampler) = "annealed";
  TORCH_ARG(int64_t, sigma_steps) = 100;
  TORCH_ARG(std::string, predictor) = "reverse-diffusion";  // pc: its predictor step (sde.h)
  TORCH_ARG(int64_t, corrector_steps) = 1;                  // pc: Langevin corrector steps per σ
  TORCH_ARG(double, snr) = 0.16;                            // pc: corrector signal-to-noise ratio r
  TORCH_ARG(std::string, ode_solver) = "heun";              // ode: euler | heun
  TORCH_ARG(bool, final_denoise) = true;  // Tweedie step x + σ²·s(x, σ) at the smallest σ
  TORCH_ARG(double, init_box) = 8.0;      // points: chains start uniform in [−b, b]^D
  // Class labels (issue 15): ncsn with the unet only; its U-Net embeds the class.
  TORCH_ARG(nn::Conditioning, condition);
};

// JSON of every option (saved in the run's config.json; the table is score/family.h's) and
// back; unknown keys are an error.
std::string to_json(const ScoreOptions& options);
ScoreOptions score_options_from_json(const std::string& json, std::vector<int64_t> data_shape);
// Each option's own checks, then the rules across options; errors name options `score.key`.
void validate(const ScoreOptions& options);
// The levels ncsn's test metric visits: every level of a ladder of at most 10, else 10 evenly
// spaced along it (indices round(i·(L − 1)/9)), both ends kept.
std::vector<double> evaluation_sigmas(const std::vector<double>& sigmas);
// The image U-Net's options: unet() with the data's shape.
nn::UNetOptions image_unet(const ScoreOptions& options);

std::vector<std::string> method_names();   // esm-kde, dsm, ssm, ncsn
std::vector<std::string> sampler_names();  // annealed, pc, ode

class ScoreModel : public train::GenerativeModel {
 public:
  // A score-matching method: its name, the metric it logs, and its objective on a batch.
  struct Method {
    std::string name, part;
    at::Tensor (ScoreModel::*objective)(const at::Tensor& x);
  };
  static const std::vector<Method>& methods();
  // A sampler: its name and how it draws n samples in model units (before any clamping).
  struct Sampler {
    std::string name;
    at::Tensor (ScoreModel::*draw)(int64_t n);
  };
  static const std::vector<Sampler>& samplers();
  explicit ScoreModel(ScoreOptions options);
  std::string name() const override { return "score"; }
  torch::nn::Module& module() override { return *net_.ptr(); }
  // The method's loss on a batch in data units (images (B, C, H, W) in [0, 1], points (B, D)).
  train::LossOutput loss(const at::Tensor& x) override;
  // The same loss on test data; ncsn averages every example over the levels of
  // evaluation_sigmas instead of one random level (lower variance) and also reports the
  // largest- and smallest-σ terms.
  train::LossOutput evaluate(const at::Tensor& x) override;
  bool gains_from_bf16() const override { return options_.data_shape().size() == 3; }  // U-Net
  // n samples in data units and shape by options().sampler; annealed: annealed Langevin (ncsn)
  // or Langevin at σ (the others) from U[0, 1] (images) or U[−init_box, init_box]^D (points);
  // images clamped to [0, 1].
  at::Tensor sample(int64_t n) override;
  // A conditional model's loss and test loss given the batch's labels (dropped to ∅ in training
  // with label_dropout), and its samples of given classes under guidance (BEYOND B5).
  train::LossOutput train_loss(const train::TrainBatch& batch) override;
  train::LossOutput test_loss(const train::TrainBatch& batch) override;
  int64_t classes() const override { return options_.condition().classes; }
  at::Tensor sample_classes(const at::Tensor& labels, double guidance) override;
  // ncsn only: annealed Langevin with replacement (inpaint.cpp, BEYOND B5), a conditional
  // model's of options.labels (undefined: ∅) under options.guidance; resample must be 1.
  std::string inpaint_blocker() const override;
  at::Tensor inpaint(const at::Tensor& x, const at::Tensor& mask,
                     const train::InpaintOptions& options) override;
  // s_θ(x, σ), sigma (B); a conditional model's for the current labels and guidance.
  at::Tensor score(const at::Tensor& x, const at::Tensor& sigma);
  // ncsn only: the VE process's probability-flow ODE with σ(t) = σ_L (σ_1/σ_L)^t continuous
  // (BEYOND B4), from x at σ_L (t = 0) to the prior N(c, σ_1² I) at t = 1; a conditional
  // model's score of the classes `labels` (one per row; undefined: ∅).
  std::string probability_flow_blocker() const override;
  train::ProbabilityFlow probability_flow(const at::Tensor& labels, double t0) override;
  const std::vector<double>& sigmas() const { return sigmas_; }  // ncsn ladder, else {σ}
  // esm-kde: the reference set of the kernel density (the training data, in data units). Kept
  // in memory only (not a buffer: checkpoints stay small); loss/evaluate throw until it is set.
  void set_kde_data(const at::Tensor& data) { kde_data_ = data; }
  void keep_training_data(const data::Dataset& train) override {
    if (options_.method() == "esm-kde") set_kde_data(train.values());
  }
  void set_progress(StepCallback callback) { progress_ = std::move(callback); }  // sampling
  const ScoreOptions& options() const { return options_; }

 private:
  at::Tensor method_loss(const at::Tensor& x);
  at::Tensor esm_kde_objective(const at::Tensor& x);
  at::Tensor dsm_objective(const at::Tensor& x);
  at::Tensor ssm_objective(const at::Tensor& x);
  at::Tensor ncsn_objective(const at::Tensor& x);
  const Method& method() const;
  std::string part_name() const;
  ScoreFn at_sigma(double sigma);
  NoiseScoreFn noise_score();
  std::vector<int64_t> sample_shape(int64_t n) const;
  at::Tensor box_start(int64_t n);
  at::Tensor prior_start(int64_t n);
  std::vector<double> sigma_grid() const;
  at::Tensor draw(int64_t n);  // by options().sampler, under the current condition
  at::Tensor annealed_samples(int64_t n);
  at::Tensor pc_samples(int64_t n);
  at::Tensor ode_samples(int64_t n);
  ScoreOptions options_;
  std::vector<double> sigmas_;
  torch::nn::AnyModule net_;
  at::Tensor kde_data_;
  // The condition score() applies: labels of the batch being trained, evaluated or sampled
  // (undefined: ∅) and the guidance weight; set only for the length of one such call.
  at::Tensor labels_;
  double guidance_ = 0.0;
  // Sets the condition score() applies for one call and clears it on any exit.
  struct ConditionScope {
    ConditionScope(ScoreModel& m, at::Tensor labels, double guidance) : m_(m) {
      m_.labels_ = std::move(labels);
      m_.guidance_ = guidance;
    }
    ~ConditionScope() {
      m_.labels_ = at::Tensor();
      m_.guidance_ = 0.0;
    }
    ConditionScope(const ConditionScope&) = delete;
    ConditionScope& operator=(const ConditionScope&) = delete;
    ScoreModel& m_;
  };
  StepCallback progress_ = [](int64_t done, int64_t total, const at::Tensor&) {
    report_progress("sample", done, total);  // to whoever listens (core/progress.h)
  };
};

}  // namespace deepgen::score

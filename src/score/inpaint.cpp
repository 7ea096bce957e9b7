// Replacement inpainting with annealed Langevin dynamics (Song et al. 2021, App. I; BEYOND B5):
// the loop, and ScoreModel's inpaint around it.
#include "deepgen/score/inpaint.h"

#include <torch/torch.h>

#include "deepgen/core/error.h"
#include "deepgen/score/model.h"

namespace deepgen::score {

namespace {

// The known values at noise level σ: x + σ z, fresh z; the rest of y as it is.
at::Tensor replace_known(const at::Tensor& y, const at::Tensor& x, const at::Tensor& known,
                         double sigma, const OptGenerator& gen) {
  return at::where(known, x + sigma * at::randn(x.sizes(), gen, x.options()), y);
}

}  // namespace

// Replacement before every step, not once per level: each step's score then sees known values
// drawn at its level, as p_σ(y_unknown | y_known) needs, and the chain at the last levels mixes
// towards p(x_unknown | x_known) as σ → 0 (a test checks this on a Gaussian).
at::Tensor annealed_langevin_inpaint(const at::Tensor& x0, const at::Tensor& x,
                                     const at::Tensor& mask, const NoiseScoreFn& score,
                                     const std::vector<double>& sigmas, int64_t steps_per_level,
                                     double eps, OptGenerator gen, bool final_denoise,
                                     const StepCallback& callback) {
  const at::Tensor known = mask.to(torch::kBool);
  const LevelProjection replace = [&](const at::Tensor& y, double sigma) {
    return replace_known(y, x, known, sigma, gen);
  };
  return at::where(known, x,
                   annealed_langevin(x0, score, sigmas, steps_per_level, eps, gen, final_denoise,
                                     callback, replace));
}

std::string ScoreModel::inpaint_blocker() const {
  if (options_.method() == "ncsn") return {};
  return "score: " + option_ref("score", "method") + " " + options_.method() +
         " learns the score at one noise level; inpainting anneals the noise of the known "
         "values, which needs " +
         option_ref("score", "method") + " ncsn";
}

// Annealed Langevin whatever options().sampler is: its steps are the ones replacement is
// defined for here (pc and ode are not). RePaint's resampling re-noises along a diffusion's
// schedule, which annealed Langevin does not step along, so it is refused.
at::Tensor ScoreModel::inpaint(const at::Tensor& x, const at::Tensor& mask,
                               const train::InpaintOptions& options) {
  if (!inpaint_blocker().empty()) throw Error(inpaint_blocker());
  train::check_inpaint_inputs("score", x, mask, options_.data_shape(), options, classes());
  if (options.resample != 1)
    throw Error(
        "score: RePaint's resampling is a diffusion schedule: use resample 1 for score "
        "runs (annealed Langevin already mixes at every level)");
  torch::NoGradGuard no_grad;
  const at::Tensor any = net_.ptr()->parameters().front();
  const at::Tensor xs = x.to(any.options()), ms = mask.to(any.device());
  const StepCallback progress = [](int64_t done, int64_t total, const at::Tensor&) {
    report_progress("inpaint", done, total);  // to whoever listens (core/progress.h)
  };
  const auto& o = options_;
  const ConditionScope condition(
      *this, options.labels.defined() ? options.labels.to(any.device()) : at::Tensor(),
      options.guidance);
  at::Tensor y = annealed_langevin_inpaint(box_start(x.size(0)), xs, ms, noise_score(), sigmas_,
                                           o.steps_per_level(), o.sample_eps(), c10::nullopt,
                                           o.final_denoise(), progress);
  if (o.data_shape().size() == 3) y = y.clamp(0, 1);  // as sample() clamps images
  return at::where(ms.to(torch::kBool), x.to(any.device()), y.to(x.dtype()));  // x exactly
}

}  // namespace deepgen::score

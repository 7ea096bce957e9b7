// Replacement inpainting (Song et al. 2021; BEYOND B5) with RePaint's resampling (Lugmayr et al.
// 2022): the loop in model space, and VdmImpl / VdmModel's inpaint around it.
#include "deepgen/diffusion/inpaint.h"

#include <torch/torch.h>

#include "deepgen/core/progress.h"
#include "deepgen/diffusion/model.h"
#include "deepgen/diffusion/vdm.h"

namespace deepgen::diffusion {

namespace {

// BEYOND B5: the known values of z set to α_s f + σ_s ε (MATH 2a), the rest left as they are.
at::Tensor replace_known(const at::Tensor& z, const at::Tensor& f, const at::Tensor& known,
                         const at::Tensor& gamma, const at::Tensor& eps) {
  const Normal q = forward_marginal(f, per_example(gamma, z));
  return at::where(known, q.mean + q.var.sqrt() * eps, z);
}

// RePaint: one draw of q(z_t|z_s) = N((α_t/α_s) z_s, σ_t² − (α_t/α_s)² σ_s²) (MATH 2c), which
// takes the state back up one step so that the next take sees known and unknown values that
// have passed through the model together.
at::Tensor renoise(const at::Tensor& z_s, const at::Tensor& gamma_s, const at::Tensor& gamma_t,
                   at::Generator& gen) {
  const Normal q = transition(z_s, per_example(gamma_s, z_s), per_example(gamma_t, z_s));
  return q.mean + q.var.sqrt() * standard_normal_like(z_s, gen);
}

}  // namespace

// The step is the ancestral one whatever sampler the run uses: replacement puts fresh noise into
// the known values at every level, and only a stochastic step lets the unknown values absorb it
// (a deterministic ODE step would carry the mismatch to z_0). Its noise at a known position is
// spent on nothing else (the step's value there is replaced), so it serves as the fresh ε of the
// replacement: an all-unknown mask then draws exactly what sample() draws.
at::Tensor inpaint_loop(const EpsFn& eps, const at::Tensor& gammas, at::Tensor z,
                        const at::Tensor& f, const at::Tensor& mask, int64_t resample,
                        at::Generator& gen, const std::function<void(int64_t, int64_t)>& on_step) {
  const int64_t steps = gammas.size(0) - 1, b = z.size(0);
  const at::Tensor known = mask.to(torch::kBool);
  z = replace_known(z, f, known, gammas[steps].expand({b}), z);  // z_1's own draw is fresh there
  int64_t done = 0;
  for (int64_t i = steps; i >= 1; --i) {
    const at::Tensor gamma_t = gammas[i].expand({b}), gamma_s = gammas[i - 1].expand({b});
    for (int64_t take = 1; take <= resample; ++take) {
      const at::Tensor eps_hat = eps(z, gamma_t);
      const at::Tensor noise = standard_normal_like(z, gen);
      const at::Tensor z_s = replace_known(ancestral_step(z, eps_hat, gamma_t, gamma_s, noise), f,
                                           known, gamma_s, noise);
      if (on_step) on_step(++done, steps * resample);
      z = take < resample ? renoise(z_s, gamma_s, gamma_t, gen) : z_s;
    }
  }
  return z;
}

at::Tensor VdmImpl::inpaint(const at::Tensor& x, const at::Tensor& mask, int64_t steps,
                            int64_t resample, const at::Tensor& labels, double guidance) {
  torch::NoGradGuard no_grad;
  const auto opts = schedule_->gamma0().options();
  auto gen = at::detail::getDefaultCPUGenerator();
  const at::Tensor x_here = x.to(opts.device()), known = mask.to(opts.device()).to(torch::kBool);
  auto z_1 = at::randn(x.sizes(), gen, opts.device(torch::kCPU)).to(opts.device());
  const auto gammas = sampling_gammas(schedule_, options_.sample_grid, steps);
  const at::Tensor y = labels.defined() ? labels.to(opts.device()) : labels;
  const EpsFn eps = [this, &y, guidance](const at::Tensor& z, const at::Tensor& g) {
    return this->eps(z, g, y, guidance);
  };
  const auto progress = [](int64_t done, int64_t total) {
    report_progress("inpaint", done, total);  // to whoever listens (core/progress.h)
  };
  const at::Tensor f = to_model_space(x_here).to(z_1.dtype());
  const at::Tensor out =
      from_model_space(inpaint_loop(eps, gammas, z_1, f, known, resample, gen, progress));
  return at::where(known, x_here, out.to(x_here.dtype()));  // the known values exactly
}

std::string VdmModel::inpaint_blocker() const { return {}; }

at::Tensor VdmModel::inpaint(const at::Tensor& x, const at::Tensor& mask,
                             const train::InpaintOptions& options) {
  const VdmOptions& o = vdm_->options();
  train::check_inpaint_inputs("vdm", x, mask, o.data_shape, options, classes());
  return vdm_->inpaint(x, mask, o.sample_steps, options.resample, options.labels, options.guidance);
}

}  // namespace deepgen::diffusion

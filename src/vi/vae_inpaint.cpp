// Pseudo-Gibbs imputation with a VAE (Rezende et al. 2014, App. F; BEYOND B5): alternate
// z ~ q(z|x) and x ~ p(x|z), keeping the known values of x fixed.
#include <torch/torch.h>

#include "deepgen/core/error.h"
#include "deepgen/core/progress.h"
#include "deepgen/vi/vae.h"

namespace deepgen::vi {

namespace {

bool is_image(const std::vector<int64_t>& shape) { return shape.size() == 3; }

// One draw x ~ p(x|z) from the decoder's output: Gaussian mean + σε, Bernoulli 0/1 values, or
// the discretised logistic's 8-bit value (μ + s·logit(u), rounded to a bin; the edge bins take
// the tails, as in its likelihood). Images stay in [0, 1], the data's range.
at::Tensor draw_data(VaeImpl& vae, const at::Tensor& decoded) {
  const VaeOptions& o = vae.options();
  if (o.likelihood() == "bernoulli") return at::bernoulli(torch::sigmoid(decoded));
  if (o.likelihood() == "logistic") {
    auto [m, log_scale] = split_logistic(decoded);
    const at::Tensor u = torch::rand_like(m).clamp(1e-6, 1 - 1e-6);
    const at::Tensor v = m + log_scale.exp() * (u.log() - (-u).log1p());
    return (v * 255.0).round().clamp(0, 255) / 255.0;
  }
  const at::Tensor x = decoded + vae.log_sigma().exp() * torch::randn_like(decoded);
  return is_image(o.data_shape()) ? x.clamp(0, 1) : x;
}

}  // namespace

std::string VaeModel::inpaint_blocker() const {
  if (!vae_->amortized())
    return "vae: a model trained with " + option_ref("vae", "inference") + " " +
           vae_->options().inference() +
           " has no encoder, and pseudo-Gibbs inpainting draws z ~ q(z|x) from one: train with " +
           option_ref("vae", "inference") + " amortized";
  if (classes() > 0)
    return "vae: a conditional vae run's q(z|x,y) needs each image's class, which inpainting is "
           "not given: inpaint with an unconditional run";
  return {};
}

// The unknown values start at the data's centre (0.5 for images, 0 for points); each round
// draws z ~ q(z|x_filled), then x' ~ p(x|z) and fills the unknown values from x'. The last round
// fills them with the decoder's mean instead (sample()'s picture of p(x|z), without its noise).
// With q the exact posterior this is Gibbs sampling of p(z, x_unknown | x_known); with an encoder
// it is the approximation Rezende et al. call pseudo-Gibbs.
at::Tensor VaeModel::inpaint(const at::Tensor& x, const at::Tensor& mask,
                             const train::InpaintOptions& options) {
  if (!inpaint_blocker().empty()) throw Error(inpaint_blocker());
  const VaeOptions& o = vae_->options();
  train::check_inpaint_inputs("vae", x, mask, o.data_shape(), options);
  torch::NoGradGuard no_grad;
  const at::Tensor any = vae_->parameters().front();
  const at::Tensor xs = x.to(any.device()), known = mask.to(any.device()).to(torch::kBool);
  at::Tensor filled = at::where(known, xs, is_image(o.data_shape()) ? 0.5 : 0.0).to(any.dtype());
  for (int64_t round = 1; round <= options.gibbs_steps; ++round) {
    auto [mu, logvar] = vae_->encode(filled);
    const at::Tensor z = mu + (0.5 * logvar).exp() * torch::randn_like(mu);
    const at::Tensor decoded = vae_->decode(z);
    const at::Tensor drawn =
        round < options.gibbs_steps ? draw_data(*vae_, decoded) : vae_->mean_image(decoded);
    filled = at::where(known, xs.to(drawn.dtype()), drawn);
    report_progress("inpaint", round, options.gibbs_steps);  // to whoever listens
  }
  return at::where(known, xs, filled.to(xs.dtype()));  // the known values exactly
}

}  // namespace deepgen::vi

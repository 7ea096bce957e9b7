// Imputation with a VAE (BEYOND B5): alternate z ~ q(z|x) and x ~ p(x|z), keeping the known
// values of x fixed — pseudo-Gibbs (Rezende et al. 2014, App. F), or with a Metropolis-Hastings
// test on each z (Mattei & Frellsen 2018, Alg. 1), which makes the chain's target the model's
// own p(z, x_unknown | x_known) whatever the encoder's error.
#include <torch/torch.h>

#include <optional>
#include <tuple>
#include <vector>

#include "deepgen/core/error.h"
#include "deepgen/core/progress.h"
#include "deepgen/vi/gaussian.h"
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

// The chain's state per example: z, the decoder's output at z, and log p(z) (with `latents`,
// the one-draw estimate of log p(h1) that log_prior_over_upper_q gives, kept with z, so the
// Metropolis test is pseudo-marginal and still exact, Andrieu & Roberts 2009).
struct LatentState {
  at::Tensor z, decoded, log_prior;
};

// z ~ N(mu, e^logvar) and its state; `labels`: a conditional model's classes (p(x|z, y)). Only
// the Metropolis chain reads log p(z) (with `latents` an MLP pass per layer): `with_prior`.
LatentState propose(VaeImpl& vae, const at::Tensor& mu, const at::Tensor& logvar,
                    const at::Tensor& labels, bool with_prior) {
  const at::Tensor z = mu + (0.5 * logvar).exp() * torch::randn_like(mu);
  return {z, vae.decode(z, labels), with_prior ? vae.log_prior_over_upper_q(z) : at::Tensor()};
}

// The rows of `a` where `accept`, else those of `b`.
at::Tensor pick(const at::Tensor& accept, const at::Tensor& a, const at::Tensor& b) {
  std::vector<int64_t> rows(static_cast<size_t>(a.dim()), 1);
  rows[0] = -1;
  return at::where(accept.view(rows), a, b);
}

// Metropolis-Hastings on p(z | x_known) ∝ p(x_known|z) p(z) (Mattei & Frellsen 2018). The
// decoders factorise over the values, so x_unknown integrates out of the target, and the chain
// does not wait for z and a drawn x_unknown to let go of each other (Gibbs over both hardly
// moves when the decoder is sharp). The proposal is independent of the state, the encoder at one
// filled image x̂, z' ~ q(z'|x̂), accepted with probability min(1, w(z') / w(z)),
// w = p(x_known|z) p(z) / q(z|x̂) (an encoder fed the chain's own fill would need q(z|x̂(z'))
// for the way back, which a sharp encoder makes vanish).
struct IndependenceChain {
  VaeImpl& vae;
  const at::Tensor& x;
  const at::Tensor& known;
  const at::Tensor& labels;
  at::Tensor mu, logvar;  // q(z|x̂)

  IndependenceChain(VaeImpl& v, const at::Tensor& x_, const at::Tensor& known_,
                    const at::Tensor& labels_, const at::Tensor& filled)
      : vae(v), x(x_), known(known_), labels(labels_) {
    std::tie(mu, logvar) = vae.encode(filled, labels);
  }
  at::Tensor log_weight(const LatentState& s) const {
    return vae.log_likelihood(x, s.decoded, known) + s.log_prior -
           gaussian_log_prob(s.z, mu, logvar).sum(1);
  }
  LatentState start() const { return propose(vae, mu, logvar, labels, true); }
  LatentState step(const LatentState& current) const {
    const LatentState next = propose(vae, mu, logvar, labels, true);
    const at::Tensor log_ratio = log_weight(next) - log_weight(current);
    const at::Tensor accept = torch::rand_like(log_ratio).log() < log_ratio;
    return {pick(accept, next.z, current.z), pick(accept, next.decoded, current.decoded),
            pick(accept, next.log_prior, current.log_prior)};
  }
};

}  // namespace

std::string VaeModel::inpaint_blocker() const {
  if (!vae_->amortized())
    return "vae: a model trained with " + option_ref("vae", "inference") + " " +
           vae_->options().inference() +
           " has no encoder, and inpainting draws z ~ q(z|x) from one: train with " +
           option_ref("vae", "inference") + " amortized";
  return {};
}

// The unknown values start at the data's centre (0.5 for images, 0 for points). Pseudo-Gibbs
// rounds draw z ~ q(z|x_filled), then x' ~ p(x|z) into the unknown values (with the exact
// posterior as q, Gibbs sampling of p(z, x_unknown | x_known); with an encoder, Rezende et al.'s
// approximation of it). metropolis takes the first half of the rounds so, to find a digit-like
// fill x̂ (the decoder's mean at the last z) for the encoder, and the second half as the
// independence chain above on q(z|x̂), whose target is the model's own p(z | x_known) whatever
// the encoder's error. The completion is the decoder's mean at the last z (sample()'s picture of
// p(x|z), without its noise).
at::Tensor VaeModel::inpaint(const at::Tensor& x, const at::Tensor& mask,
                             const train::InpaintOptions& options) {
  if (!inpaint_blocker().empty()) throw Error(inpaint_blocker());
  const VaeOptions& o = vae_->options();
  train::check_inpaint_inputs("vae", x, mask, o.data_shape(), options, classes());
  if (classes() > 0 && !options.labels.defined())
    throw Error(
        "vae: a conditional vae's q(z|x,y) and p(x|z,y) need each image's class: give "
        "it (inpaint --class K|NAME)");
  torch::NoGradGuard no_grad;
  const at::Tensor any = vae_->parameters().front();
  const at::Tensor y = options.labels.defined() ? options.labels.to(any.device()) : at::Tensor();
  const at::Tensor xs = x.to(any.device()).to(any.dtype());
  const at::Tensor known = mask.to(any.device()).to(torch::kBool);
  at::Tensor filled = at::where(known, xs, is_image(o.data_shape()) ? 0.5 : 0.0);
  LatentState state;
  const int64_t warm = options.metropolis ? (options.gibbs_steps + 1) / 2 : options.gibbs_steps;
  std::optional<IndependenceChain> chain;
  for (int64_t round = 1; round <= options.gibbs_steps; ++round) {
    if (round <= warm) {
      if (round > 1) filled = at::where(known, xs, draw_data(*vae_, state.decoded));
      const auto [mu, logvar] = vae_->encode(filled, y);
      state = propose(*vae_, mu, logvar, y, false);
    } else if (!chain) {
      chain.emplace(*vae_, xs, known, y, at::where(known, xs, vae_->mean_image(state.decoded)));
      state = chain->start();
    } else {
      state = chain->step(state);
    }
    report_progress("inpaint", round, options.gibbs_steps);  // to whoever listens
  }
  const at::Tensor completed = at::where(known, xs, vae_->mean_image(state.decoded).to(xs.dtype()));
  return at::where(known, x.to(any.device()), completed.to(x.dtype()));  // known: exact
}

}  // namespace deepgen::vi

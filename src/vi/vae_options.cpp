// VaeOptions declared once: config.json's model_options of a vae run, its flags and checks.
#include "deepgen/core/error.h"
#include "deepgen/core/options.h"
#include "deepgen/nn/condition.h"
#include "deepgen/nn/mlp.h"
#include "deepgen/vi/family.h"

namespace deepgen::vi {

namespace {

OptionTable<VaeOptions> make_table() {
  OptionTable<VaeOptions> t("vae");
  using O = VaeOptions;
  t.add("hidden", &O::hidden, "Hidden layer sizes of the encoder and decoder MLPs").min(1);
  t.add("latent", &O::latent, "Latent dimensions (one stochastic layer)").min(1);
  t.add("latents", &O::latents,
        "Two or more stochastic layers' sizes, x's first, e.g. 100,50 (Burda et al. 2016 §5; "
        "replaces latent; amortized only)")
      .min(1);
  t.add("hidden2", &O::hidden2,
        "latents: hidden layer sizes between consecutive stochastic layers (q up, p mirrored)")
      .min(1);
  t.add("activation", &O::activation, "Activation of the MLPs").choices(nn::activation_names());
  t.add("likelihood", &O::likelihood,
        "Decoder p(x|z): gaussian (a density) | bernoulli (binarised pixels) | logistic "
        "(discretised per pixel: 8-bit images, bounds also in bits/dim)")
      .choices({"gaussian", "bernoulli", "logistic"});
  t.add("sigma", &O::sigma, "gaussian: fixed decoder std (0: one learned σ)").min(0);
  t.add("sigma_init", &O::sigma_init, "gaussian: the learned σ's start").greater(0);
  t.add("mean_activation", &O::mean_activation, "gaussian: the decoder mean's output")
      .choices({"sigmoid", "identity"});
  t.add("beta", &O::beta, "Weight of the ELBO's KL term").min(0);
  t.add("binarize", &O::binarize,
        "bernoulli targets: dynamic (x ~ Bernoulli(pixel) per batch) | threshold | none (grey "
        "levels as soft targets)")
      .choices({"dynamic", "threshold", "none"});
  t.add("architecture", &O::architecture, "mlp, or conv (images: 4x4 stride-2 stages)")
      .flag("arch")
      .choices({"mlp", "conv"});
  t.add("conv_channels", &O::conv_channels, "conv: channels per stage").min(1);
  t.add("inference", &O::inference,
        "amortized (encoder) | svi (per-example q, minibatches) | full (per-example q, the whole "
        "set per step: variational EM)")
      .choices({"amortized", "svi", "full"});
  t.add("num_points", &O::num_points, "svi / full: rows of the per-example q table")
      .internal()
      .min(0);
  t.add("local_lr", &O::local_lr, "svi / full: Adam rate of the per-example q").greater(0);
  t.add("objective", &O::objective, "Training bound").choices({"elbo", "iwae"});
  t.add("k", &O::k, "Samples per example (the IWAE's K; elbo: averaged)").min(1);
  t.add("kl_warmup", &O::kl_warmup, "Steps over which the KL weight rises linearly to beta").min(0);
  // Sohn et al.'s CVAE has neither the null class nor guidance: only conditional and classes.
  nn::add_condition_options(
      t, [](VaeOptions& o) -> nn::Conditioning& { return o.condition(); }, false);
  auto eval = [](auto member) {
    return [member](VaeOptions & o) -> auto& { return o.eval().*member; };
  };
  using E = VaeEvalOptions;
  const unsigned ev = kTrain | kEval;
  t.add_with<int64_t>("iwae_k", eval(&E::iwae_k), "Also the IWAE bound with K samples (0: none)")
      .min(0)
      .commands(ev);
  t.add_with<int64_t>("iwae_rows", eval(&E::iwae_rows), "Decoder rows per IWAE chunk (memory)")
      .min(1)
      .commands(ev);
  t.add_with<bool>("amortization_gap", eval(&E::amortization_gap),
                   "Also the ELBO after fitting q per test point minus the encoder's")
      .commands(ev);
  t.add_with<int64_t>("gap_samples", eval(&E::gap_samples), "Samples of each ELBO of the gap")
      .min(1)
      .commands(ev);
  t.add_with<int64_t>("refine_steps", eval(&E::refine_steps),
                      "Adam steps fitting q per test point (svi / full, and the gap)")
      .min(0)
      .commands(ev);
  t.add_with<double>("refine_lr", eval(&E::refine_lr), "Their learning rate")
      .greater(0)
      .commands(ev);
  return t;
}

void check_shape(const VaeOptions& o) {
  if (o.data_shape().empty() || c10::multiply_integers(o.data_shape()) <= 0)
    throw Error("vae: empty data shape");
  if (o.architecture() == "conv" && o.data_shape().size() != 3)
    throw Error("vae: " + option_ref("vae", "architecture") +
                " conv needs image data; use mlp for points");
  if (o.likelihood() == "logistic" && o.data_shape().size() != 3)
    throw Error("vae: " + option_ref("vae", "likelihood") +
                " logistic models 8-bit image pixels, not points: use " +
                option_ref("vae", "likelihood") + " gaussian");
}

// Per-example q (ψ_i) and its refinement hold one Gaussian per point: no q(h2|h1) above it.
void check_layers(const VaeOptions& o) {
  if (o.latents().empty()) return;
  const std::string latents = option_ref("vae", "latents");
  if (o.latents().size() == 1)
    throw Error("vae: " + latents + " lists two or more stochastic layers; one layer of size " +
                std::to_string(o.latents()[0]) + " is " + option_ref("vae", "latent") + " " +
                std::to_string(o.latents()[0]));
  if (o.inference() != "amortized")
    throw Error("vae: " + latents + " needs encoders for the layers above h1, so only " +
                option_ref("vae", "inference") + " amortized, not " + o.inference() + ": drop " +
                latents + " for per-example q");
  if (o.eval().amortization_gap)
    throw Error("vae: " + option_ref("vae", "amortization_gap") +
                " refits a one-layer q per test point, and this model has " + latents +
                ": drop one of them");
}

// The CVAE's y enters q through the encoder: a per-example ψ_i would be a q(z|x_i) without it.
void check_condition(const VaeOptions& o) {
  nn::validate(o.condition(), "vae");
  if (o.condition().conditional && o.inference() != "amortized")
    throw Error("vae: " + option_ref("vae", "conditional") + " needs the encoder q(z|x,y) of " +
                option_ref("vae", "inference") + " amortized, not " + o.inference() +
                ": drop one of them");
}

void check_inference(const VaeOptions& o) {
  if (o.inference() != "amortized" && o.num_points() <= 0)
    throw Error("vae: " + option_ref("vae", "inference") + " " + o.inference() +
                " keeps one q per training example and needs " + option_ref("vae", "num_points") +
                " (the training-set size)");
  if (o.eval().amortization_gap && o.inference() != "amortized")
    throw Error("vae: " + option_ref("vae", "amortization_gap") +
                " compares an encoder with per-example q, but this run was trained with " +
                option_ref("vae", "inference") + " " + o.inference() + " and has no encoder");
  if (o.objective() == "iwae" && (o.beta() != 1.0 || o.kl_warmup() > 0))
    throw Error("vae: " + option_ref("vae", "beta") + " and " + option_ref("vae", "kl_warmup") +
                " weight the ELBO's KL term, which the IWAE bound does not have: drop them or "
                "use " +
                option_ref("vae", "objective") + " elbo");
}

}  // namespace

const OptionTable<VaeOptions>& vae_option_table() {
  static const OptionTable<VaeOptions> table = make_table();
  return table;
}

void validate(const VaeOptions& o) {
  vae_option_table().validate(o);
  check_shape(o);
  check_inference(o);
  check_layers(o);
  check_condition(o);
}

std::vector<int64_t> latent_sizes(const VaeOptions& o) {
  return o.latents().empty() ? std::vector<int64_t>{o.latent()} : o.latents();
}

std::string to_json(const VaeOptions& o) { return vae_option_table().to_json(o).dump(); }

VaeOptions vae_options_from_json(const std::string& text, std::vector<int64_t> data_shape) {
  VaeOptions o = vae_option_table().parse(VaeOptions(std::move(data_shape)), text);
  validate(o);
  return o;
}

}  // namespace deepgen::vi

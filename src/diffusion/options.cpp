// VdmOptions declared once: config.json's model_options of a vdm run, its flags and checks.
// The schedule's and the ε-network's options sit in the same flat table (one namespace of
// flags for the user), each pointing into its nested struct.
#include "deepgen/core/options.h"

#include "deepgen/core/error.h"
#include "deepgen/diffusion/family.h"
#include "deepgen/diffusion/sampler.h"
#include "deepgen/diffusion/weighting.h"
#include "deepgen/nn/unet_options.h"

namespace deepgen::diffusion {

bool is_image(const VdmOptions& o) { return o.data_shape.size() == 3; }

namespace {

OptionTable<VdmOptions> make_table() {
  OptionTable<VdmOptions> t("vdm");
  using O = VdmOptions;
  auto schedule = [](auto accessor) {
    return [accessor](VdmOptions & o) -> auto& { return (o.schedule.*accessor)(); };
  };
  auto net = [](auto member) {
    return [member](VdmOptions & o) -> auto& { return o.net.*member; };
  };
  using S = ScheduleOptions;
  using N = EpsNetOptions;
  using Text = std::string;
  t.add_with<Text>("schedule", schedule(static_cast<Text& (S::*)() noexcept>(&S::kind)),
                   "γ(t) = −log SNR(t): fixed (linear) | learned_linear | learned_net (monotone)")
      .flag("gamma-schedule")
      .choices(schedule_kinds());
  t.add_with<double>("gamma_min", schedule(static_cast<double& (S::*)() noexcept>(&S::gamma_min)),
                     "γ(0) = −log SNR_max (learned schedules: its start)");
  t.add_with<double>("gamma_max", schedule(static_cast<double& (S::*)() noexcept>(&S::gamma_max)),
                     "γ(1) = −log SNR_min (learned schedules: its start)");
  t.add_with<int64_t>("schedule_hidden",
                      schedule(static_cast<int64_t& (S::*)() noexcept>(&S::hidden)),
                      "learned_net: width of the monotone network's hidden layer")
      .min(1);
  t.add("variance_trick", &O::variance_trick,
        "learned_net: train the schedule's shape to minimise the loss variance (VDM App. I.2)");
  t.add("T", &O::T, "Diffusion steps of the loss L_T (0: the continuous-time L_∞)")
      .min(0)
      .commands(kTrain | kEval);
  t.add("antithetic", &O::antithetic, "Low-discrepancy times t in a batch (VDM App. I.1)");
  t.add("prediction", &O::prediction,
        "What the network outputs: eps (ε̂) | x (x̂) | v (α ε − σ x); each mapped to ε̂")
      .choices({"eps", "x", "v"});
  t.add("weighting", &O::weighting,
        "Training objective's w(ℓ), ℓ = log SNR: elbo (w = 1, the bound) | sigmoid | edm "
        "(Kingma & Gao 2023); the reported bpd is the bound in every case")
      .choices(weighting_names());
  t.add("weighting_bias", &O::weighting_bias, "sigmoid: b of w(ℓ) = sigmoid(b − ℓ)");
  t.add("proposal", &O::proposal,
        "Training density of ℓ: uniform | weighting (p ∝ w); losses are divided by it")
      .choices(proposal_names());
  t.add_with<Text>("architecture", net(&N::architecture), "ε-network: unet (images) | mlp (points)")
      .flag("arch")
      .choices({"unet", "mlp"});
  nn::add_unet_options(t, [](VdmOptions& o) -> nn::UNetOptions& { return o.net; });
  t.add_with<int64_t>("hidden", net(&N::hidden), "mlp: width").min(1);
  t.add_with<int64_t>("layers", net(&N::layers), "mlp: residual blocks").min(1);
  nn::add_condition_options(t, [](VdmOptions& o) -> nn::Conditioning& { return o.condition; });
  const unsigned all = kTrain | kSample | kEval;  // eval draws samples of points too
  t.add("sampler", &O::sampler,
        "Sampler of the run's samples: ancestral and dpmpp2m-sde (stochastic); ODE solvers of "
        "order 1 (ddim), 2 (dpm2, heun, dpmpp2m: 2+ steps) and 3 (dpm3)")
      .choices(sampler_names())
      .commands(all);
  t.add("sample_steps", &O::sample_steps, "Sampling steps")
      .min(1)
      .commands(all)
      .flag_for(kSample | kEval, "steps");
  t.add("sample_grid", &O::sample_grid,
        "Sampling steps uniform in t (t) or in η = −γ/2 (eta; the same for a fixed schedule)")
      .choices(sampling_grids())
      .commands(all);
  t.add("eval_samples", &O::eval_samples, "(t, ε) draws per test example, averaged")
      .min(1)
      .commands(kTrain | kEval);
  t.add("data_mean", &O::data_mean, "points: per-dimension mean of the training set").internal();
  t.add("data_std", &O::data_std, "points: per-dimension std of the training set")
      .internal()
      .greater(0);
  return t;
}

void check_points(const VdmOptions& o) {
  const size_t d = static_cast<size_t>(o.data_shape[0]);
  if ((!o.data_mean.empty() && o.data_mean.size() != d) ||
      (!o.data_std.empty() && o.data_std.size() != d))
    throw Error("vdm: " + option_ref("vdm", "data_mean") + " and " + option_ref("vdm", "data_std") +
                " need one entry per dimension (" + std::to_string(d) + ")");
}

}  // namespace

const OptionTable<VdmOptions>& vdm_option_table() {
  static const OptionTable<VdmOptions> table = make_table();
  return table;
}

void validate(const VdmOptions& o) {
  vdm_option_table().validate(o);
  if (o.data_shape.empty()) throw Error("vdm: empty data shape");
  for (int64_t d : o.data_shape)
    if (d <= 0) throw Error("vdm: data shape entries must be positive");
  const std::string arch = option_ref("vdm", "architecture");
  if (is_image(o) && o.net.architecture != "unet")
    throw Error("vdm: images need " + arch + " unet");
  if (!is_image(o) && o.net.architecture != "mlp") throw Error("vdm: points need " + arch + " mlp");
  if (!is_image(o)) check_points(o);
  check_sampler(o.sampler, o.sample_steps);
  validate(o.schedule);
  if ((o.weighting != "elbo" || o.proposal != "uniform") &&
      (o.schedule.kind() != "fixed" || o.T != 0))
    throw Error("vdm: " + option_ref("vdm", "weighting") + " " + o.weighting + " with " +
                option_ref("vdm", "proposal") + " " + o.proposal + " needs " +
                option_ref("vdm", "schedule") + " fixed and " + option_ref("vdm", "T") +
                " 0 (a weighted loss is not a bound, so it cannot train the schedule)");
  nn::validate(o.condition, "vdm");
  EpsNetOptions net = o.net;
  net.data_shape = o.data_shape;
  validate(net);
}

std::string to_json(const VdmOptions& o) { return vdm_option_table().to_json(o).dump(); }

VdmOptions vdm_options_from_json(const std::string& text, std::vector<int64_t> data_shape) {
  VdmOptions o;
  o.data_shape = std::move(data_shape);
  if (!is_image(o)) o.net.architecture = "mlp";
  o = vdm_option_table().parse(std::move(o), text);
  validate(o);
  return o;
}

}  // namespace deepgen::diffusion

// Model names -> families. The only place that knows every family.
#include "app.h"
#include "deepgen/core/error.h"
#include "deepgen/diffusion/model.h"
#include "deepgen/score/model.h"
#include "deepgen/vi/vae.h"

namespace deepgen::cli {

std::vector<std::string> model_names() { return {"vae", "vdm", "score"}; }

namespace {

[[noreturn]] void unknown_model(const std::string& name) {
  std::string names;
  for (const auto& n : model_names()) names += (names.empty() ? "" : ", ") + n;
  throw Error("unknown model '" + name + "': available models are " + names);
}

vi::VaeOptions vae_options(const RunConfig& c) {
  vi::VaeOptions o = vi::vae_options_from_json(c.model_options.dump(), c.data_shape);
  if (c.data_shape.size() != 3 && !c.model_options.contains("mean_activation"))
    o.mean_activation("identity");  // points are unbounded: no sigmoid on the mean
  return o;
}

score::ScoreOptions score_options(const RunConfig& c) {
  return score::score_options_from_json(c.model_options.dump(), c.data_shape);
}

diffusion::VdmOptions vdm_options(const RunConfig& c) {
  return diffusion::vdm_options_from_json(c.model_options.dump(), c.data_shape);
}

// Points are standardised inside the VDM (its schedule assumes data of about unit scale); the
// statistics come from the training set and are recorded in config.json.
void fill_standardisation(nlohmann::json& options, const data::Dataset& train) {
  if (train.kind != data::Kind::points || options.contains("data_mean")) return;
  auto mean = train.x.mean(0).to(torch::kDouble).contiguous();
  auto std = train.x.std(0).clamp_min(1e-6).to(torch::kDouble).contiguous();
  options["data_mean"] =
      std::vector<double>(mean.data_ptr<double>(), mean.data_ptr<double>() + mean.numel());
  options["data_std"] =
      std::vector<double>(std.data_ptr<double>(), std.data_ptr<double>() + std.numel());
}

}  // namespace

nlohmann::json resolved_model_options(const RunConfig& c) {
  if (c.model == "vae") return nlohmann::json::parse(vi::to_json(vae_options(c)));
  if (c.model == "vdm") return nlohmann::json::parse(diffusion::to_json(vdm_options(c)));
  if (c.model == "score") return nlohmann::json::parse(score::to_json(score_options(c)));
  unknown_model(c.model);
}

std::unique_ptr<train::GenerativeModel> make_model(const RunConfig& c) {
  if (c.model == "vae") return std::make_unique<vi::VaeModel>(vae_options(c));
  if (c.model == "vdm") return std::make_unique<diffusion::VdmModel>(vdm_options(c));
  if (c.model == "score") return std::make_unique<score::ScoreModel>(score_options(c));
  unknown_model(c.model);
}

void adapt_to_data(RunConfig& c, const data::Dataset& train) {
  c.data_shape = train.sample_shape();
  if (c.model == "vae") {
    const std::string inference = c.model_options.value("inference", "amortized");
    if (inference != "amortized") c.model_options["num_points"] = train.size();
    if (inference == "full") c.train.batch = train.size();  // variational EM: all data per step
  }
  if (c.model == "vdm") fill_standardisation(c.model_options, train);
  c.model_options = resolved_model_options(c);
}

void attach_data(train::GenerativeModel& model, const data::Dataset& train) {
  auto* s = dynamic_cast<score::ScoreModel*>(&model);
  if (s && s->options().method() == "esm-kde") s->set_kde_data(train.x);  // q(x) of MATH 3.2a
}

std::string metric_units(const RunConfig& c) {
  if (c.model == "vdm") return "bits per dimension (bpd: the negative ELBO / (D ln 2))";
  if (c.model == "score")
    return "score-matching loss (a divergence up to a constant, not a likelihood)";
  return "nats per example";
}

nlohmann::json configure_sampling(train::GenerativeModel& model, const std::string& sampler,
                                  int64_t steps) {
  auto* vdm = dynamic_cast<diffusion::VdmModel*>(&model);
  if (!vdm) {
    if (!sampler.empty() || steps > 0)
      throw Error("--sampler and --steps apply to vdm runs, not " + model.name());
    return nullptr;
  }
  if (!sampler.empty()) vdm->sampler = sampler;
  if (steps > 0) vdm->sample_steps = steps;
  if (steps < 0) throw Error("--steps must be >= 1");
  diffusion::VdmOptions check = vdm->vdm()->options();
  check.sampler = vdm->sampler;
  check.sample_steps = vdm->sample_steps;
  diffusion::validate(check);  // names a bad --sampler
  return {{"sampler", vdm->sampler}, {"steps", vdm->sample_steps}};
}

void configure_evaluation(train::GenerativeModel& model, const EvalRequest& r) {
  if (r.eval_samples < 0) throw Error("--eval-samples must be >= 1");
  if (r.T < -1) throw Error("--T must be >= 0 (0: the continuous-time bound)");
  if (auto* vdm = dynamic_cast<diffusion::VdmModel*>(&model)) {
    if (r.eval_samples > 0) vdm->eval_samples = r.eval_samples;
    vdm->eval_T = r.T;
  } else if (r.eval_samples > 0 || r.T >= 0) {
    throw Error("--eval-samples and --T apply to vdm runs, not " + model.name());
  }
  auto* vae = dynamic_cast<vi::VaeModel*>(&model);
  const bool extras =
      r.iwae_k != 0 || r.amortization_gap || r.refine_steps >= 0 || r.refine_lr != 0;
  if (!vae) {
    if (extras)
      throw Error("--iwae-k, --amortization-gap and --refine-* apply to vae runs, not " +
                  model.name());
    return;
  }
  if (r.iwae_k < 0) throw Error("--iwae-k must be >= 1 (or 0 for none)");
  if (r.refine_lr < 0) throw Error("--refine-lr must be positive");
  if (r.refine_steps < -1) throw Error("--refine-steps must be >= 0");
  vi::VaeEvalOptions& e = vae->eval_options();
  e.iwae_k = r.iwae_k;
  e.amortization_gap = r.amortization_gap;
  if (r.refine_steps >= 0) e.refine_steps = r.refine_steps;
  if (r.refine_lr > 0) e.refine_lr = r.refine_lr;
  if (r.amortization_gap && !vae->vae()->amortized())
    throw Error(
        "--amortization-gap compares an encoder with per-example q, but this run was "
        "trained with --inference " +
        vae->vae()->options().inference() + " and has no encoder");
}

}  // namespace deepgen::cli

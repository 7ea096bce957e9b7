// Model names -> families. The only place that knows every family.
#include "app.h"
#include "deepgen/core/error.h"
#include "deepgen/vi/vae.h"

namespace deepgen::cli {

std::vector<std::string> model_names() { return {"vae"}; }

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

}  // namespace

nlohmann::json resolved_model_options(const RunConfig& c) {
  if (c.model == "vae") return nlohmann::json::parse(vi::to_json(vae_options(c)));
  unknown_model(c.model);
}

std::unique_ptr<train::GenerativeModel> make_model(const RunConfig& c) {
  if (c.model == "vae") return std::make_unique<vi::VaeModel>(vae_options(c));
  unknown_model(c.model);
}

void adapt_to_data(RunConfig& c, const data::Dataset& train) {
  c.data_shape = train.sample_shape();
  if (c.model == "vae") {
    const std::string inference = c.model_options.value("inference", "amortized");
    if (inference != "amortized") c.model_options["num_points"] = train.size();
    if (inference == "full") c.train.batch = train.size();  // variational EM: all data per step
  }
  c.model_options = resolved_model_options(c);
}

void configure_evaluation(train::GenerativeModel& model, const EvalRequest& r) {
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

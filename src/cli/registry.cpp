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

}  // namespace deepgen::cli

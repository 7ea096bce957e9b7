// VaeOptions <-> JSON and validation: every option a run's config.json records.
#include <nlohmann/json.hpp>

#include "deepgen/core/error.h"
#include "deepgen/nn/mlp.h"
#include "deepgen/vi/vae.h"

namespace deepgen::vi {

namespace {

bool one_of(const std::string& v, std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (v == n) return true;
  return false;
}

void validate_inference(const VaeOptions& o) {
  if (!one_of(o.inference(), {"amortized", "svi", "full"}))
    throw Error("vae: unknown --inference '" + o.inference() + "': use amortized, svi or full");
  if (o.inference() != "amortized" && o.num_points() <= 0)
    throw Error("vae: --inference " + o.inference() +
                " keeps one q per training example and needs num_points (the training-set size)");
  if (!(o.local_lr() > 0)) throw Error("vae: local_lr must be positive");
}

void validate_objective(const VaeOptions& o) {
  if (!one_of(o.objective(), {"elbo", "iwae"}))
    throw Error("vae: unknown --objective '" + o.objective() + "': use elbo or iwae");
  if (o.k() < 1) throw Error("vae: --k must be >= 1");
  if (o.kl_warmup() < 0) throw Error("vae: --kl-warmup must be >= 0");
  if (o.objective() == "iwae" && (o.beta() != 1.0 || o.kl_warmup() > 0))
    throw Error(
        "vae: --beta and --kl-warmup weight the ELBO's KL term, which the IWAE bound "
        "does not have: drop them or use --objective elbo");
}

}  // namespace

void validate(const VaeOptions& o) {
  if (o.data_shape().empty() || c10::multiply_integers(o.data_shape()) <= 0)
    throw Error("vae: empty data shape");
  if (o.latent() <= 0) throw Error("vae: --latent must be positive");
  for (int64_t h : o.hidden())
    if (h <= 0) throw Error("vae: --hidden sizes must be positive");
  nn::activate(o.activation(), torch::zeros({1}));  // throws on an unknown name
  if (!one_of(o.likelihood(), {"gaussian", "bernoulli"}))
    throw Error("vae: unknown --likelihood '" + o.likelihood() + "': use gaussian or bernoulli");
  if (o.sigma() < 0) throw Error("vae: --sigma must be > 0 (fixed) or 0 (learned)");
  if (!(o.sigma_init() > 0)) throw Error("vae: sigma_init must be positive");
  if (!one_of(o.mean_activation(), {"sigmoid", "identity"}))
    throw Error("vae: mean_activation must be sigmoid or identity");
  if (!(o.beta() >= 0)) throw Error("vae: --beta must be >= 0");
  if (!one_of(o.binarize(), {"dynamic", "threshold", "none"}))
    throw Error("vae: unknown --binarize '" + o.binarize() + "': use dynamic, threshold or none");
  if (!one_of(o.architecture(), {"mlp", "conv"}))
    throw Error("vae: unknown --arch '" + o.architecture() + "': use mlp or conv");
  if (o.architecture() == "conv" && o.data_shape().size() != 3)
    throw Error("vae: --arch conv needs image data; use mlp for points");
  validate_inference(o);
  validate_objective(o);
}

std::string to_json(const VaeOptions& o) {
  nlohmann::json j{{"hidden", o.hidden()},
                   {"latent", o.latent()},
                   {"activation", o.activation()},
                   {"likelihood", o.likelihood()},
                   {"sigma", o.sigma()},
                   {"sigma_init", o.sigma_init()},
                   {"mean_activation", o.mean_activation()},
                   {"beta", o.beta()},
                   {"binarize", o.binarize()},
                   {"architecture", o.architecture()},
                   {"conv_channels", o.conv_channels()},
                   {"inference", o.inference()},
                   {"num_points", o.num_points()},
                   {"local_lr", o.local_lr()},
                   {"objective", o.objective()},
                   {"k", o.k()},
                   {"kl_warmup", o.kl_warmup()}};
  return j.dump();
}

namespace {

void set_option(VaeOptions& o, const std::string& key, const nlohmann::json& v) {
  using Ints = std::vector<int64_t>;
  static const std::map<std::string, std::function<void(VaeOptions&, const nlohmann::json&)>>
      setters{
          {"hidden", [](VaeOptions& o, const nlohmann::json& v) { o.hidden(v.get<Ints>()); }},
          {"latent", [](VaeOptions& o, const nlohmann::json& v) { o.latent(v.get<int64_t>()); }},
          {"activation",
           [](VaeOptions& o, const nlohmann::json& v) { o.activation(v.get<std::string>()); }},
          {"likelihood",
           [](VaeOptions& o, const nlohmann::json& v) { o.likelihood(v.get<std::string>()); }},
          {"sigma", [](VaeOptions& o, const nlohmann::json& v) { o.sigma(v.get<double>()); }},
          {"sigma_init",
           [](VaeOptions& o, const nlohmann::json& v) { o.sigma_init(v.get<double>()); }},
          {"mean_activation",
           [](VaeOptions& o, const nlohmann::json& v) { o.mean_activation(v.get<std::string>()); }},
          {"beta", [](VaeOptions& o, const nlohmann::json& v) { o.beta(v.get<double>()); }},
          {"binarize",
           [](VaeOptions& o, const nlohmann::json& v) { o.binarize(v.get<std::string>()); }},
          {"architecture",
           [](VaeOptions& o, const nlohmann::json& v) { o.architecture(v.get<std::string>()); }},
          {"conv_channels",
           [](VaeOptions& o, const nlohmann::json& v) { o.conv_channels(v.get<Ints>()); }},
          {"inference",
           [](VaeOptions& o, const nlohmann::json& v) { o.inference(v.get<std::string>()); }},
          {"num_points",
           [](VaeOptions& o, const nlohmann::json& v) { o.num_points(v.get<int64_t>()); }},
          {"local_lr", [](VaeOptions& o, const nlohmann::json& v) { o.local_lr(v.get<double>()); }},
          {"objective",
           [](VaeOptions& o, const nlohmann::json& v) { o.objective(v.get<std::string>()); }},
          {"k", [](VaeOptions& o, const nlohmann::json& v) { o.k(v.get<int64_t>()); }},
          {"kl_warmup",
           [](VaeOptions& o, const nlohmann::json& v) { o.kl_warmup(v.get<int64_t>()); }},
      };
  auto it = setters.find(key);
  if (it == setters.end()) throw Error("vae: unknown option '" + key + "'");
  it->second(o, v);
}

}  // namespace

VaeOptions vae_options_from_json(const std::string& text, std::vector<int64_t> data_shape) {
  VaeOptions o(std::move(data_shape));
  try {
    const nlohmann::json j = nlohmann::json::parse(text.empty() ? "{}" : text);
    for (const auto& [key, value] : j.items()) set_option(o, key, value);
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("vae options: ") + e.what());
  }
  validate(o);
  return o;
}

}  // namespace deepgen::vi

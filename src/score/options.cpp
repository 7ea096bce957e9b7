// ScoreOptions: per-data defaults, validation, and JSON (every option a run's config.json keeps).
#include <nlohmann/json.hpp>

#include "deepgen/core/error.h"
#include "deepgen/nn/mlp.h"
#include "deepgen/score/model.h"
#include "deepgen/score/net.h"

namespace deepgen::score {

namespace {

bool is_image(const std::vector<int64_t>& shape) { return shape.size() == 3; }

void positive(double v, const std::string& flag) {
  if (!(v > 0) || !std::isfinite(v)) throw Error("score: " + flag + " must be positive");
}

void validate_ladder(const ScoreOptions& o) {
  positive(o.sigma_begin(), "--sigma-begin");
  positive(o.sigma_end(), "--sigma-end");
  if (o.num_sigmas() < 2)
    throw Error("score: --num-sigmas must be >= 2 (a ladder from --sigma-begin to --sigma-end)");
  if (!(o.sigma_begin() > o.sigma_end()))
    throw Error("score: --sigma-begin must be larger than --sigma-end (the ladder descends)");
  if (o.steps_per_level() < 1) throw Error("score: --steps-per-level must be >= 1");
  positive(o.sample_eps(), "--sample-eps");
}

}  // namespace

// Images: NCSN's MNIST ladder 1 → 0.01 (L = 10) and ε = 2e-5. Points: 20 → 0.05, the NCSN toy's
// σ_1 = 20 (the span of its mixture) down to a width below the toys' finest structure (rings:
// std 0.08); ε = 2.5e-4 keeps δ_i/σ_i² = ε/σ_L² = 0.1 at every level, as 2e-5/0.01² = 0.2 does
// for images.
ScoreOptions::ScoreOptions(std::vector<int64_t> data_shape) : data_shape_(std::move(data_shape)) {
  const bool image = is_image(data_shape_);
  sigma_begin_ = image ? 1.0 : 20.0;
  sigma_end_ = image ? 0.01 : 0.05;
  sample_eps_ = image ? 2e-5 : 2.5e-4;
}

void validate(const ScoreOptions& o) {
  const auto& shape = o.data_shape();
  if (shape.empty() || c10::multiply_integers(shape) <= 0) throw Error("score: empty data shape");
  if (shape.size() != 1 && shape.size() != 3)
    throw Error("score: data must be points {D} or images {C, H, W}");
  const std::string& m = o.method();
  if (m != "esm-kde" && m != "dsm" && m != "ssm" && m != "ncsn")
    throw Error("score: unknown --method '" + m + "': use esm-kde, dsm, ssm or ncsn");
  if (m == "ssm" ? !(o.sigma() >= 0) : !(o.sigma() > 0))
    throw Error("score: --sigma must be positive (ssm: >= 0, 0 trains on clean data)");
  validate_ladder(o);
  if (o.ssm_slices() < 1) throw Error("score: --ssm-slices must be >= 1");
  if (o.langevin_steps() < 0) throw Error("score: --langevin-steps must be >= 0");
  positive(o.step_size(), "--step-size");
  positive(o.init_box(), "--init-box");
  if (is_image(shape)) {
    validate_unet(shape, o.channels());
  } else {
    for (int64_t h : o.hidden())
      if (h <= 0) throw Error("score: --hidden sizes must be positive");
    nn::activate(o.activation(), torch::zeros({1}));  // throws on an unknown name
  }
}

std::string to_json(const ScoreOptions& o) {
  nlohmann::json j{{"method", o.method()},           {"sigma", o.sigma()},
                   {"sigma_begin", o.sigma_begin()}, {"sigma_end", o.sigma_end()},
                   {"num_sigmas", o.num_sigmas()},   {"hidden", o.hidden()},
                   {"activation", o.activation()},   {"channels", o.channels()},
                   {"ssm_slices", o.ssm_slices()},   {"steps_per_level", o.steps_per_level()},
                   {"sample_eps", o.sample_eps()},   {"langevin_steps", o.langevin_steps()},
                   {"step_size", o.step_size()},     {"final_denoise", o.final_denoise()},
                   {"init_box", o.init_box()}};
  return j.dump();
}

namespace {

using Json = nlohmann::json;
using Setter = std::function<void(ScoreOptions&, const Json&)>;

template <typename T>
Setter setter(ScoreOptions& (ScoreOptions::*set)(const T&)) {
  return [set](ScoreOptions& o, const Json& v) { (o.*set)(v.get<T>()); };
}

void set_option(ScoreOptions& o, const std::string& key, const Json& v) {
  using Ints = std::vector<int64_t>;
  using O = ScoreOptions;
  static const std::map<std::string, Setter> setters{
      {"method", setter<std::string>(&O::method)},
      {"sigma", setter<double>(&O::sigma)},
      {"sigma_begin", setter<double>(&O::sigma_begin)},
      {"sigma_end", setter<double>(&O::sigma_end)},
      {"num_sigmas", setter<int64_t>(&O::num_sigmas)},
      {"hidden", setter<Ints>(&O::hidden)},
      {"activation", setter<std::string>(&O::activation)},
      {"channels", setter<Ints>(&O::channels)},
      {"ssm_slices", setter<int64_t>(&O::ssm_slices)},
      {"steps_per_level", setter<int64_t>(&O::steps_per_level)},
      {"sample_eps", setter<double>(&O::sample_eps)},
      {"langevin_steps", setter<int64_t>(&O::langevin_steps)},
      {"step_size", setter<double>(&O::step_size)},
      {"final_denoise", setter<bool>(&O::final_denoise)},
      {"init_box", setter<double>(&O::init_box)},
  };
  auto it = setters.find(key);
  if (it == setters.end()) throw Error("score: unknown option '" + key + "'");
  it->second(o, v);
}

}  // namespace

ScoreOptions score_options_from_json(const std::string& text, std::vector<int64_t> data_shape) {
  ScoreOptions o(std::move(data_shape));
  try {
    const Json j = Json::parse(text.empty() ? "{}" : text);
    for (const auto& [key, value] : j.items()) set_option(o, key, value);
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("score options: ") + e.what());
  }
  validate(o);
  return o;
}

}  // namespace deepgen::score

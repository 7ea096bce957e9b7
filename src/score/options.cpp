// ScoreOptions: per-data defaults, validation, and JSON (every option a run's config.json keeps).
#include <nlohmann/json.hpp>

#include "deepgen/core/error.h"
#include "deepgen/nn/mlp.h"
#include "deepgen/nn/unet_options.h"
#include "deepgen/score/family.h"
#include "deepgen/score/net.h"
#include "deepgen/score/sde.h"

namespace deepgen::score {

namespace {

bool is_image(const std::vector<int64_t>& shape) { return shape.size() == 3; }

OptionTable<ScoreOptions> make_table() {
  OptionTable<ScoreOptions> t("score");
  using O = ScoreOptions;
  const unsigned all = kTrain | kSample | kEval;  // sampling: eval draws samples of points too
  t.add("method", &O::method,
        "Score matching: esm-kde (MATH 3.2a) | dsm (MATH 3.2d) | ssm (sliced) | ncsn (a σ ladder)")
      .choices(method_names());
  t.add("sigma", &O::sigma,
        "dsm: noise std; esm-kde: kernel width; ssm: noise added first (0: clean data)")
      .min(0);
  t.add("sigma_begin", &O::sigma_begin, "ncsn: largest noise level σ_1").greater(0);
  t.add("sigma_end", &O::sigma_end, "ncsn: smallest noise level σ_L").greater(0);
  t.add("num_sigmas", &O::num_sigmas, "ncsn: levels L of the geometric ladder").min(2);
  t.add("hidden", &O::hidden, "points: hidden sizes of the score MLP").min(1);
  t.add("activation", &O::activation, "points: activation of the score MLP")
      .choices(nn::activation_names());
  t.add("architecture", &O::architecture,
        "images: unet (the VDM's U-Net as an ε-network) | small-unet (NCSN's two-level U-Net; "
        "channels: its two widths)")
      .flag("arch")
      .choices(architecture_names());
  nn::add_unet_options(t, [](ScoreOptions& o) -> nn::UNetOptions& { return o.unet(); });
  t.add("ssm_slices", &O::ssm_slices, "ssm: random projections per example").min(1);
  t.add("steps_per_level", &O::steps_per_level, "ncsn sampling: annealed Langevin steps per level")
      .min(1)
      .commands(all);
  t.add("sample_eps", &O::sample_eps, "ncsn sampling: ε of the step δ_i = ε σ_i²/σ_L²")
      .greater(0)
      .commands(all);
  t.add("sampler", &O::sampler,
        "ncsn sampling: annealed (Langevin) | pc (reverse-SDE predictor-corrector) | ode "
        "(probability flow)")
      .choices(sampler_names())
      .commands(all);
  t.add("sigma_steps", &O::sigma_steps,
        "ncsn pc / ode sampling: steps of the geometric σ grid from σ_1 down to σ_L")
      .min(1)
      .commands(all);
  t.add("predictor", &O::predictor,
        "ncsn pc sampling: reverse-diffusion | ancestral (the exact posterior step) | dpmpp2m-sde "
        "(SDE-DPM-Solver++(2M), second order)")
      .choices(predictor_names())
      .commands(all);
  t.add("corrector_steps", &O::corrector_steps,
        "ncsn pc sampling: Langevin corrector steps after each predictor step (0: none)")
      .min(0)
      .commands(all);
  t.add("snr", &O::snr, "ncsn pc sampling: signal-to-noise ratio r of the corrector step")
      .greater(0)
      .commands(all);
  t.add("ode_solver", &O::ode_solver, "ncsn ode sampling: euler (order 1) | heun (order 2)")
      .choices(ode_solver_names())
      .commands(all);
  t.add("langevin_steps", &O::langevin_steps, "esm-kde / dsm / ssm sampling: Langevin steps")
      .min(0)
      .commands(all);
  t.add("step_size", &O::step_size, "esm-kde / dsm / ssm sampling: Langevin step δ")
      .greater(0)
      .commands(all);
  t.add("final_denoise", &O::final_denoise,
        "Sampling ends with the Tweedie step x + σ²·s(x, σ) at the smallest σ")
      .commands(all);
  t.add("init_box", &O::init_box, "points: chains start uniform in [-b, b]^D")
      .greater(0)
      .commands(all);
  nn::add_condition_options(t, [](ScoreOptions& o) -> nn::Conditioning& { return o.condition(); });
  return t;
}

}  // namespace

// Images: NCSN's MNIST ladder 1 → 0.01 (L = 10) and ε = 2e-5; a training run replaces σ_1, L, ε
// (and T) the user did not give by NCSNv2's rules (family.cpp's adapt, ladder.h). Points: 20 →
// 0.05, the NCSN toy's σ_1 = 20 (the span of its mixture) down to a width below the toys' finest
// structure (rings: std 0.08); ε = 2.5e-4 keeps δ_i/σ_i² = ε/σ_L² = 0.1 at every level, as
// 2e-5/0.01² = 0.2 does for images.
ScoreOptions::ScoreOptions(std::vector<int64_t> data_shape) : data_shape_(std::move(data_shape)) {
  const bool image = is_image(data_shape_);
  sigma_begin_ = image ? 1.0 : 20.0;
  sigma_end_ = image ? 0.01 : 0.05;
  sample_eps_ = image ? 2e-5 : 2.5e-4;
}

const OptionTable<ScoreOptions>& score_option_table() {
  static const OptionTable<ScoreOptions> table = make_table();
  return table;
}

nn::UNetOptions image_unet(const ScoreOptions& o) {
  nn::UNetOptions u = o.unet();
  u.data_shape = o.data_shape();
  u.classes = o.condition().classes;
  return u;
}

void validate(const ScoreOptions& o) {
  score_option_table().validate(o);
  const auto& shape = o.data_shape();
  if (shape.empty() || c10::multiply_integers(shape) <= 0) throw Error("score: empty data shape");
  if (shape.size() != 1 && shape.size() != 3)
    throw Error("score: data must be points {D} or images {C, H, W}");
  if (o.method() != "ssm" && !(o.sigma() > 0))
    throw Error("score: " + option_ref("score", "sigma") + " must be positive (ssm: >= 0, " +
                "0 trains on clean data)");
  if (!(o.sigma_begin() > o.sigma_end()))
    throw Error("score: " + option_ref("score", "sigma_begin") + " must be larger than " +
                option_ref("score", "sigma_end") + " (the ladder descends)");
  if (o.sampler() != "annealed" && o.method() != "ncsn")
    throw Error("score: " + option_ref("score", "sampler") + " " + o.sampler() +
                " integrates over a σ ladder, which only " + option_ref("score", "method") +
                " ncsn has (the others sample with annealed, plain Langevin at their σ)");
  if (is_image(shape) && o.architecture() == "small-unet") validate_unet(shape, o.unet().channels);
  if (is_image(shape) && o.architecture() == "unet") nn::validate(image_unet(o), "score");
  nn::validate(o.condition(), "score");
  if (o.condition().conditional &&
      (!is_image(shape) || o.architecture() != "unet" || o.method() != "ncsn"))
    throw Error("score: " + option_ref("score", "conditional") + " needs image data with " +
                option_ref("score", "method") + " ncsn and " + option_ref("score", "architecture") +
                " unet (the network that embeds a class)");
}

std::string to_json(const ScoreOptions& o) { return score_option_table().to_json(o).dump(); }

ScoreOptions score_options_from_json(const std::string& text, std::vector<int64_t> data_shape) {
  ScoreOptions o = score_option_table().parse(ScoreOptions(std::move(data_shape)), text);
  validate(o);
  return o;
}

}  // namespace deepgen::score

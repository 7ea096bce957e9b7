// Score-based models described once for the run layer and the CLI.
#include "deepgen/score/family.h"

#include <cmath>
#include <cstdio>

#include "deepgen/core/error.h"
#include "deepgen/score/ladder.h"

namespace deepgen::score {

namespace {

// NCSN v1's default sampling cost, L·T = 10·100 Langevin steps: a ladder from the rules keeps it
// by taking T = ceil(1000/L) steps per level (NCSNv2 also picks T by budget: T = 5 at L = 232).
constexpr int64_t kLangevinBudget = 1000;

std::string number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", v);
  return text;
}

bool image_ncsn(const nlohmann::json& given, const data::Dataset& train) {
  return train.kind == data::Kind::image && given.value("method", "ncsn") == "ncsn";
}

// The sampler measured best per network evaluation on MNIST (docs/results.md, "The score
// family's samplers"): the reverse SDE by SDE-DPM-Solver++(2M) on 99 σ steps without correctors,
// 100 evaluations with the Tweedie step (FID 9.8, precision 0.74 at 10 000 steps, where annealed
// Langevin spends 1000), for image runs whose sampler the user left out.
std::vector<std::string> adapt_sampler(nlohmann::json& given) {
  if (given.contains("sampler")) return {};
  given["sampler"] = "pc";
  if (!given.contains("predictor")) given["predictor"] = "dpmpp2m-sde";
  if (!given.contains("corrector_steps")) given["corrector_steps"] = 0;
  if (!given.contains("sigma_steps")) given["sigma_steps"] = 99;
  return {"score: images sample by the reverse SDE (" + option_ref("score", "sampler") + " pc, " +
          option_ref("score", "predictor") + " " + given.at("predictor").get<std::string>() + ", " +
          std::to_string(given.at("sigma_steps").get<int64_t>()) + " σ steps, " +
          std::to_string(given.at("corrector_steps").get<int64_t>()) + " corrector steps); " +
          option_ref("score", "sampler") + " annealed is NCSN's Langevin"};
}

// NCSNv2's rules (ladder.h) for the ladder options the user left out, on images only: points
// keep the NCSN toy's tuned ladder (and the rule has no solution below D = 5, e.g. 2-D toys).
// σ_L stays the given or default sigma_end; ε is matched to the ladder actually used.
std::vector<std::string> adapt_ladder(nlohmann::json& given, const data::Dataset& train) {
  const bool has_begin = given.contains("sigma_begin"), has_levels = given.contains("num_sigmas");
  if (has_begin && has_levels && given.contains("sample_eps")) return {};
  const ScoreOptions defaults(train.sample_shape());
  const double sigma_L = given.value("sigma_end", defaults.sigma_end());
  const double sigma_1 =
      has_begin ? given.at("sigma_begin").get<double>() : max_pairwise_distance(train.x);
  const int64_t levels = has_levels ? given.at("num_sigmas").get<int64_t>()
                                    : ladder_length(sigma_1, sigma_L, ladder_ratio(train.dim()));
  if (!(sigma_1 > sigma_L) || levels < 2) return {};  // validate() names the bad option
  const double ratio = std::pow(sigma_1 / sigma_L, 1.0 / static_cast<double>(levels - 1));
  if (!has_levels && !given.contains("steps_per_level"))
    given["steps_per_level"] = (kLangevinBudget + levels - 1) / levels;
  const int64_t steps = given.value("steps_per_level", defaults.steps_per_level());
  given["sigma_begin"] = sigma_1;
  given["num_sigmas"] = levels;
  if (!given.contains("sample_eps")) given["sample_eps"] = langevin_step_for(sigma_L, ratio, steps);
  return {"score: ncsn ladder from the data (NCSNv2): σ_1 = " + number(sigma_1) +
          (has_begin ? " (given)" : " (largest distance between training images)") +
          ", L = " + std::to_string(levels) + (has_levels ? " (given)" : "") + " (ratio " +
          number(ratio) + "), T = " + std::to_string(steps) +
          " steps per level, ε = " + number(given.at("sample_eps").get<double>()) + "; " +
          option_ref("score", "sigma_begin") + ", " + option_ref("score", "num_sigmas") + " and " +
          option_ref("score", "sample_eps") + " set them"};
}

std::vector<std::string> adapt(nlohmann::json& given, const data::Dataset& train,
                               train::TrainOptions&) {
  if (!image_ncsn(given, train)) return {};
  auto notes = adapt_ladder(given, train);
  for (auto& note : adapt_sampler(given)) notes.push_back(std::move(note));
  return notes;
}

}  // namespace

const train::Family& score_family() {
  static const train::Family family = [] {
    train::Family f = train::describe<ScoreOptions>(
        "score",
        "Score-based model (MATH Part 3): score matching (esm-kde, dsm, ssm, ncsn), Langevin "
        "sampling",
        "score-matching loss (a divergence up to a constant, not a likelihood)",
        score_option_table(), [](const train::Shape& shape) { return ScoreOptions(shape); },
        [](const ScoreOptions& o) { validate(o); },
        [](ScoreOptions o) { return std::make_unique<ScoreModel>(std::move(o)); });
    f.adapt = adapt;
    f.unit = "score-matching loss";
    f.explain = [](const nlohmann::json&) {
      return std::string(
          "The test number is the model's score-matching loss on test data (for NCSN averaged "
          "over noise levels): a Fisher divergence up to a constant, not a likelihood. Compare "
          "score models by their samples (FID, energy distance).");
    };
    return f;
  }();
  return family;
}

}  // namespace deepgen::score

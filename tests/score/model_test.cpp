#include "deepgen/score/model.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "deepgen/core/error.h"
#include "deepgen/core/rng.h"
#include "deepgen/data/toy.h"
#include "deepgen/score/losses.h"
#include "deepgen/score/targets.h"

namespace deepgen::score {
namespace {

// Mean of evaluate() over a fixed test set with fixed noise: only θ changes between calls.
double test_loss(ScoreModel& model, const at::Tensor& x) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(123);
  return model.evaluate(x).loss.item<double>();
}

double train_steps(ScoreModel& model, const at::Tensor& data, int steps, double lr) {
  torch::optim::Adam optimizer(model.module().parameters(), torch::optim::AdamOptions(lr));
  torch::manual_seed(7);
  double last = 0;
  for (int t = 0; t < steps; ++t) {
    const at::Tensor x = data.index_select(0, at::randint(data.size(0), {128}, at::kLong));
    optimizer.zero_grad();
    const train::LossOutput out = model.loss(x);
    out.loss.backward();
    optimizer.step();
    last = out.loss.item<double>();
  }
  return last;
}

at::Tensor toy(const std::string& name, int64_t n, uint64_t seed) {
  at::Generator gen = make_generator(seed);
  return data::sample_toy(name, n, gen);
}

// data::sample_toy("8gaussians") as a mixture: centres 4(cos kπ/4, sin kπ/4)/1.414, std
// 0.5/1.414, equal weights (src/data/toy.cpp).
GaussianMixture eight_gaussians() {
  std::string spec = "gmm:";
  for (int k = 0; k < 8; ++k)
    spec += (k ? ";" : "") + std::string("1,") +
            std::to_string(4 * std::cos(k * M_PI / 4) / 1.414) + "," +
            std::to_string(4 * std::sin(k * M_PI / 4) / 1.414) + "," + std::to_string(0.5 / 1.414);
  return parse_target(spec);
}

// σ²-weighted explicit score-matching error against the exact noised score, averaged over the
// model's σ levels: mean_σ σ²·E_{x ~ p_σ} ½‖s_θ(x, σ) − ∇log p_σ(x)‖², x = test + σz (fixed z).
double fisher(ScoreModel& model, const GaussianMixture& truth, const at::Tensor& test) {
  torch::NoGradGuard no_grad;
  const GaussianMixture t = truth.to(at::kFloat);
  at::Generator gen = make_generator(99);
  double total = 0;
  for (double sigma : model.sigmas()) {
    const at::Tensor level = at::full({test.size(0)}, sigma);
    const at::Tensor x = test + sigma * at::randn(test.sizes(), gen, test.options());
    const at::Tensor err = model.score(x, level) - t.score(x, level);
    total += sigma * sigma * 0.5 * err.pow(2).sum(1).mean().item<double>();
  }
  return total / static_cast<double>(model.sigmas().size());
}

TEST(ScoreModel, DsmTrainingLearnsTheNoisedScoreAndSamples) {
  torch::manual_seed(1);
  ScoreModel model(
      ScoreOptions({2}).method("dsm").sigma(0.5).hidden({64, 64}).langevin_steps(50).step_size(
          0.01));
  const GaussianMixture truth = eight_gaussians();
  const at::Tensor train = toy("8gaussians", 4000, 1), test = toy("8gaussians", 2000, 2);
  const double before = fisher(model, truth, test), loss_before = test_loss(model, test);
  train_steps(model, train, 800, 3e-3);
  const double after = fisher(model, truth, test), loss_after = test_loss(model, test);
  std::printf(
      "[ measured ] dsm: test loss %.3f -> %.3f, σ²-weighted Fisher divergence to the "
      "exact noised score %.4f -> %.4f\n",
      loss_before, loss_after, before, after);
  // DSM's minimiser is the score of the data noised at σ (Vincent 2011), known exactly here.
  // 800 steps of a small MLP remove ~80% of the initial error (measured 0.56 -> 0.12); 0.35 of
  // it leaves room for seeds and still fails for a wrong target (sign, z/σ² for z/σ).
  EXPECT_LT(after, 0.35 * before);
  EXPECT_LT(loss_after, loss_before);
  torch::manual_seed(2);
  const at::Tensor samples = model.sample(64);
  EXPECT_EQ(samples.sizes(), (at::IntArrayRef{64, 2}));
  EXPECT_TRUE(at::isfinite(samples).all().item<bool>());
  EXPECT_EQ(model.name(), "score");
}

TEST(ScoreModel, NcsnTrainsOnPointsAndSamplesThroughTheLadder) {
  torch::manual_seed(3);
  ScoreModel model(ScoreOptions({2}).hidden({64, 64}).num_sigmas(5).steps_per_level(10));
  ASSERT_EQ(model.sigmas().size(), 5u);
  EXPECT_DOUBLE_EQ(model.sigmas().front(), 20.0);  // the points defaults
  const at::Tensor train = toy("ncsn-gmm", 4000, 3), test = toy("ncsn-gmm", 2000, 4);
  const double before = test_loss(model, test), f_before = fisher(model, ncsn_gmm(), test);
  train_steps(model, train, 300, 3e-3);
  const double after = test_loss(model, test), f_after = fisher(model, ncsn_gmm(), test);
  std::printf(
      "[ measured ] ncsn: test loss %.3f -> %.3f, σ²-weighted Fisher divergence %.4f -> "
      "%.4f\n",
      before, after, f_before, f_after);
  // A zero score gives D/2 = 1 at every level (σ² weighting); a trained net must beat it, and
  // its error against the exact noised scores must fall to a quarter.
  EXPECT_LT(after, 0.9);
  EXPECT_LT(f_after, 0.25 * f_before);
  torch::NoGradGuard no_grad;
  const train::LossOutput eval = model.evaluate(test);
  ASSERT_EQ(eval.parts.size(), 3u);
  EXPECT_EQ(eval.parts[1].first, "ncsn_sigma_max");
  int64_t calls = 0;
  model.set_progress([&](int64_t, int64_t total, const at::Tensor&) {
    ++calls;
    EXPECT_EQ(total, 50);
  });
  const at::Tensor samples = model.sample(32);
  EXPECT_EQ(calls, 50);
  EXPECT_EQ(samples.sizes(), (at::IntArrayRef{32, 2}));
  EXPECT_TRUE(at::isfinite(samples).all().item<bool>());
}

class ScoreImageNets : public ::testing::TestWithParam<std::string> {};

TEST_P(ScoreImageNets, ImagesThroughTheUNet) {
  torch::manual_seed(5);
  ScoreOptions o({1, 8, 8});
  o.architecture(GetParam()).num_sigmas(3).steps_per_level(2);
  o.unet().channels = {4, 8};
  ScoreModel model(o);
  const at::Tensor x = at::rand({6, 1, 8, 8});
  const at::Tensor s = model.score(x, at::full({6}, 0.5));
  EXPECT_EQ(s.sizes(), x.sizes());
  // σ reaches the network (embedding and the 1/σ output scale): another σ, another score.
  EXPECT_FALSE(s.allclose(model.score(x, at::full({6}, 0.25))));
  // Per-example σ: row i depends on its own σ only (the embedding must not mix the batch).
  const at::Tensor mixed = model.score(x, at::tensor({0.5f, 0.25f, 0.5f, 0.25f, 0.5f, 0.25f}));
  EXPECT_TRUE(mixed[0].allclose(s[0], 1e-5, 1e-6));  // float32 rounding only
  const train::LossOutput out = model.loss(x);
  out.loss.backward();
  for (const auto& p : model.module().parameters()) ASSERT_TRUE(p.grad().defined());
  const at::Tensor samples = model.sample(3);
  EXPECT_EQ(samples.sizes(), (at::IntArrayRef{3, 1, 8, 8}));
  EXPECT_GE(samples.min().item<double>(), 0.0);  // data units: images in [0, 1]
  EXPECT_LE(samples.max().item<double>(), 1.0);
}

// NCSNv2's MNIST ladder has 95 levels; the test metric visits 10 of them, evenly spaced in log σ
// with both ends, so its mean is a quadrature of the mean over the ladder; short ladders keep all.
TEST(ScoreModel, TestMetricVisitsTenEvenlySpacedLevels) {
  const std::vector<double> ladder = geometric_sigmas(15.77, 0.01, 95);
  const std::vector<double> chosen = evaluation_sigmas(ladder);
  ASSERT_EQ(chosen.size(), 10u);
  EXPECT_EQ(chosen.front(), ladder.front());
  EXPECT_EQ(chosen.back(), ladder.back());
  const double step = std::log(ladder.front() / ladder.back()) / 9;  // the even log spacing
  const double level = std::log(ladder[0] / ladder[1]);              // one level of the ladder
  // Each index rounds by at most half a level, so a gap is off the even step by at most one.
  for (size_t i = 1; i < chosen.size(); ++i)
    EXPECT_NEAR(std::log(chosen[i - 1] / chosen[i]), step, level + 1e-12) << i;
  const std::vector<double> short_ladder = geometric_sigmas(1.0, 0.01, 10);
  EXPECT_EQ(evaluation_sigmas(short_ladder), short_ladder);
}

INSTANTIATE_TEST_SUITE_P(Architectures, ScoreImageNets, ::testing::Values("unet", "small-unet"));

// The unet is an ε-network of z = (2x − 1)/√(1 + 4σ²) (score/net.h) whose untrained output is
// its skip, ε̂ = z: so at initialisation s(x, σ) = −z/σ exactly, for every σ of the batch. A
// wrong input map, σ' or output scale breaks the equality by far more than float32 rounding.
TEST(ScoreModel, UntrainedUNetIsTheScoreOfItsSkip) {
  torch::manual_seed(7);
  ScoreOptions o({1, 8, 8});
  o.sigma_begin(10.0).sigma_end(0.01).num_sigmas(5);
  o.unet().channels = {4, 8};
  ScoreModel model(o);
  const at::Tensor x = at::rand({4, 1, 8, 8});
  const at::Tensor sigma = at::tensor({0.01f, 0.3f, 2.0f, 10.0f});
  const at::Tensor s = sigma.view({4, 1, 1, 1});
  const at::Tensor expected = -((2 * x - 1) / (1 + 4 * s * s).sqrt()) / s;
  EXPECT_TRUE(model.score(x, sigma).allclose(expected, 1e-5, 1e-5));
}

TEST(ScoreModel, EsmKdeNeedsItsDataAndSsmEvaluatesWithoutGradients) {
  torch::manual_seed(6);
  const at::Tensor x = toy("moons", 256, 5);
  ScoreModel esm(ScoreOptions({2}).method("esm-kde").hidden({16}));
  EXPECT_THROW(esm.loss(x), Error);
  esm.set_kde_data(x);
  EXPECT_TRUE(std::isfinite(esm.loss(x.slice(0, 0, 32)).loss.item<double>()));
  // ssm needs autograd for its trace term even inside the evaluator's no-grad scope.
  ScoreModel ssm(ScoreOptions({2}).method("ssm").sigma(0.0).hidden({16}));
  torch::NoGradGuard no_grad;
  const train::LossOutput eval = ssm.evaluate(x);
  EXPECT_TRUE(std::isfinite(eval.loss.item<double>()));
  EXPECT_EQ(eval.parts.at(0).first, "ssm");
}

TEST(ScoreOptions, JsonRoundTripAndPerDataDefaults) {
  EXPECT_DOUBLE_EQ(ScoreOptions({1, 28, 28}).sigma_begin(), 1.0);
  EXPECT_DOUBLE_EQ(ScoreOptions({1, 28, 28}).sample_eps(), 2e-5);
  EXPECT_DOUBLE_EQ(ScoreOptions({2}).sigma_end(), 0.05);
  const ScoreOptions o = ScoreOptions({2})
                             .method("ssm")
                             .sigma(0.2)
                             .sigma_begin(9)
                             .sigma_end(0.1)
                             .num_sigmas(7)
                             .hidden({32, 16})
                             .activation("tanh")
                             .ssm_slices(3)
                             .steps_per_level(20)
                             .sample_eps(1e-3)
                             .langevin_steps(10)
                             .step_size(0.05)
                             .sigma_steps(20)
                             .corrector_steps(2)
                             .predictor("ancestral")
                             .snr(0.1)
                             .ode_solver("euler")
                             .final_denoise(false)
                             .init_box(3);
  const std::string json = to_json(o);
  const ScoreOptions back = score_options_from_json(json, {2});
  EXPECT_EQ(to_json(back), json);
  EXPECT_EQ(back.hidden(), (std::vector<int64_t>{32, 16}));
  EXPECT_FALSE(back.final_denoise());
  EXPECT_EQ(back.ode_solver(), "euler");
  EXPECT_EQ(back.predictor(), "ancestral");
  // Every option is written (a key missing from to_json would silently reset on reload); the
  // four conditioning options (nn/condition.h) are among them.
  EXPECT_EQ(nlohmann::json::parse(json).size(), 32u);
}

void expect_error(const std::string& json, std::vector<int64_t> shape, const std::string& needle) {
  try {
    score_options_from_json(json, std::move(shape));
    ADD_FAILURE() << json << " was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(ScoreOptions, BadOptionsNameTheOption) {
  expect_error(R"({"sigmas": 3})", {2}, "unknown option 'sigmas'");
  expect_error(R"({"method": "mle"})", {2}, "`score.method` 'mle'");
  expect_error(R"({"method": "dsm", "sigma": 0})", {2}, "`score.sigma`");
  expect_error(R"({"sigma_begin": 0.01, "sigma_end": 1})", {2}, "`score.sigma_begin`");
  expect_error(R"({"num_sigmas": 0})", {2}, "`score.num_sigmas`");
  expect_error(R"({"sample_eps": -1})", {2}, "`score.sample_eps`");
  expect_error(R"({"step_size": 0})", {2}, "`score.step_size`");
  expect_error(R"({"hidden": [0]})", {2}, "`score.hidden`");
  expect_error(R"({"activation": "gelu"})", {2}, "`score.activation` 'gelu'");
  expect_error(R"({"channels": [8, 16, 32]})", {1, 28, 28}, "`score.channels`");
  expect_error("{}", {1, 30, 30}, "divisible by 4");  // unet: patch 2, two levels
  expect_error(R"({"architecture": "small-unet"})", {1, 30, 30}, "multiples of 4");
  expect_error(R"({"architecture": "small-unet", "channels": [8, 16, 32]})", {1, 28, 28},
               "two positive widths");
  expect_error(R"({"architecture": "resnet"})", {1, 28, 28}, "`score.architecture` 'resnet'");
  expect_error(R"({"sigma": "big"})", {2}, "`score.sigma` expects FLOAT");
  EXPECT_NO_THROW(score_options_from_json(R"({"method": "ssm", "sigma": 0})", {2}));
}

}  // namespace
}  // namespace deepgen::score

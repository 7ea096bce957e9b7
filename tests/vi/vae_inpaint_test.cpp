// Imputation with a VAE (BEYOND B5): with a linear decoder and its exact posterior as the encoder
// both the Metropolis chain and pseudo-Gibbs (Rezende et al. 2014) must draw the known
// conditional; with a wrong encoder only the Metropolis chain still does; every decoder returns
// the known values exactly; models without an encoder are refused.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "../support/error_message.h"
#include "deepgen/core/progress.h"
#include "deepgen/vi/vae.h"

namespace deepgen::vi {
namespace {

// x|z ~ N(a·(1, 1) z, s²I), z ~ N(0, 1), with a = 1, s = 0.5: the encoder set to the exact
// posterior q(z|x) = N(a(x_0 + x_1)/m, s²/m), m = 2a² + s².
constexpr double kA = 1.0, kS = 0.5;

// The same model with its encoder's mean scaled by `shrink` and its variance by e^`widen`: an
// amortisation error of the kind a trained encoder makes on half-masked inputs.
VaeModel linear_vae(double shrink = 1.0, double widen = 0.0) {
  VaeModel model(VaeOptions({2})
                     .hidden({})
                     .latent(1)
                     .sigma(kS)
                     .mean_activation("identity")
                     .activation("tanh"));
  torch::NoGradGuard no_grad;
  auto p = model.vae()->named_parameters();
  const double m = 2 * kA * kA + kS * kS;
  p["decoder.layers.0.weight"].copy_(torch::full({2, 1}, kA));
  p["decoder.layers.0.bias"].zero_();
  p["encoder.layers.0.weight"].copy_(
      torch::tensor({{shrink * kA / m, shrink * kA / m}, {0.0, 0.0}}));
  p["encoder.layers.0.bias"].copy_(torch::tensor({0.0, std::log(kS * kS / m) + widen}));
  return model;
}

VaeModel exact_linear_vae() { return linear_vae(); }

// The (what, done, total) reports of inpainting.
struct Reports {
  std::vector<std::tuple<std::string, int64_t, int64_t>> seen;
  ProgressScope scope{[this](const std::string& what, int64_t done, int64_t total) {
    seen.emplace_back(what, done, total);
  }};
};

// The completions of x_0 given x_1 = 1.5 (4000 chains of `rounds` rounds) as (mean, variance).
std::pair<double, double> completions(VaeModel& model, int64_t rounds, bool metropolis) {
  torch::manual_seed(8);
  const int64_t n = 4000;
  const at::Tensor x = torch::tensor({0.0f, 1.5f}).repeat({n, 1});
  const at::Tensor mask = torch::tensor({0.0f, 1.0f}).repeat({n, 1});
  const at::Tensor out = model.inpaint(x, mask, {1, rounds, metropolis});
  EXPECT_TRUE(torch::equal(out.select(1, 1), x.select(1, 1)));
  const at::Tensor unknown = out.select(1, 0).to(torch::kDouble);
  return {unknown.mean().item<double>(), unknown.var().item<double>()};
}

// x_1 = 1.5 known. z | x_1 ~ N(1.2, 0.2) (precision 1 + a²/s² = 5, mean (a/s²)·1.5/5), and the
// completion is the decoder's mean a·z at the last z, so the completions of x_0 are N(1.2, 0.2);
// a draw of x instead of its mean would give variance 0.45, an unconditional one N(0, 1.25).
// 4000 chains of 50 rounds: s.e. of the mean √(0.2/4000) = 0.007, so 0.04 is 5.7 s.e.; the
// sample variance's s.e. is 0.2·√(2/4000) = 0.0045, so 0.03 is 6.7 s.e. Progress: every round.
// Measured: metropolis 1.207 and 0.185 (its 25 chain rounds start from q at one fill, narrower
// than the target, and have not quite mixed), pseudo-Gibbs 1.195 and 0.202.
TEST(VaeInpaint, WithTheExactPosteriorBothChainsDrawTheConditional) {
  VaeModel model = exact_linear_vae();
  for (const bool metropolis : {true, false}) {
    Reports reports;
    const auto [mean, var] = completions(model, 50, metropolis);
    EXPECT_NEAR(mean, 1.2, 0.04) << metropolis;
    EXPECT_NEAR(var, 0.2, 0.03) << metropolis;
    ASSERT_EQ(reports.seen.size(), 50u);
    EXPECT_EQ(reports.seen.back(),
              std::make_tuple(std::string("inpaint"), int64_t{50}, int64_t{50}));
  }
}

// With a wrong encoder (mean × 0.6, variance × e) the Metropolis test keeps the chain on the
// model's conditional N(1.2, 0.2), the tolerances of the exact case above (5.7 and 6.7 s.e.);
// pseudo-Gibbs, which keeps every proposal, settles where z's mean is its own image under the
// shrunk encoder, 0.6·1.5/(2.25 − 0.6) = 0.545, far outside them. Measured (200 rounds): 1.196
// and 0.201; pseudo-Gibbs 0.545.
TEST(VaeInpaint, MetropolisCorrectsAWrongEncoderWherePseudoGibbsDoesNot) {
  VaeModel model = linear_vae(0.6, 1.0);
  const auto [mean, var] = completions(model, 200, true);
  EXPECT_NEAR(mean, 1.2, 0.04);
  EXPECT_NEAR(var, 0.2, 0.03);
  const auto [pseudo_mean, pseudo_var] = completions(model, 200, false);
  EXPECT_GT(std::abs(pseudo_mean - 1.2), 0.15) << pseudo_var;
}

TEST(VaeInpaint, EveryDecoderReturnsTheKnownPixelsExactly) {
  for (const std::string likelihood : {"gaussian", "bernoulli", "logistic"}) {
    torch::manual_seed(2);
    VaeModel model(VaeOptions({1, 6, 6}).hidden({16}).latent(3).likelihood(likelihood));
    const at::Tensor x = torch::rand({4, 1, 6, 6});
    const at::Tensor mask = (torch::rand({4, 1, 6, 6}) < 0.5).to(torch::kFloat);
    const at::Tensor out = model.inpaint(x, mask, {1, 3});
    ASSERT_EQ(out.sizes(), x.sizes()) << likelihood;
    const at::Tensor known = mask.to(torch::kBool);
    EXPECT_TRUE(torch::equal(out.masked_select(known), x.masked_select(known))) << likelihood;
    EXPECT_FALSE(torch::equal(out, x)) << likelihood;
    EXPECT_GE(out.min().item<double>(), 0.0) << likelihood;
    EXPECT_LE(out.max().item<double>(), 1.0) << likelihood;
  }
}

TEST(VaeInpaint, ModelsWithoutAnEncoderAreRefusedWithTheFix) {
  VaeModel svi(VaeOptions({2}).hidden({8}).latent(1).inference("svi").num_points(10));
  EXPECT_NE(svi.inpaint_blocker().find("amortized"), std::string::npos);
  const at::Tensor x = torch::randn({2, 2}), mask = torch::ones({2, 2});
  EXPECT_EQ(testing::error_message([&] { svi.inpaint(x, mask, {}); }), svi.inpaint_blocker());
  VaeModel amortized(VaeOptions({2}).hidden({8}).latent(1));
  EXPECT_TRUE(amortized.inpaint_blocker().empty());
  EXPECT_NE(testing::error_message([&] {
              amortized.inpaint(x, mask, {1, 0});
            }).find("gibbs"),
            std::string::npos);
}

// A conditional VAE completes each row as its class through q(z|x,y) and p(x|z,y): the class
// changes the completion (same seed), the known pixels stay exact, and missing, out-of-range or
// miscounted labels, or labels for an unconditional model, are one error each.
TEST(VaeInpaint, AConditionalVaeTakesTheClassOfEachRow) {
  torch::manual_seed(3);
  VaeModel model(
      VaeOptions({1, 6, 6}).hidden({16}).latent(3).condition(nn::Conditioning{true, 2, 0.0, 0.0}));
  const at::Tensor x = torch::rand({4, 1, 6, 6});
  const at::Tensor mask = (torch::rand({4, 1, 6, 6}) < 0.5).to(torch::kFloat);
  EXPECT_NE(testing::error_message([&] {
              model.inpaint(x, mask, {1, 4});
            }).find("--class"),
            std::string::npos);
  const auto completed = [&](const at::Tensor& labels) {
    train::InpaintOptions how{1, 4};
    how.labels = labels;
    torch::manual_seed(5);
    return model.inpaint(x, mask, how);
  };
  const at::Tensor zeros = completed(torch::zeros({4}, torch::kLong));
  const at::Tensor ones = completed(torch::ones({4}, torch::kLong));
  const at::Tensor known = mask.to(torch::kBool);
  EXPECT_TRUE(torch::equal(zeros.masked_select(known), x.masked_select(known)));
  EXPECT_FALSE(torch::equal(zeros, ones));
  EXPECT_NE(testing::error_message([&] {
              completed(torch::full({4}, 2, torch::kLong));
            }).find("outside 0..1"),
            std::string::npos);
  EXPECT_NE(testing::error_message([&] {
              completed(torch::zeros({3}, torch::kLong));
            }).find("one class per row"),
            std::string::npos);
  VaeModel plain(VaeOptions({1, 6, 6}).hidden({16}).latent(3));
  train::InpaintOptions how{1, 4};
  how.labels = torch::zeros({4}, torch::kLong);
  EXPECT_NE(testing::error_message([&] { plain.inpaint(x, mask, how); }).find("unconditional"),
            std::string::npos);
}

}  // namespace
}  // namespace deepgen::vi

#include "deepgen/score/targets.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "deepgen/core/error.h"
#include "deepgen/core/rng.h"

namespace deepgen::score {
namespace {

const auto kF64 = at::TensorOptions().dtype(at::kDouble);

at::Tensor autograd_score(const std::function<at::Tensor(const at::Tensor&)>& log_prob,
                          const at::Tensor& x) {
  const at::Tensor leaf = x.detach().requires_grad_(true);
  return torch::autograd::grad({log_prob(leaf).sum()}, {leaf})[0];
}

TEST(Targets, MixtureScoreIsTheGradientOfItsLogDensity) {
  // Unequal weights and per-component stds, points far out (|x| ~ 40) where the raw densities
  // underflow: the log-space score must still equal autograd of the log-sum-exp density.
  const GaussianMixture gmm = parse_target("gmm:1,0,0,1;2,4,-1,0.5;1,-3,3,2");
  EXPECT_NEAR(gmm.weights.sum().item<double>(), 1.0, 1e-15);  // normalised from 1:2:1
  const at::Tensor x = at::randn({64, 2}, kF64) * 15;
  const auto log_prob = [&](const at::Tensor& y) { return gmm.log_prob(y); };
  // float64 through a handful of ops: agreement to ~1e-13; 1e-10 relative is a safe bound.
  EXPECT_TRUE(gmm.score(x).allclose(autograd_score(log_prob, x), 1e-10, 1e-10));
  EXPECT_TRUE(at::isfinite(gmm.score(x * 100)).all().item<bool>());
  // Per-example noise: the density of the mixture convolved with N(0, σ_b²I).
  const at::Tensor sigma = at::rand({64}, kF64) * 3 + 0.1;
  const auto noised = [&](const at::Tensor& y) { return gmm.log_prob(y, sigma); };
  EXPECT_TRUE(gmm.score(x, sigma).allclose(autograd_score(noised, x), 1e-10, 1e-10));
}

TEST(Targets, NoisedMixtureIsTheConvolution) {
  // log N(x; μ, s²) convolved with N(0, σ²) is log N(x; μ, s² + σ²), here checked against a
  // one-component mixture written out by hand.
  const GaussianMixture g = parse_target("gaussian:1,-2,0.5");
  const at::Tensor x = at::tensor({0.3, 0.7}, kF64).view({1, 2});
  const double var = 0.25 + 4.0;
  const double want =
      -((0.3 - 1) * (0.3 - 1) + (0.7 + 2) * (0.7 + 2)) / (2 * var) - std::log(2 * M_PI * var);
  EXPECT_NEAR(g.log_prob(x, at::tensor({2.0}, kF64)).item<double>(), want, 1e-13);
  EXPECT_NEAR(g.noised(2.0).log_prob(x).item<double>(), want, 1e-13);
  const DiagGaussian d{at::tensor({1.0, -2.0}, kF64), at::tensor({0.5, 0.5}, kF64)};
  EXPECT_NEAR(d.noised(2.0).log_prob(x).item<double>(), want, 1e-13);
  EXPECT_TRUE(d.score(x).allclose(g.score(x), 1e-13, 1e-13));
}

TEST(Targets, SamplesMatchTheAnalyticMoments) {
  const GaussianMixture gmm = parse_target("gmm:0.3,-2,1,0.5;0.7,3,0,1.5");
  at::Generator gen = make_generator(21);
  const at::Tensor x = gmm.sample(200000, gen);
  // Mean: s.e. ≈ √(var/n) ≤ 0.006 per axis; 0.03 is 5 s.e. Covariance entries: s.e. ≤ 0.02.
  EXPECT_TRUE(x.mean(0).allclose(gmm.mean(), 0, 0.03)) << x.mean(0) << gmm.mean();
  const at::Tensor centred = x - x.mean(0);
  const at::Tensor cov = centred.t().matmul(centred) / x.size(0);
  EXPECT_TRUE(cov.allclose(gmm.covariance(), 0, 0.1)) << cov << gmm.covariance();
}

TEST(Targets, NcsnMixtureAndComponentFractions) {
  const GaussianMixture gmm = ncsn_gmm();
  EXPECT_TRUE(gmm.weights.allclose(at::tensor({0.2, 0.8}, kF64)));
  EXPECT_TRUE(gmm.means.allclose(at::tensor({-5.0, -5.0, 5.0, 5.0}, kF64).view({2, 2})));
  const at::Tensor points = at::tensor({-4.0, -6.0, 1.0, 0.5, 6.0, 2.0, -0.5, 0.2}, kF64);
  const at::Tensor f = component_fractions(points.view({4, 2}), gmm.means);
  EXPECT_TRUE(f.allclose(at::tensor({0.5, 0.5}, kF64))) << f;  // (−0.5, 0.2) is nearer (−5,−5)
}

TEST(Targets, ParseErrorsNameTheSpec) {
  for (const char* bad : {"gmm:", "gmm:1,0,0,1;1,0,1", "gmm:1,0,x,1", "gmm:-1,0,0,1", "gmm:1,0,0,0",
                          "laplace:0,1", "gaussian:1", "gmm"}) {
    try {
      parse_target(bad);
      ADD_FAILURE() << bad << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace deepgen::score

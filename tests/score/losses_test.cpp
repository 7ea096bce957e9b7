#include "deepgen/score/losses.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>

#include "deepgen/core/error.h"
#include "deepgen/core/rng.h"
#include "deepgen/score/kde.h"

namespace deepgen::score {
namespace {

const auto kF64 = at::TensorOptions().dtype(at::kDouble);

torch::nn::Sequential small_mlp(uint64_t seed, bool smooth) {
  torch::manual_seed(seed);
  torch::nn::Sequential net(torch::nn::Linear(2, 16),
                            smooth ? torch::nn::AnyModule(torch::nn::Softplus())
                                   : torch::nn::AnyModule(torch::nn::Tanh()),
                            torch::nn::Linear(16, 2));
  net->to(at::kDouble);
  return net;
}

at::Tensor flat_grad(const at::Tensor& loss, torch::nn::Sequential& net) {
  std::vector<at::Tensor> g = torch::autograd::grad({loss}, net->parameters());
  for (auto& t : g) t = t.flatten();
  return at::cat(g);
}

// Mean over K independent batches of a per-batch vector, and the norm of its standard error:
// ‖mean‖ of a zero-mean vector concentrates near that norm (many components), so 3× it is a
// bound that a true zero mean essentially never exceeds.
struct BatchMean {
  std::vector<at::Tensor> rows;
  at::Tensor mean() const { return at::stack(rows).mean(0); }
  at::Tensor se() const { return at::stack(rows).std(0) / std::sqrt(double(rows.size())); }
  double se_norm() const { return se().norm().item<double>(); }
};

// MATH 3.2c: ∇θ J1 = ∇θ J2 when J1 regresses on the score of the Gaussian KDE of the data and
// J2 is DSM with the same σ. Both use the same noise z (same generator seed) per batch.
TEST(Losses, ExplicitAndDenoisingScoreMatchingHaveTheSameGradient) {
  at::Generator data_gen = make_generator(41);
  const at::Tensor data = at::randn({30, 2}, data_gen, kF64) * 1.5;
  const at::Tensor x0 = data.repeat({200, 1});  // x0 exactly uniform over the data set
  const double sigma = 0.5;
  for (uint64_t theta : {1, 2, 3}) {
    auto net = small_mlp(theta, false);
    const ScoreFn s = [&](const at::Tensor& x) { return net->forward(x); };
    BatchMean diff, wrong, value_gap;
    at::Tensor g1_sum;
    for (uint64_t k = 0; k < 20; ++k) {
      at::Generator a = make_generator(100 + k), b = make_generator(100 + k);
      at::Generator c = make_generator(100 + k);
      const at::Tensor j1 = esm_kde_loss(s, x0, data, sigma, a);
      const at::Tensor j2 = dsm_loss(s, x0, sigma, b);
      const at::Tensor g1 = flat_grad(j1, net), g2 = flat_grad(j2, net);
      // Power check: a KDE of the wrong width is a different q, so its gradient must differ.
      const at::Tensor g_bad = flat_grad(esm_kde_loss(s, x0, data, 2 * sigma, c), net);
      diff.rows.push_back(g2 - g1);
      wrong.rows.push_back(g2 - g_bad);
      value_gap.rows.push_back((j2 - j1).detach().view({1}));
      g1_sum = g1_sum.defined() ? g1_sum + g1 : g1;
    }
    const double bound = 3 * diff.se_norm();
    const double gap = diff.mean().norm().item<double>();
    const double size = (g1_sum / 20).norm().item<double>();
    std::printf(
        "[ measured ] theta %d: |grad J2 - grad J1| %.2e (bound %.2e), |grad J1| %.2e, "
        "J2 - J1 = %.4f +- %.4f\n",
        int(theta), gap, bound, size, value_gap.mean().item<double>(),
        value_gap.se().item<double>());
    EXPECT_LT(gap, bound) << "theta " << theta;
    EXPECT_GT(size, 10 * bound);  // the gradients themselves are far above the MC error
    EXPECT_GT(wrong.mean().norm().item<double>(), 3 * wrong.se_norm());
  }
}

// J2 − J1 = C does not depend on θ (MATH 3.2c): the gaps at two θ agree within MC error.
TEST(Losses, DenoisingMinusExplicitIsAConstant) {
  at::Generator data_gen = make_generator(42);
  const at::Tensor data = at::randn({30, 2}, data_gen, kF64);
  const at::Tensor x0 = data.repeat({200, 1});
  auto net_a = small_mlp(4, false), net_b = small_mlp(5, false);
  BatchMean delta;
  for (uint64_t k = 0; k < 20; ++k) {
    at::Tensor gaps[2];
    int i = 0;
    for (auto* net : {&net_a, &net_b}) {
      const ScoreFn s = [&](const at::Tensor& x) { return (*net)->forward(x); };
      at::Generator a = make_generator(200 + k), b = make_generator(200 + k);
      gaps[i++] = dsm_loss(s, x0, 0.4, b) - esm_kde_loss(s, x0, data, 0.4, a);
    }
    delta.rows.push_back((gaps[0] - gaps[1]).detach().view({1}));
  }
  // 5 s.e. of the difference of the two gaps (one number: a plain z-test).
  EXPECT_NEAR(delta.mean().item<double>(), 0.0, 5 * delta.se().item<double>());
}

// Sliced SM (variance-reduced) equals Hyvärinen's E[½‖s‖² + tr ∇s], which is the explicit
// J1 against the true score minus ½E‖∇log p‖² (= ½ tr Σ⁻¹ for N(μ, Σ)). A smooth MLP on a
// correlated Gaussian: the values differ by that constant and the θ-gradients agree; the
// gradient only agrees if the trace term is differentiated (create_graph).
TEST(Losses, SlicedScoreMatchingMatchesExplicitOnAGaussian) {
  const at::Tensor mu = at::tensor({0.5, -1.0}, kF64);
  const at::Tensor cov = at::tensor({1.0, 0.5, 0.5, 2.0}, kF64).view({2, 2});
  const at::Tensor chol = at::linalg_cholesky(cov), precision = at::inverse(cov);
  const double constant = 0.5 * precision.trace().item<double>();
  for (int64_t slices : {1, 3}) {
    auto net = small_mlp(6, true);
    const ScoreFn s = [&](const at::Tensor& x) { return net->forward(x); };
    BatchMean diff, offset;
    for (uint64_t k = 0; k < 20; ++k) {
      at::Generator gen = make_generator(300 + k);
      const at::Tensor x = mu + at::randn({4000, 2}, gen, kF64).matmul(chol.t());
      const at::Tensor ssm = ssm_loss(s, x, slices, gen);
      const at::Tensor esm = esm_loss(s(x), -(x - mu).matmul(precision));
      diff.rows.push_back(flat_grad(ssm, net) - flat_grad(esm, net));
      offset.rows.push_back((esm - ssm).detach().view({1}));
    }
    std::printf(
        "[ measured ] ssm slices %d: J1 - J_ssm = %.4f +- %.4f (0.5 tr inv(S) = %.4f), "
        "|grad diff| %.2e (bound %.2e)\n",
        int(slices), offset.mean().item<double>(), offset.se().item<double>(), constant,
        diff.mean().norm().item<double>(), 3 * diff.se_norm());
    EXPECT_NEAR(offset.mean().item<double>(), constant, 5 * offset.se().item<double>());
    EXPECT_LT(diff.mean().norm().item<double>(), 3 * diff.se_norm());
  }
}

TEST(Losses, NcsnLossAtTheGaussianOptimumIsDOverTwoOnePlusSigmaSquared) {
  // Data N(0, I) in D = 3: the noised score is −x/(1 + σ²), and the σ²-weighted loss at that
  // optimum is ½E‖σ s* + z‖² = (D/2)/(1 + σ²) at each level; a zero net gives D/2 everywhere.
  const std::vector<double> sigmas = geometric_sigmas(5.0, 0.1, 4);
  const NoiseScoreFn best = [](const at::Tensor& x, const at::Tensor& s) {
    return -x / (1 + s.pow(2)).view({-1, 1});
  };
  const NoiseScoreFn zero = [](const at::Tensor& x, const at::Tensor&) {
    return at::zeros_like(x);
  };
  at::Generator gen = make_generator(43);
  const at::Tensor x0 = at::randn({100000, 3}, gen, kF64);
  const at::Tensor levels = ncsn_level_losses(best, x0, sigmas, gen);
  double average = 0;
  for (size_t i = 0; i < sigmas.size(); ++i) {
    const double want = 1.5 / (1 + sigmas[i] * sigmas[i]);
    average += want / static_cast<double>(sigmas.size());
    // σs* + z = (z − σx0)/(1 + σ²) ~ N(0, c I_3), c = 1/(1 + σ²): ½‖·‖² has mean 1.5c and
    // s.d. c√1.5, so over 1e5 examples the s.e. is c√1.5/√1e5 (≤ 0.004); 5 s.e.
    const double c = 1 / (1 + sigmas[i] * sigmas[i]);
    EXPECT_NEAR(levels[i].item<double>(), want, 5 * c * std::sqrt(1.5 / 1e5));
  }
  // One random level per example: the mean over levels, plus the spread of levels (≤ 1.5).
  EXPECT_NEAR(ncsn_loss(best, x0, sigmas, gen).item<double>(), average, 0.02);
  EXPECT_NEAR(ncsn_loss(zero, x0, sigmas, gen).item<double>(), 1.5, 0.02);  // s.e. 0.004
}

// MATH 3.2d: dsm_loss is J2 with the Gaussian kernel; esm_kde_loss is the J1 of MATH 3.2.
TEST(Losses, DenoisingLossIsTheFormulaOfMath32d) {
  // Same generator state: the loss must be ½‖s(x0 + σz) + z/σ‖² with exactly this z, and the
  // KDE loss draws the same z (the promise the J1/J2 test relies on).
  const at::Tensor x0 = at::randn({5, 2}, kF64);
  const ScoreFn s = [](const at::Tensor& x) { return 2 * x + 1; };
  at::Generator a = make_generator(44), b = make_generator(44), c = make_generator(44);
  const at::Tensor z = at::randn({5, 2}, a, kF64);
  const double want = (0.5 * (s(x0 + 0.3 * z) + z / 0.3).pow(2).sum(1)).mean().item<double>();
  EXPECT_NEAR(dsm_loss(s, x0, 0.3, b).item<double>(), want, 1e-12);
  const at::Tensor data = at::randn({9, 2}, kF64);
  const at::Tensor x = x0 + 0.3 * z;
  const double j1 = esm_loss(s(x), kde_score(x, data, 0.3)).item<double>();
  EXPECT_NEAR(esm_kde_loss(s, x0, data, 0.3, c).item<double>(), j1, 1e-12);
}

TEST(Losses, GeometricLadder) {
  const std::vector<double> s = geometric_sigmas(1.0, 0.01, 10);
  ASSERT_EQ(s.size(), 10u);
  EXPECT_DOUBLE_EQ(s.front(), 1.0);
  EXPECT_NEAR(s.back(), 0.01, 1e-15);
  for (size_t i = 1; i < s.size(); ++i) EXPECT_NEAR(s[i - 1] / s[i], 1.6681005372, 1e-9);
  EXPECT_NEAR(geometric_sigmas(50, 0.01, 232)[0] / geometric_sigmas(50, 0.01, 232)[1], 1.0376,
              1e-4);  // NCSNv2 CIFAR-10 ladder (score.md §7)
  EXPECT_THROW(geometric_sigmas(1.0, 0.0, 10), Error);
  EXPECT_THROW(geometric_sigmas(1.0, 0.1, 0), Error);
}

}  // namespace
}  // namespace deepgen::score

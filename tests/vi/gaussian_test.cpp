#include "deepgen/vi/gaussian.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "deepgen/core/rng.h"

namespace deepgen::vi {
namespace {

constexpr double kPi = 3.14159265358979323846;

at::TensorOptions f64() { return at::TensorOptions().dtype(at::kDouble); }

// log N(x; m, v) written out independently of the library.
at::Tensor hand_log_normal(const at::Tensor& x, const at::Tensor& m, const at::Tensor& v) {
  return -0.5 * std::log(2.0 * kPi) - 0.5 * v.log() - (x - m).pow(2) / (2.0 * v);
}

struct McEstimate {
  at::Tensor mean;  // per column
  at::Tensor se;    // standard error of the mean, per column
};

// Monte-Carlo estimate of KL(N(mu1, e^lv1) || N(mu2, e^lv2)) = E_q[log q − log p], one estimate
// per element of the (K,) parameter vectors, from n draws each.
McEstimate mc_kl(const at::Tensor& mu1, const at::Tensor& lv1, const at::Tensor& mu2,
                 const at::Tensor& lv2, int64_t n, uint64_t seed) {
  at::Generator gen = make_generator(seed);
  const at::Tensor eps = at::randn({n, mu1.size(0)}, gen, f64());
  const at::Tensor z = mu1 + (0.5 * lv1).exp() * eps;
  const at::Tensor d =
      hand_log_normal(z, mu1, lv1.exp()) - hand_log_normal(z, mu2, lv2.exp());  // (n, K)
  return {d.mean(0), d.std(0) / std::sqrt(static_cast<double>(n))};
}

TEST(GaussianKl, StandardNormalMatchesMonteCarlo) {
  const at::Tensor mu = at::tensor({1.5, -0.7, 0.0, 2.0, 0.3}, f64());
  const at::Tensor lv = at::tensor({0.0, -1.2, 0.8, 0.5, -0.3}, f64());
  const at::Tensor zero = at::zeros_like(mu);
  const McEstimate mc = mc_kl(mu, lv, zero, zero, 400000, 11);
  const at::Tensor closed = kl_standard_normal(mu, lv);
  for (int64_t k = 0; k < mu.size(0); ++k) {
    // Tolerance: 5 Monte-Carlo standard errors (a false failure has probability ~6e-7 per case).
    const double tol = 5.0 * mc.se[k].item<double>();
    EXPECT_NEAR(closed[k].item<double>(), mc.mean[k].item<double>(), tol) << "case " << k;
    EXPECT_GT(closed[k].item<double>(), 0.0);
  }
}

TEST(GaussianKl, StandardNormalIsGeneralKlAgainstUnitGaussian) {
  torch::manual_seed(3);
  const at::Tensor mu = at::randn({64, 7}, f64()) * 3.0;
  const at::Tensor lv = at::randn({64, 7}, f64()) * 2.0;
  const at::Tensor zero = at::zeros_like(mu);
  const at::Tensor a = kl_standard_normal(mu, lv);
  const at::Tensor b = gaussian_kl(mu, lv, zero, zero);
  EXPECT_EQ(a.sizes(), mu.sizes());
  // Same formula in float64: only rounding differs, values are O(10), so 1e-12 is ~1e4 ulps.
  EXPECT_LT((a - b).abs().max().item<double>(), 1e-12);
  // And both equal the MATH 1.4 expression ½(μ² + σ² − 1 − log σ²).
  const at::Tensor hand = 0.5 * (mu.pow(2) + lv.exp() - 1.0 - lv);
  EXPECT_LT((a - hand).abs().max().item<double>(), 1e-12);
}

TEST(GaussianKl, GeneralPairsMatchMonteCarlo) {
  const at::Tensor mu1 = at::tensor({0.5, -1.0, 2.0, 0.0}, f64());
  const at::Tensor lv1 = at::tensor({0.3, -0.5, 1.0, -2.0}, f64());
  const at::Tensor mu2 = at::tensor({-0.5, 1.5, 1.0, 0.2}, f64());
  const at::Tensor lv2 = at::tensor({1.0, 0.4, 0.0, -1.5}, f64());
  const McEstimate mc = mc_kl(mu1, lv1, mu2, lv2, 400000, 12);
  const at::Tensor closed = gaussian_kl(mu1, lv1, mu2, lv2);
  for (int64_t k = 0; k < mu1.size(0); ++k) {
    const double tol = 5.0 * mc.se[k].item<double>();  // 5 MC standard errors
    EXPECT_NEAR(closed[k].item<double>(), mc.mean[k].item<double>(), tol) << "case " << k;
  }
  // KL is not symmetric: the reverse direction is a different number for these pairs.
  const at::Tensor reverse = gaussian_kl(mu2, lv2, mu1, lv1);
  EXPECT_GT((closed - reverse).abs().min().item<double>(), 1e-3);
}

TEST(GaussianKl, NonNegativeAndZeroOnlyForEqualGaussians) {
  torch::manual_seed(5);
  const at::Tensor mu1 = at::randn({2000}, f64()) * 2.0, lv1 = at::randn({2000}, f64());
  const at::Tensor mu2 = at::randn({2000}, f64()) * 2.0, lv2 = at::randn({2000}, f64());
  EXPECT_GT(gaussian_kl(mu1, lv1, mu2, lv2).min().item<double>(), 0.0);
  // Equal arguments: exactly representable cancellation up to rounding (O(1) terms, 1e-14).
  EXPECT_LT(gaussian_kl(mu1, lv1, mu1, lv1).abs().max().item<double>(), 1e-14);
  EXPECT_LT(
      kl_standard_normal(at::zeros({3}, f64()), at::zeros({3}, f64())).abs().max().item<double>(),
      1e-15);
  // A tiny difference in either parameter already gives a strictly positive KL (≈ δ²/2 scale).
  const at::Tensor shifted_mu = gaussian_kl(mu1 + 1e-3, lv1, mu1, lv1);
  const at::Tensor shifted_lv = gaussian_kl(mu1, lv1 + 1e-3, mu1, lv1);
  EXPECT_GT(shifted_mu.min().item<double>(), 0.0);
  EXPECT_GT(shifted_lv.min().item<double>(), 0.0);
  // Second-order: KL(mu + δ || mu) = δ² / (2 e^lv) exactly for equal variances.
  const at::Tensor expected = 1e-6 / (2.0 * lv1.exp());
  EXPECT_LT(((shifted_mu - expected).abs() / expected).max().item<double>(), 1e-6);
}

TEST(GaussianLogProb, MatchesHandFormula) {
  torch::manual_seed(7);
  const at::Tensor x = at::randn({50, 3}, f64()) * 3.0;
  const at::Tensor mean = at::randn({50, 3}, f64());
  const at::Tensor lv = at::randn({50, 3}, f64());
  const at::Tensor got = gaussian_log_prob(x, mean, lv);
  const at::Tensor expected = hand_log_normal(x, mean, lv.exp());
  EXPECT_EQ(got.sizes(), x.sizes());
  // float64 rounding on values of size O(10-100): 1e-10 absolute is ample.
  EXPECT_LT((got - expected).abs().max().item<double>(), 1e-10);
  // Broadcasting a scalar log-variance (how the VAE decoder calls it).
  const at::Tensor lv_scalar = at::full({1}, -0.4, f64());
  EXPECT_LT((gaussian_log_prob(x, mean, lv_scalar) -
             hand_log_normal(x, mean, at::full({1}, std::exp(-0.4), f64())))
                .abs()
                .max()
                .item<double>(),
            1e-10);
}

TEST(GaussianLogProb, DensityIntegratesToOneWithRightMoments) {
  const std::vector<std::pair<double, double>> cases{{0.0, 0.0}, {1.3, -1.5}, {-2.0, 1.2}};
  for (const auto& [m, lv] : cases) {
    const double s = std::exp(0.5 * lv);
    const int64_t n = 20001;
    // Grid over ±12σ: the truncated tail mass is < 1e-32; the trapezoid rule on a smooth,
    // rapidly decaying integrand is spectrally accurate, so 1e-9 is a generous tolerance.
    const at::Tensor x = at::linspace(m - 12.0 * s, m + 12.0 * s, n, f64());
    const double dx = (24.0 * s) / static_cast<double>(n - 1);
    const at::Tensor p =
        gaussian_log_prob(x, at::full({1}, m, f64()), at::full({1}, lv, f64())).exp();
    const double mass = at::trapezoid(p, dx).item<double>();
    const double mean = at::trapezoid(p * x, dx).item<double>();
    const double var = at::trapezoid(p * (x - m).pow(2), dx).item<double>();
    EXPECT_NEAR(mass, 1.0, 1e-9) << "m=" << m << " lv=" << lv;
    EXPECT_NEAR(mean, m, 1e-9);
    EXPECT_NEAR(var, std::exp(lv), 1e-9);
  }
}

TEST(BernoulliLogProb, MatchesLogSigmoidForAnyTarget) {
  const at::Tensor logits = at::linspace(-15.0, 15.0, 61, f64());
  for (double t : {0.0, 1.0, 0.3}) {
    const at::Tensor x = at::full_like(logits, t);
    const at::Tensor got = bernoulli_log_prob(x, logits);
    // x log σ(l) + (1 − x) log(1 − σ(l)) with log(1 − σ(l)) = log σ(−l).
    const at::Tensor expected = x * at::log_sigmoid(logits) + (1.0 - x) * at::log_sigmoid(-logits);
    // Algebraically identical in float64 on |l| ≤ 15: 1e-12 absolute.
    EXPECT_LT((got - expected).abs().max().item<double>(), 1e-12) << "x=" << t;
  }
  // The naive form log(sigmoid) agrees where it is itself accurate.
  const at::Tensor l = at::linspace(-5.0, 5.0, 21, f64());
  EXPECT_LT(
      (bernoulli_log_prob(at::ones_like(l), l) - at::sigmoid(l).log()).abs().max().item<double>(),
      1e-12);
}

TEST(BernoulliLogProb, StableAtExtremeLogits) {
  for (auto dtype : {at::kDouble, at::kFloat}) {
    const at::Tensor logits = at::tensor({100.0, -100.0, 100.0, -100.0}).to(dtype);
    const at::Tensor x = at::tensor({1.0, 0.0, 0.0, 1.0}).to(dtype);
    const at::Tensor got = bernoulli_log_prob(x, logits).to(at::kDouble);
    EXPECT_TRUE(got.isfinite().all().item<bool>()) << got;
    // Confident and right: log σ(100) = −e^−100 ≈ 0; confident and wrong: ≈ −100 (exactly
    // −100 − log1p(e^−100)). Tolerance 1e-5 covers float32 rounding of 100.
    EXPECT_NEAR(got[0].item<double>(), 0.0, 1e-5);
    EXPECT_NEAR(got[1].item<double>(), 0.0, 1e-5);
    EXPECT_NEAR(got[2].item<double>(), -100.0, 1e-5);
    EXPECT_NEAR(got[3].item<double>(), -100.0, 1e-5);
    const at::Tensor ref =
        (x * at::log_sigmoid(logits) + (1 - x) * at::log_sigmoid(-logits)).to(at::kDouble);
    EXPECT_LT((got - ref).abs().max().item<double>(), 1e-5);
  }
  // The naive log(sigmoid(−100)) underflows in float32 to log(0) = −inf; ours does not.
  const at::Tensor l32 = at::full({1}, -100.0f);
  EXPECT_TRUE(std::isinf(at::sigmoid(l32).log().item<float>()));
  EXPECT_TRUE(std::isfinite(bernoulli_log_prob(at::ones_like(l32), l32).item<float>()));
}

TEST(Reparameterize, ValuesAndMoments) {
  torch::manual_seed(9);
  const at::Tensor mu = at::tensor({0.5, -2.0}, f64()), lv = at::tensor({-1.0, 1.4}, f64());
  const int64_t n = 200000;
  const at::Tensor eps = at::randn({n, 2}, f64());
  const at::Tensor z = reparameterize(mu, lv, eps);
  EXPECT_LT((z - (mu + (0.5 * lv).exp() * eps)).abs().max().item<double>(), 1e-14);
  // Sample mean: tolerance 5 standard errors σ/√n. Sample variance: 5 × σ²√(2/n).
  for (int64_t k = 0; k < 2; ++k) {
    const double var = std::exp(lv[k].item<double>());
    EXPECT_NEAR(z.select(1, k).mean().item<double>(), mu[k].item<double>(),
                5.0 * std::sqrt(var / n));
    EXPECT_NEAR(z.select(1, k).var().item<double>(), var, 5.0 * var * std::sqrt(2.0 / n));
  }
}

TEST(Reparameterize, GradientsMatchCentralFiniteDifferences) {
  torch::manual_seed(13);
  const at::Tensor mu0 = at::randn({6}, f64()), lv0 = at::randn({6}, f64());
  const at::Tensor eps = at::randn({6}, f64()), c = at::randn({6}, f64());
  auto f = [&](const at::Tensor& mu, const at::Tensor& lv) {
    return (reparameterize(mu, lv, eps).sin() * c).sum();
  };
  at::Tensor mu = mu0.clone().requires_grad_(true), lv = lv0.clone().requires_grad_(true);
  f(mu, lv).backward();
  ASSERT_TRUE(mu.grad().defined());
  ASSERT_TRUE(lv.grad().defined());

  // Central differences, h = 1e-5: truncation error ~h²·|f'''| ≈ 1e-10, rounding ~1e-16/h ≈
  // 1e-11, so 1e-6 leaves a wide margin while any wrong factor (e.g. a missing ½) is O(0.1).
  const double h = 1e-5;
  torch::NoGradGuard no_grad;
  for (int64_t i = 0; i < 6; ++i) {
    at::Tensor e = at::zeros({6}, f64());
    e[i] = h;
    const double dmu = (f(mu0 + e, lv0).item<double>() - f(mu0 - e, lv0).item<double>()) / (2 * h);
    const double dlv = (f(mu0, lv0 + e).item<double>() - f(mu0, lv0 - e).item<double>()) / (2 * h);
    EXPECT_NEAR(mu.grad()[i].item<double>(), dmu, 1e-6) << "mu " << i;
    EXPECT_NEAR(lv.grad()[i].item<double>(), dlv, 1e-6) << "logvar " << i;
  }
  // Analytic check: ∂f/∂μ = c cos z, ∂f/∂lv = c cos z · eps · ½e^{lv/2}.
  const at::Tensor z = mu0 + (0.5 * lv0).exp() * eps;
  EXPECT_LT((mu.grad() - c * z.cos()).abs().max().item<double>(), 1e-12);
  EXPECT_LT((lv.grad() - c * z.cos() * eps * 0.5 * (0.5 * lv0).exp()).abs().max().item<double>(),
            1e-12);
}

}  // namespace
}  // namespace deepgen::vi

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

// Discretised logistic (PixelCNN++ eq. 2) written out directly in float64: log of the plain
// difference of the two CDFs, with open edge bins. Each CDF is taken from the side where it is
// far from 1 (σ(a) − σ(b) = σ(−b) − σ(−a)), so only genuine underflow can make it −∞.
at::Tensor direct_logistic_log_prob(const at::Tensor& k, const at::Tensor& mean,
                                    const at::Tensor& log_scale) {
  const at::Tensor s = log_scale.exp();
  const at::Tensor a = ((k + 0.5) / 255.0 - mean) / s, b = ((k - 0.5) / 255.0 - mean) / s;
  const at::Tensor cdf_a = torch::where(k == 255, torch::ones_like(a), torch::sigmoid(a));
  const at::Tensor cdf_b = torch::where(k == 0, torch::zeros_like(b), torch::sigmoid(b));
  const at::Tensor tail_a = torch::where(k == 255, torch::zeros_like(a), torch::sigmoid(-a));
  const at::Tensor tail_b = torch::where(k == 0, torch::ones_like(b), torch::sigmoid(-b));
  return torch::where(b > 0, tail_b - tail_a, cdf_a - cdf_b).log();
}

// Every level k/255 as a column, against parameters as a row: (256, P).
at::Tensor all_levels(at::ScalarType dtype) {
  return (at::arange(256, f64()) / 255.0).to(dtype).unsqueeze(1);
}

TEST(DiscretizedLogistic, The256ProbabilitiesSumToOneForAnyMeanAndScale) {
  torch::manual_seed(21);
  // Random means, including outside [0, 1] where the open edge bins hold most of the mass, and
  // log-scales from s = 6e-6 (below the VAE's floor e^-7) to s = 2e4; then named extremes.
  const at::Tensor mean =
      torch::cat({torch::rand({40}, f64()) * 2.0 - 0.5,
                  torch::tensor({0.5, 0.0, 1.0, -0.3, 1.4, 0.5, 0.37, 0.999, 0.2}, f64())});
  const at::Tensor log_scale = torch::cat(
      {torch::rand({40}, f64()) * 22.0 - 12.0,
       torch::tensor({-7.0, -7.0, -7.0, -7.0, 5.0, 10.0, std::log(1e-3), -12.0, 0.0}, f64())});
  for (at::ScalarType dtype : {at::kFloat, at::kDouble}) {
    const at::Tensor lp = discretized_logistic_log_prob(
        all_levels(dtype), mean.to(dtype).unsqueeze(0), log_scale.to(dtype).unsqueeze(0));
    ASSERT_EQ(lp.sizes(), (at::IntArrayRef{256, 49}));
    EXPECT_TRUE(lp.isfinite().all().item<bool>()) << dtype;
    EXPECT_LE(lp.max().item<double>(), 0.0) << dtype;  // a probability: log P ≤ 0
    // Each P(k) is accurate to a few ulps relative and the edges telescope bit for bit, so the
    // sum is 1 to ~256 ulps: 1e-5 in float32, 1e-12 in float64. Closed edge bins miss by more
    // than 1e-3 for some of these parameters (the means outside [0, 1], the huge scales).
    const double tol = dtype == at::kFloat ? 1e-5 : 1e-12;
    const at::Tensor log_total = torch::logsumexp(lp.to(at::kDouble), 0);
    EXPECT_LT(log_total.abs().max().item<double>(), tol) << dtype << "\n" << log_total;
  }
}

TEST(DiscretizedLogistic, MatchesTheDirectFloat64DifferenceForModerateValues) {
  torch::manual_seed(22);
  // Moderate: s ∈ [e^-3, e], so |(x± − μ)/s| ≤ ~30 and the direct float64 difference keeps
  // all but ~1e-3 of its precision at worst.
  at::Tensor k = torch::randint(0, 256, {2000}, f64());
  k.slice(0, 0, 20).fill_(0.0);  // both open edges are among them
  k.slice(0, 20, 40).fill_(255.0);
  const at::Tensor mean32 = torch::rand({2000}) * 1.4 - 0.2;
  const at::Tensor ls32 = torch::rand({2000}) * 4.0 - 3.0;
  // The same parameter values in both precisions: only the arithmetic differs.
  const at::Tensor mean = mean32.to(at::kDouble), log_scale = ls32.to(at::kDouble);
  const at::Tensor want = direct_logistic_log_prob(k, mean, log_scale);
  ASSERT_TRUE(want.isfinite().all().item<bool>());
  const at::Tensor got64 = discretized_logistic_log_prob(k / 255.0, mean, log_scale);
  // float64: two exact formulas of one number; 1e-10 relative is ~1e6 ulps of room for the
  // direct form's cancellation, while a wrong edge or bin width is off by more than 1e-3.
  EXPECT_LT(((got64 - want).abs() / (want.abs() + 1.0)).max().item<double>(), 1e-10);
  // float32: the rounded edges (k ± ½)/255 shift a by |a|·1e-7, which moves log P by up to
  // |a|²·1e-7 ≈ 1e-4 in the tails where |log P| ≈ |a|; 1e-5·(1 + |log P|) covers that.
  const at::Tensor got32 =
      discretized_logistic_log_prob((k / 255.0).to(at::kFloat), mean32, ls32).to(at::kDouble);
  EXPECT_LT(((got32 - want).abs() / (want.abs() + 1.0)).max().item<double>(), 1e-5);
}

TEST(DiscretizedLogistic, StaysExactWhereTheDirectDifferenceUnderflows) {
  // s = 5e-3, μ = 0.9: bins far below μ have P ≈ e^-150, zero in float32 but not in float64.
  const at::Tensor k = torch::arange(0, 101, f64());
  const at::Tensor mean = torch::full({101}, 0.9, f64());
  const at::Tensor ls = torch::full({101}, std::log(5e-3), f64());
  auto f32 = [](const at::Tensor& t) { return t.to(at::kFloat); };
  const at::Tensor direct32 = direct_logistic_log_prob(f32(k), f32(mean), f32(ls));
  EXPECT_FALSE(direct32.isfinite().all().item<bool>());  // the regime is real: −∞ in float32
  const at::Tensor want = direct_logistic_log_prob(k, mean, ls);
  ASSERT_TRUE(want.isfinite().all().item<bool>());
  const at::Tensor got =
      discretized_logistic_log_prob(f32(k / 255.0), f32(mean), f32(ls)).to(at::kDouble);
  ASSERT_TRUE(got.isfinite().all().item<bool>());
  // |log P| ≤ 180 here: float32's ~1e-7 relative error in a gives ≤ 1e-5·|log P|.
  EXPECT_LT(((got - want).abs() / want.abs()).max().item<double>(), 1e-5);

  // s = 1e-3 and 1e-4, μ = 1: P(0) ≈ e^-1000, below even float64. In the far left tail
  // σ(a) − σ(b) = e^a(1 − e^−(a−b))(1 + O(e^a)), so log P = a + log(1 − e^(−1/(255 s))) there,
  // and log σ(a) = a at k = 0.
  for (double s : {1e-3, 1e-4}) {
    const at::Tensor kk = torch::tensor({0.0, 1.0, 10.0, 100.0}, f64());
    const at::Tensor a = ((kk + 0.5) / 255.0 - 1.0) / s;
    const double gap = std::log1p(-std::exp(-1.0 / (255.0 * s)));
    const at::Tensor asym = a + torch::where(kk == 0, torch::zeros_like(a), a * 0.0 + gap);
    const at::Tensor lp = discretized_logistic_log_prob(f32(kk / 255.0), torch::ones({4}),
                                                        torch::full({4}, std::log(s)))
                              .to(at::kDouble);
    ASSERT_TRUE(lp.isfinite().all().item<bool>()) << s;
    EXPECT_LT(((lp - asym).abs() / asym.abs()).max().item<double>(), 1e-5) << s << "\n" << lp;
  }
}

TEST(DiscretizedLogistic, GradientsAreFiniteAndMatchFiniteDifferences) {
  // Extremes included: tiny and huge s (log s = 15 is where a careless log1mexp branch gives
  // 0·∞ = NaN in backward), means far outside [0, 1], both open edges.
  const at::Tensor k =
      torch::tensor({0.0, 255.0, 1.0, 128.0, 254.0, 3.0, 200.0, 0.0, 255.0}, f64());
  const at::Tensor m0 = torch::tensor({0.3, 0.7, 0.01, -2.0, 3.0, 0.5, 0.5, 0.9, 0.1}, f64());
  const at::Tensor l0 = torch::tensor({-1.0, -2.0, -7.0, 15.0, 0.5, -5.0, 15.0, -6.9, -6.9}, f64());
  for (at::ScalarType dtype : {at::kFloat, at::kDouble}) {
    // Copies: for float64, .to() would return m0 itself.
    at::Tensor m = m0.to(dtype, false, true).requires_grad_(true);
    at::Tensor l = l0.to(dtype, false, true).requires_grad_(true);
    discretized_logistic_log_prob((k / 255.0).to(dtype), m, l).sum().backward();
    EXPECT_TRUE(m.grad().isfinite().all().item<bool>()) << dtype << m.grad();
    EXPECT_TRUE(l.grad().isfinite().all().item<bool>()) << dtype << l.grad();
  }
  at::Tensor m = m0.clone().requires_grad_(true), l = l0.clone().requires_grad_(true);
  discretized_logistic_log_prob(k / 255.0, m, l).sum().backward();
  // Central differences in float64, h = 1e-6: the third derivative is at most ~(1/s)^3 ≈ 1e9
  // at s = e^-7, so truncation is up to ~h²·1e9 = 1e-3 there against |f'| ≈ 1/s ≈ 1e3; hence
  // the relative 1e-4·(1 + |f'|). A wrong factor (a missing 1/s, a sign) is off by O(1) relative.
  const double h = 1e-6;
  torch::NoGradGuard no_grad;
  auto f = [&](const at::Tensor& mm, const at::Tensor& ll) {
    return discretized_logistic_log_prob(k / 255.0, mm, ll).sum().item<double>();
  };
  for (int64_t i = 0; i < k.size(0); ++i) {
    at::Tensor e = torch::zeros({k.size(0)}, f64());
    e[i] = h;
    const double dm = (f(m0 + e, l0) - f(m0 - e, l0)) / (2 * h);
    const double dl = (f(m0, l0 + e) - f(m0, l0 - e)) / (2 * h);
    EXPECT_NEAR(m.grad()[i].item<double>(), dm, 1e-4 * (1.0 + std::abs(dm))) << "mean " << i;
    EXPECT_NEAR(l.grad()[i].item<double>(), dl, 1e-4 * (1.0 + std::abs(dl))) << "log-scale " << i;
  }
}

}  // namespace
}  // namespace deepgen::vi

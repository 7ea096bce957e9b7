// MATH 2a–2h in float64 against brute-force Gaussian algebra, Bayes' rule on a grid, and
// closed forms.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "deepgen/diffusion/schedule.h"
#include "deepgen/diffusion/vdm.h"

namespace dd = deepgen::diffusion;

namespace {

const auto kF64 = torch::kFloat64;
at::Tensor scalar(double v) { return torch::tensor(v, kF64); }
double item(const at::Tensor& t) { return t.item<double>(); }

}  // namespace

// Near γ = ±13 the naive 1 − sigmoid(γ) loses every digit; long double is the reference.
TEST(VdmMath, CoefficientsAreStableAtTheEndsOfTheSchedule) {
  for (double g : {-13.3, -13.0, 0.0, 5.0, 13.0}) {
    const long double s2 = 1.0L / (1.0L + std::exp(-static_cast<long double>(g)));
    const long double a2 = 1.0L / (1.0L + std::exp(static_cast<long double>(g)));
    auto gt = scalar(g);
    // 1e-14 relative: a few float64 ulps, where the naive 1 − σ² is off by up to 1e-4 at γ=13.
    EXPECT_NEAR(item(dd::sigma2(gt)) / static_cast<double>(s2), 1.0, 1e-14) << g;
    EXPECT_NEAR(item(dd::alpha2(gt)) / static_cast<double>(a2), 1.0, 1e-14) << g;
    EXPECT_NEAR(item(dd::log_sigma2(gt)), static_cast<double>(std::log(s2)), 1e-14) << g;
    EXPECT_NEAR(item(dd::log_alpha2(gt)), static_cast<double>(std::log(a2)), 1e-14) << g;
    EXPECT_NEAR(item(dd::snr(gt)) / static_cast<double>(a2 / s2), 1.0, 1e-13) << g;
  }
}

// MATH 2a: Var[z_t] = α_t² Var[x] + σ_t² = 1 when Var[x] = 1, exactly and by sampling.
TEST(VdmMath, ForwardMarginalPreservesUnitVariance) {
  torch::manual_seed(0);
  auto x = torch::randn({200000}, kF64);
  x = (x - x.mean()) / x.std();
  for (double g : {-10.0, -1.0, 0.0, 2.0, 5.0}) {
    auto q = dd::forward_marginal(x.unsqueeze(1), scalar(g));
    const double a2 = item(dd::alpha2(scalar(g)));
    EXPECT_NEAR(a2 + item(q.var), 1.0, 1e-15);
    auto z = q.mean + q.var.sqrt() * torch::randn({200000, 1}, kF64);
    // 4 standard errors of a variance estimate from 2e5 draws: 4·sqrt(2/2e5) = 0.013.
    EXPECT_NEAR(item(z.var()), 1.0, 0.013) << g;
  }
}

// MATH 2b, MATH 2c: q(z_t|x) = ∫ q(z_t|z_s) q(z_s|x) dz_s — means and variances compose exactly.
TEST(VdmMath, TransitionComposesWithTheMarginal) {
  auto x = torch::tensor({{-0.7, 0.2, 0.99}}, kF64);
  for (auto [gs, gt] : {std::pair{-13.3, -13.0}, std::pair{-5.0, 0.5}, std::pair{1.0, 5.0}}) {
    auto qs = dd::forward_marginal(x, scalar(gs));
    auto ts = dd::transition(qs.mean, scalar(gs), scalar(gt));  // mean is linear in z_s
    auto a_ts = ts.mean / qs.mean;
    auto qt = dd::forward_marginal(x, scalar(gt));
    EXPECT_TRUE(torch::allclose(ts.mean, qt.mean, 1e-13, 0));
    auto var = a_ts.pow(2) * qs.var + ts.var;
    EXPECT_TRUE(torch::allclose(var, qt.var.expand_as(var), 1e-12, 0)) << gs << " " << gt;
  }
}

// MATH 2d against the conditional of the joint Gaussian (z_s, z_t) | x.
TEST(VdmMath, PosteriorMatchesGaussianConditioning) {
  torch::manual_seed(1);
  auto x = torch::rand({4, 3}, kF64) * 2 - 1;
  auto z_t = torch::randn({4, 3}, kF64);
  for (auto [gs, gt] : {std::pair{-13.3, -12.9}, std::pair{-4.0, 1.0}, std::pair{3.0, 5.0}}) {
    const double as = std::sqrt(1 / (1 + std::exp(gs))), at = std::sqrt(1 / (1 + std::exp(gt)));
    const double s2s = 1 / (1 + std::exp(-gs)), s2t = 1 / (1 + std::exp(-gt));
    const double cov = s2s * at / as;  // Cov(z_s, z_t | x) = a_{t|s} σ_s²
    auto mean = as * x + cov / s2t * (z_t - at * x);
    const double var = s2s - cov * cov / s2t;
    auto p = dd::posterior(z_t, x, scalar(gs), scalar(gt));
    // 1e-9: the reference subtracts nearly equal numbers (var ≈ 1e-8 at the low end).
    EXPECT_TRUE(torch::allclose(p.mean, mean, 1e-9, 1e-12)) << gs;
    EXPECT_NEAR(item(p.var) / var, 1.0, 1e-6) << gs;
  }
}

// MATH 2d by Bayes' rule numerically: q(z_s|z_t,x) ∝ q(z_t|z_s) q(z_s|x) on a fine grid of z_s.
TEST(VdmMath, PosteriorMatchesBayesRuleOnAGrid) {
  const double x = 0.3, z_t = -0.4, gs = -1.0, gt = 0.7;
  auto q = dd::posterior(torch::tensor({{z_t}}, kF64), torch::tensor({{x}}, kF64), scalar(gs),
                         scalar(gt));
  auto grid = torch::linspace(-6, 6, 200001, kF64).unsqueeze(1);
  auto tr = dd::transition(grid, scalar(gs), scalar(gt));
  auto prior = dd::forward_marginal(torch::full_like(grid, x), scalar(gs));
  auto log_w =
      -(z_t - tr.mean).pow(2) / (2 * tr.var) - (grid - prior.mean).pow(2) / (2 * prior.var);
  auto w = torch::softmax(log_w.squeeze(1), 0);
  const double mean = item((w * grid.squeeze(1)).sum());
  const double var = item((w * (grid.squeeze(1) - mean).pow(2)).sum());
  // Grid step 6e-5 against a posterior std of 0.3: midpoint sums are exact to ~1e-9.
  EXPECT_NEAR(item(q.mean), mean, 1e-8);
  EXPECT_NEAR(item(q.var), var, 1e-8);
}

// MATH 2e == MATH 2f for random x, x̂, z_t and pairs of times, including the extremes of the
// schedule.
TEST(VdmMath, KlOfTheReverseStepHasTheSnrForm) {
  torch::manual_seed(2);
  for (auto [gs, gt] : {std::pair{-13.3, -13.2}, std::pair{-2.0, 0.0}, std::pair{4.9, 5.0}}) {
    auto x = torch::rand({5, 1, 4, 4}, kF64) * 2 - 1;
    auto x_hat = torch::rand({5, 1, 4, 4}, kF64) * 2 - 1;
    auto z_t = torch::randn({5, 1, 4, 4}, kF64);
    auto g_s = torch::full({5}, gs, kF64), g_t = torch::full({5}, gt, kF64);
    auto kl_e =
        dd::kl_equal_variance(dd::posterior(z_t, x, g_s, g_t), dd::reverse(z_t, x_hat, g_s, g_t));
    auto kl_f = dd::kl_snr_form(x, x_hat, g_s, g_t);
    EXPECT_TRUE(torch::allclose(kl_e, kl_f, 1e-9, 0)) << gs << " " << kl_e << kl_f;
  }
}

// MATH 2g and MATH 2h: the x-form and the ε-form of each one-sample loss agree.
TEST(VdmMath, EpsilonAndDataFormsOfTheLossesAgree) {
  torch::manual_seed(3);
  auto x = torch::rand({6, 2}, kF64) * 2 - 1;
  auto eps = torch::randn({6, 2}, kF64), eps_hat = torch::randn({6, 2}, kF64);
  auto g_t = torch::linspace(-12, 4, 6, kF64), g_s = g_t - 0.3, dg = torch::rand({6}, kF64) * 18;
  auto q = dd::forward_marginal(x, g_t);
  auto z_t = q.mean + q.var.sqrt() * eps;
  EXPECT_TRUE(torch::allclose(dd::eps_from_x(z_t, x, g_t), eps, 1e-8, 1e-10));
  auto x_hat = dd::x_from_eps(z_t, eps_hat, g_t);
  EXPECT_TRUE(torch::allclose(dd::diffusion_loss_discrete(eps, eps_hat, g_s, g_t, 100),
                              dd::diffusion_loss_discrete_x(x, x_hat, g_s, g_t, 100), 1e-9, 0));
  EXPECT_TRUE(torch::allclose(dd::diffusion_loss_continuous(eps, eps_hat, dg),
                              dd::diffusion_loss_continuous_x(x, x_hat, g_t, dg), 1e-9, 0));
}

// L_T (MATH 2g) -> L_∞ (MATH 2h) for a fixed denoiser. With x̂ = α_t z_t (the Bayes denoiser of
// unit-variance data) and x, ε chosen so that Σx² = Σε² = 2, Σxε = 0, ‖x − x̂‖² = 2σ_t² exactly,
// and L_∞ = ∫ γ' α² dt = softplus(−γ_0) − softplus(−γ_1) in closed form.
TEST(VdmMath, DiscreteLossConvergesToTheContinuousLoss) {
  dd::NoiseSchedule schedule;
  schedule->to(kF64);
  auto x = torch::tensor({{1.0, 1.0}}, kF64), eps = torch::tensor({{1.0, -1.0}}, kF64);
  auto x_hat_at = [&](const at::Tensor& g) {
    auto q = dd::forward_marginal(x, g);
    return dd::alpha2(g).sqrt() * (q.mean + q.var.sqrt() * eps);
  };
  const double g0 = -13.3, g1 = 5.0;
  const double l_inf = std::log1p(std::exp(-g0)) - std::log1p(std::exp(-g1));
  double previous_error = INFINITY;
  for (int64_t T : {10, 100, 1000, 10000}) {
    double l_t = 0;
    for (int64_t i = 1; i <= T; ++i) {
      auto g_t = schedule->gamma(scalar(double(i) / T)),
           g_s = schedule->gamma(scalar(double(i - 1) / T));
      l_t += item(dd::diffusion_loss_discrete_x(x, x_hat_at(g_t), g_s, g_t, T)) / T;
    }
    const double error = std::abs(l_t - l_inf);
    EXPECT_LT(error, previous_error) << T;
    EXPECT_GE(l_t, l_inf - 1e-9) << T;  // VDM App. F: L_T is above L_∞ ... and decreases to it
    previous_error = error;
  }
  // The error falls like 1/T; at T = 10^4 it is below 1e-3 of L_∞ ≈ 13.3.
  EXPECT_LT(previous_error / l_inf, 1e-3);
  // The continuous one-sample loss at a midpoint grid integrates to the same closed form.
  const int64_t n = 100000;
  auto t = (torch::arange(n, kF64) + 0.5) / n;
  auto [g, dg] = schedule->gamma_and_derivative(t);
  auto xs = x.expand({n, 2});
  auto q = dd::forward_marginal(xs, g);
  auto x_hat = dd::alpha2(g).sqrt().unsqueeze(1) * (q.mean + q.var.sqrt() * eps);
  EXPECT_NEAR(item(dd::diffusion_loss_continuous_x(xs, x_hat, g, dg).mean()), l_inf, 1e-6);
}

// Prior loss against the textbook KL(N(μ, s²) ‖ N(0, 1)) = −log s + (s² + μ²)/2 − ½ per dim.
TEST(VdmMath, PriorLossIsTheGaussianKl) {
  auto x = torch::tensor({{-0.99, 0.0, 0.5}}, kF64);
  for (double g1 : {0.0, 5.0, 8.0}) {
    const double s2 = 1 / (1 + std::exp(-g1)), a = std::sqrt(1 - s2);
    double kl = 0;
    for (double xi : {-0.99, 0.0, 0.5})
      kl += -0.5 * std::log(s2) + (s2 + a * a * xi * xi) / 2 - 0.5;
    EXPECT_NEAR(item(dd::prior_loss(x, scalar(g1))), kl, 1e-12) << g1;
  }
}

namespace {

// The decoder of VDM eq. 8 written out: log-softmax over all 256 bins.
at::Tensor recon_brute_force(const at::Tensor& k, const at::Tensor& z_0, double g0) {
  auto y = z_0 / std::sqrt(1 / (1 + std::exp(g0)));
  auto bins = dd::encode_8bit(torch::arange(256)).to(kF64);
  auto logits = -0.5 * std::exp(-g0) * (y.unsqueeze(-1) - bins).pow(2);
  auto logp = torch::log_softmax(logits, -1).gather(-1, k.unsqueeze(-1)).squeeze(-1);
  return -logp.flatten(1).sum(1);
}

}  // namespace

// The windowed normaliser equals the full 256-bin softmax, for 1 and 3 channels and for a
// decoder so noisy that the window spans every bin.
TEST(VdmMath, DiscretisedReconstructionMatchesTheFullSoftmax) {
  torch::manual_seed(4);
  for (int64_t c : {1, 3}) {
    for (double g0 : {-13.3, -9.0, -4.0, 1.0}) {
      auto k = torch::randint(0, 256, {3, c, 5, 5});
      k[0][0][0][0] = 0;  // the edge bins, whose windows are clipped
      k[1][0][0][0] = 255;
      auto f = dd::encode_8bit(k).to(kF64);
      auto q = dd::forward_marginal(f, scalar(g0));
      auto z_0 = q.mean + q.var.sqrt() * torch::randn(f.sizes(), kF64);
      auto ours = dd::recon_loss_8bit(k, z_0, scalar(g0));
      // 1e-9 relative (1e-12 absolute): the window drops terms below e^-60 of the largest.
      EXPECT_TRUE(torch::allclose(ours, recon_brute_force(k, z_0, g0), 1e-9, 1e-12))
          << c << " " << g0 << ours << recon_brute_force(k, z_0, g0);
    }
  }
}

// The decoder's bin is the argmax of the brute-force logits, and at γ_0 = −13.3 (bins 6 σ_0
// apart) every pixel whose noise stays within ±2.9 σ_0 decodes to itself.
TEST(VdmMath, DecoderPicksTheMostProbableBin) {
  torch::manual_seed(5);
  auto k = torch::randint(0, 256, {8, 3, 4, 4});
  auto f = dd::encode_8bit(k).to(kF64);
  for (double g0 : {-13.3, -8.0}) {
    auto q = dd::forward_marginal(f, scalar(g0));
    auto z_0 = q.mean + q.var.sqrt() * torch::randn(k.sizes(), kF64);
    auto y = z_0 / std::sqrt(1 / (1 + std::exp(g0)));
    auto bins = dd::encode_8bit(torch::arange(256)).to(kF64);
    auto argmax = (-(y.unsqueeze(-1) - bins).pow(2)).argmax(-1);
    EXPECT_TRUE(torch::equal(dd::decode_8bit(z_0, scalar(g0)), argmax)) << g0;
  }
  auto q = dd::forward_marginal(f, scalar(-13.3));
  auto z_0 = q.mean + q.var.sqrt() * torch::randn(k.sizes(), kF64).clamp(-2.9, 2.9);
  EXPECT_TRUE(torch::equal(dd::decode_8bit(z_0, scalar(-13.3)), k));
}

TEST(VdmMath, ContinuousReconstructionIsTheGaussianNll) {
  auto x = torch::tensor({{0.3, -1.2}}, kF64), z_0 = torch::tensor({{0.31, -1.25}}, kF64);
  const double g0 = -6.0, a = std::sqrt(1 / (1 + std::exp(g0))), var = std::exp(g0);
  double nll = 0;
  for (int i = 0; i < 2; ++i) {
    const double y = item(z_0[0][i]) / a, xi = item(x[0][i]);
    nll += 0.5 * std::log(2 * M_PI * var) + (xi - y) * (xi - y) / (2 * var);
  }
  EXPECT_NEAR(item(dd::recon_loss_continuous(x, z_0, scalar(g0))), nll, 1e-9);
}

TEST(VdmMath, AntitheticTimesAreEvenlySpreadAndDiscreteTimesOnTheGrid) {
  auto t = dd::antithetic_times(8, scalar(0.93));
  auto sorted = std::get<0>(t.sort());
  EXPECT_GE(item(sorted.min()), 0.0);
  EXPECT_LT(item(sorted.max()), 1.0);
  EXPECT_TRUE(torch::allclose(sorted.diff(), torch::full({7}, 1.0 / 8, kF64), 0, 1e-12));
  auto d = dd::discretize_times(torch::tensor({0.0, 1e-9, 0.5, 0.5001, 1.0}, kF64), 10);
  EXPECT_TRUE(torch::allclose(d, torch::tensor({0.1, 0.1, 0.5, 0.6, 1.0}, kF64)));
}

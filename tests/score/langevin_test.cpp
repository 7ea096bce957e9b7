#include "deepgen/score/langevin.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "deepgen/core/error.h"
#include "deepgen/core/rng.h"
#include "deepgen/score/targets.h"

namespace deepgen::score {
namespace {

const auto kF64 = at::TensorOptions().dtype(at::kDouble);

// Moments of a stationary chain from many parallel chains: E[x] and E[x²] averaged over the
// recorded steps, with standard errors from the spread of the per-chain time averages (chains
// are independent; time-correlation within a chain is then accounted for automatically).
struct ChainMoments {
  at::Tensor sum, sum_sq;  // per chain
  int64_t count = 0;
  void add(const at::Tensor& x) {
    sum = sum.defined() ? sum + x.flatten() : x.flatten().clone();
    sum_sq = sum_sq.defined() ? sum_sq + x.flatten().pow(2) : x.flatten().pow(2);
    ++count;
  }
  double mean() const { return sum.mean().item<double>() / count; }
  double second() const { return sum_sq.mean().item<double>() / count; }
  double se(const at::Tensor& per_chain) const {
    return (per_chain / count).std().item<double>() / std::sqrt(double(per_chain.size(0)));
  }
  double mean_se() const { return se(sum); }
  double second_se() const { return se(sum_sq); }
};

// Runs `burn` steps, then records every `every`-th state of `keep` further steps.
ChainMoments run_chain(at::Tensor x, const ScoreFn& score, double delta, int64_t burn, int64_t keep,
                       int64_t every, at::Generator& gen) {
  x = langevin(x, score, delta, burn, gen);
  ChainMoments m;
  langevin(x, score, delta, keep, gen, [&](int64_t t, int64_t, const at::Tensor& y) {
    if (t % every == 0) m.add(y);
  });
  return m;
}

// MATH 3.1a: the noise-free update is gradient ascent on log p and climbs to a mode.
TEST(Langevin, GradientAscentClimbsToTheNearestMode) {
  // Two well-separated components: the modes sit at the means to far below 1e-9.
  const GaussianMixture gmm = parse_target("gmm:0.3,-2,0,0.5;0.7,3,1,0.8");
  const ScoreFn score = [&](const at::Tensor& x) { return gmm.score(x); };
  at::Tensor x = at::tensor({-1.0, 0.8, 1.5, 0.0}, kF64).view({2, 2});
  at::Tensor previous = gmm.log_prob(x);
  for (int t = 0; t < 2000; ++t) {
    x = gradient_ascent_step(x, score, 0.05);  // δ/s² ≤ 0.2: a contraction near each mode
    const at::Tensor now = gmm.log_prob(x);
    // Small steps on a smooth log p never decrease it (1e-12: float64 rounding of log p).
    ASSERT_TRUE((now >= previous - 1e-12).all().item<bool>()) << "step " << t;
    previous = now;
  }
  // (−1, 0.8) is in the basin of (−2, 0); (1.5, 0) in that of (3, 1). After 2000 contractions
  // by ≤ 0.95 the error is < 1e-40, so 1e-8 only allows for rounding.
  EXPECT_LT((x[0] - gmm.means[0]).abs().max().item<double>(), 1e-8) << x;
  EXPECT_LT((x[1] - gmm.means[1]).abs().max().item<double>(), 1e-8) << x;
  EXPECT_LT(score(x).abs().max().item<double>(), 1e-7);
}

TEST(Langevin, OneStepWithZeroScoreAddsVarianceTwoDelta) {
  // The convention trap of NCSN paper vs code: x + δ·0 + √(2δ)ε has variance 2δ, not δ.
  at::Generator gen = make_generator(3);
  const ScoreFn zero = [](const at::Tensor& x) { return at::zeros_like(x); };
  const double delta = 0.3;
  const at::Tensor x = langevin_step(at::zeros({200000}, kF64), zero, delta, gen);
  // Sample variance of 2e5 normals: relative s.e. √(2/n) = 0.32%; 5 s.e. = 1.6%.
  EXPECT_NEAR(x.var().item<double>(), 2 * delta, 5 * 2 * delta * std::sqrt(2.0 / 200000));
}

// ULA on N(0, s²) in our convention: x' = (1 − δ/s²)x + √(2δ)ε, an AR(1) with stationary
// variance v = 2δ/(1 − (1 − δ/s²)²) = s²/(1 − δ/(2s²)). The NCSN paper's convention
// x' = x + (ε/2)∇log p + √ε·ε' is ours with δ = ε/2, so it gives s²/(1 − ε/(4s²)): the often
// quoted 1.143 for s = 1, ε = 0.5 is our δ = 0.25. Both are checked, plus an s ≠ 1 case.
TEST(Langevin, UlaStationaryVarianceMatchesTheAr1Formula) {
  struct Case {
    double s, delta, variance;
  };
  for (const Case c : {Case{1.0, 0.5, 4.0 / 3.0}, Case{1.0, 0.25, 8.0 / 7.0},
                       Case{2.0, 1.0, 4.0 / (1.0 - 1.0 / 8.0)}}) {
    EXPECT_NEAR(c.s * c.s / (1 - c.delta / (2 * c.s * c.s)), c.variance, 1e-12);
    at::Generator gen = make_generator(4);
    const ScoreFn score = [&](const at::Tensor& x) { return -x / (c.s * c.s); };
    // |1 − δ/s²| ≤ 0.75: 60 burn-in steps leave a 1e-15 relative transient.
    const ChainMoments m = run_chain(at::zeros({50000}, kF64), score, c.delta, 60, 100, 1, gen);
    const double var = m.second();  // the mean is exactly 0
    std::printf("[ measured ] ULA s=%g delta=%g: variance %.4f (exact %.4f, s.e. %.4f)\n", c.s,
                c.delta, var, c.variance, m.second_se());
    // 5 standard errors (≈ 0.2% of v here): the ULA bias δ/(2s²) is 6–25% and must show.
    EXPECT_NEAR(var, c.variance, 5 * m.second_se()) << "s " << c.s << " delta " << c.delta;
    EXPECT_GT(std::abs(var - c.s * c.s), 20 * m.second_se());
    EXPECT_NEAR(m.mean(), 0.0, 5 * m.mean_se());
  }
}

// MALA corrects the step-size bias: on N(0, 1) the variance is 1 for every δ, including δ = 2
// where ULA has no stationary law at all (|1 − δ| = 1). δ = 0.5 and 1 also catch a dropped
// proposal ratio q(x|y)/q(y|x) (the proposal is symmetric only at δ = 2).
TEST(Langevin, MalaVarianceIsExactForLargeSteps) {
  const LogProbFn log_prob = [](const at::Tensor& x) { return -0.5 * x.pow(2).sum(1); };
  for (double delta : {0.5, 1.0, 2.0}) {
    at::Generator gen = make_generator(5);
    const at::Tensor x0 = at::randn({20000, 1}, gen, kF64);  // start in the target
    ChainMoments m;
    const MalaResult r =
        mala(x0, log_prob, delta, 200, gen, [&](int64_t t, int64_t, const at::Tensor& x) {
          if (t > 20) m.add(x);
        });
    std::printf("[ measured ] MALA delta=%g: variance %.4f (s.e. %.4f), acceptance %.3f\n", delta,
                m.second() - std::pow(m.mean(), 2), m.second_se(), r.acceptance);
    // 5 s.e. of the per-chain averages (≈ 0.005–0.01).
    EXPECT_NEAR(m.second() - std::pow(m.mean(), 2), 1.0, 5 * m.second_se()) << "delta " << delta;
    EXPECT_NEAR(m.mean(), 0.0, 5 * m.mean_se());
    // Acceptance falls with δ (measured 0.97 / 0.92 / 0.78 in 1-D) but stays well above 0.5.
    EXPECT_GT(r.acceptance, 0.5);
    EXPECT_LT(r.acceptance, 1.0);
    EXPECT_EQ(r.x.sizes(), x0.sizes());
  }
}

// MATH 3.1b on a bimodal mixture with an analytic score: ULA from a wide uniform start must
// find both modes in the right proportions. Tolerance: 5 s.e. plus the O(δ) discretisation bias,
// sized by the Gaussian formula's δ/(2s²) relative variance excess at the narrowest component
// (s = 1): var·δ/2 = 0.04. The same allowance covers the mean, which ULA also shifts by O(δ)
// through the weights (measured +0.02 to +0.03; equal weights would put the mean 0.72 off).
TEST(Langevin, UlaMatchesMixtureMoments) {
  const GaussianMixture gmm = parse_target("gmm:0.3,-1.8,1;0.7,1.8,1.2");
  const double mean = gmm.mean().item<double>(), var = gmm.covariance().item<double>();
  const ScoreFn score = [&](const at::Tensor& x) { return gmm.score(x); };
  at::Generator gen = make_generator(6);
  const double delta = 0.02;
  const at::Tensor x0 = (at::rand({8000, 1}, gen, kF64) * 2 - 1) * 6;
  const ChainMoments m = run_chain(x0, score, delta, 2000, 1000, 10, gen);
  const double bias = var * delta / 2.0;
  const double got_var = m.second() - m.mean() * m.mean();
  std::printf(
      "[ measured ] ULA mixture: mean %.4f (exact %.4f, s.e. %.4f), variance %.4f "
      "(exact %.4f, s.e. %.4f)\n",
      m.mean(), mean, m.mean_se(), got_var, var, m.second_se());
  EXPECT_NEAR(m.mean(), mean, 5 * m.mean_se() + bias) << "exact mean " << mean;
  EXPECT_NEAR(got_var, var, 5 * m.second_se() + bias) << "exact variance " << var;
}

TEST(Langevin, MalaMatchesMixtureMomentsExactly) {
  const GaussianMixture gmm = parse_target("gmm:0.3,-1.8,1;0.7,1.8,1.2");
  const LogProbFn log_prob = [&](const at::Tensor& x) { return gmm.log_prob(x); };
  at::Generator gen = make_generator(7);
  const at::Tensor x0 = (at::rand({10000, 1}, gen, kF64) * 2 - 1) * 6;
  ChainMoments m;
  mala(x0, log_prob, 0.5, 600, gen, [&](int64_t t, int64_t, const at::Tensor& x) {
    if (t > 300 && t % 5 == 0) m.add(x);
  });
  // MALA has no step-size bias: 5 s.e. only.
  EXPECT_NEAR(m.mean(), gmm.mean().item<double>(), 5 * m.mean_se());
  EXPECT_NEAR(m.second() - m.mean() * m.mean(), gmm.covariance().item<double>(), 5 * m.second_se());
}

TEST(Langevin, AnnealedLangevinDenoisesAGaussianExactly) {
  // Target N(0, 1) noised at σ: score −x/(1 + σ²). The Tweedie step gives x/(1 + σ_L²), the
  // posterior mean E[x_clean | x] (score.md §4), so with no Langevin steps the output is exact.
  const NoiseScoreFn score = [](const at::Tensor& x, const at::Tensor& sigma) {
    return -x / (1 + sigma.pow(2)).view({-1, 1});
  };
  const at::Tensor x0 = at::randn({7, 3}, kF64);
  at::Generator gen = make_generator(8);
  const at::Tensor y = annealed_langevin(x0, score, {0.5}, 0, 1e-3, gen, true);
  EXPECT_TRUE(y.allclose(x0 / 1.25, 0, 1e-14));
  // Step sizes follow α_i = ε σ_i²/σ_L²: each level of one step with a zero score adds 2α_i.
  const NoiseScoreFn zero = [](const at::Tensor& x, const at::Tensor&) {
    return at::zeros_like(x);
  };
  int64_t calls = 0;
  const at::Tensor z =
      annealed_langevin(at::zeros({100000, 1}, kF64), zero, {4.0, 2.0, 1.0}, 1, 0.01, gen, false,
                        [&](int64_t, int64_t total, const at::Tensor&) {
                          ++calls;
                          EXPECT_EQ(total, 3);
                        });
  EXPECT_EQ(calls, 3);
  const double want = 2 * 0.01 * (16 + 4 + 1);  // Σ 2α_i
  // Relative s.e. of a variance from 1e5 draws: √(2/n) = 0.45%; 5 s.e.
  EXPECT_NEAR(z.var().item<double>(), want, 5 * want * std::sqrt(2.0 / 100000));
}

TEST(Langevin, RejectsBadStepSizes) {
  const ScoreFn zero = [](const at::Tensor& x) { return at::zeros_like(x); };
  EXPECT_THROW(langevin(at::zeros({2, 1}), zero, 0.0, 1), Error);
  EXPECT_THROW(annealed_langevin(at::zeros({2, 1}), nullptr, {}, 1, 0.1), Error);
}

}  // namespace
}  // namespace deepgen::score

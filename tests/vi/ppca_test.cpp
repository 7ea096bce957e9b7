// Probabilistic PCA as the exact test model of the ELBO and the IWAE bound (MATH 1.1, MATH 1.4).
#include "deepgen/vi/ppca.h"

#include <gtest/gtest.h>

#include "deepgen/core/error.h"
#include "deepgen/vi/bounds.h"
#include "deepgen/vi/gaussian.h"

namespace deepgen::vi {
namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kDouble);

Ppca example() {  // W = [[1], [2]], s² = 0.5, b = 0: the worked values
  return {torch::tensor({{1.0}, {2.0}}, kF64), torch::zeros({2}, kF64), 0.5};
}

Ppca random_model(int64_t d, int64_t k, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return {torch::randn({d, k}, gen, kF64), torch::randn({d}, gen, kF64), 0.3};
}

TEST(Ppca, LogMarginalMatchesTheWorkedValue) {
  // log N([1,1]; 0, [[1.5, 2], [2, 4.5]]) = −½(2 log 2π + log 2.75 + 2/2.75) = −2.707314.
  at::Tensor lp = example().log_marginal(torch::tensor({{1.0, 1.0}}, kF64));
  EXPECT_NEAR(lp.item<double>(), -2.707314, 1e-6);  // the value is given to 6 decimals
}

TEST(Ppca, LogMarginalMatchesQuadratureOfTheJoint) {
  // k = 1: p(x) = ∫ p(x, z) dz on a fine grid; the trapezoid rule on ±12 is exact to ~1e-10.
  Ppca p = random_model(3, 1, 5);
  at::Tensor x = torch::randn({1, 3}, at::make_generator<at::CPUGeneratorImpl>(9), kF64);
  at::Tensor z = torch::linspace(-12, 12, 20001, kF64).unsqueeze(-1).unsqueeze(-1);  // (n, 1, 1)
  at::Tensor joint = p.log_joint(x, z).squeeze(-1).exp();
  const double integral = torch::trapz(joint, z.squeeze(-1).squeeze(-1)).item<double>();
  EXPECT_NEAR(std::log(integral), p.log_marginal(x).item<double>(), 1e-8);
}

// MATH 1.1: ELBO <= log p(x) for any q.
TEST(Ppca, ElboIsBelowLogMarginalForRandomQ) {
  Ppca p = random_model(4, 2, 1);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(2);
  at::Tensor x = torch::randn({100, 4}, gen, kF64);
  at::Tensor mean = torch::randn({100, 2}, gen, kF64), logvar = torch::randn({100, 2}, gen, kF64);
  at::Tensor gap = p.log_marginal(x) - p.elbo(x, mean, logvar);
  EXPECT_GT(gap.min().item<double>(), 0.0);
}

TEST(Ppca, ClosedFormElboMatchesMonteCarlo) {
  // The closed form against E_q[log p(x, z) − log q(z)] with 200k draws: 5 standard errors.
  Ppca p = random_model(3, 2, 3);
  at::Tensor x = torch::tensor({{0.5, -1.0, 2.0}}, kF64);
  at::Tensor mean = torch::tensor({{0.3, -0.2}}, kF64), logvar = torch::tensor({{-1.0, 0.5}}, kF64);
  at::Tensor eps = torch::randn({200000, 1, 2}, at::make_generator<at::CPUGeneratorImpl>(4), kF64);
  at::Tensor z = reparameterize(mean, logvar, eps);
  at::Tensor terms = p.log_joint(x, z) - gaussian_log_prob(z, mean, logvar).sum(-1);
  const double se = terms.std().item<double>() / std::sqrt(200000.0);
  EXPECT_NEAR(terms.mean().item<double>(), p.elbo(x, mean, logvar).item<double>(), 5 * se);
}

// MATH 1.1: equality when q is the exact posterior.
TEST(Ppca, ExactPosteriorClosesTheGap) {
  // k = 1: the posterior is a (diagonal) Gaussian, so the ELBO equals log p(x) exactly.
  Ppca p = random_model(3, 1, 6);
  at::Tensor x = torch::randn({5, 3}, at::make_generator<at::CPUGeneratorImpl>(7), kF64);
  auto [mean, cov] = p.posterior(x);
  at::Tensor logvar = cov.diagonal().log().expand({5, 1});
  EXPECT_TRUE(torch::allclose(p.elbo(x, mean, logvar), p.log_marginal(x), 0, 1e-10));
  EXPECT_NEAR(p.diagonal_gap(), 0.0, 1e-12);
  EXPECT_NEAR(example().diagonal_gap(), 0.0, 1e-12);
}

TEST(Ppca, BestDiagonalQLeavesTheStatedGap) {
  // k = 2: the best mean-field q has the posterior mean and variances s²/M_jj; its gap is
  // ½(Σ log M_jj − log det M) > 0, and moving its variances only widens the gap.
  Ppca p = random_model(4, 2, 8);
  at::Tensor x = torch::randn({3, 4}, at::make_generator<at::CPUGeneratorImpl>(9), kF64);
  auto [mean, cov] = p.posterior(x);
  at::Tensor logvar = (p.s2 / p.m().diagonal()).log().expand({3, 2});
  at::Tensor gap = p.log_marginal(x) - p.elbo(x, mean, logvar);
  ASSERT_GT(p.diagonal_gap(), 1e-3);
  EXPECT_TRUE(torch::allclose(gap, torch::full({3}, p.diagonal_gap(), kF64), 0, 1e-10));
  for (double shift : {-0.1, 0.1}) {
    at::Tensor worse = p.log_marginal(x) - p.elbo(x, mean, logvar + shift);
    EXPECT_GT(worse.min().item<double>(), gap.max().item<double>());
  }
}

TEST(Iwae, ExactPosteriorGivesTheMarginalWithZeroVariance) {
  // With q = p(z|x) every weight p(x, z)/q(z) equals p(x): the bound is exact for any K and
  // its log weights have no spread (float64 rounding only).
  Ppca p = random_model(3, 1, 10);
  at::Tensor x = torch::randn({4, 3}, at::make_generator<at::CPUGeneratorImpl>(11), kF64);
  auto [mean, cov] = p.posterior(x);
  at::Tensor logvar = cov.diagonal().log().expand({4, 1});
  torch::manual_seed(0);
  at::Tensor spread = torch::zeros({4}, kF64);
  auto log_weights = [&](int64_t n) {
    at::Tensor z = reparameterize(mean, logvar, torch::randn({n, 4, 1}, kF64));
    at::Tensor lw = p.log_joint(x, z) - gaussian_log_prob(z, mean, logvar).sum(-1);
    spread = torch::maximum(spread, std::get<0>(lw.max(0)) - std::get<0>(lw.min(0)));
    return lw;
  };
  at::Tensor bound = iwae_bound(log_weights, 5000, 64);
  EXPECT_TRUE(torch::allclose(bound, p.log_marginal(x), 0, 1e-9));
  EXPECT_LT(spread.max().item<double>(), 1e-9);
}

TEST(Iwae, TightensTowardsTheMarginalAsKGrows) {
  // A poor q: the K = 1 bound (the ELBO) < K = 100 bound < log p(x), each averaged over 400
  // repetitions so the ordering is far outside the Monte-Carlo error.
  Ppca p = random_model(3, 2, 12);
  at::Tensor x = torch::tensor({{1.0, -0.5, 0.3}}, kF64);
  at::Tensor mean = torch::zeros({1, 2}, kF64), logvar = torch::zeros({1, 2}, kF64);
  torch::manual_seed(1);
  auto log_weights = [&](int64_t n) {
    at::Tensor z = reparameterize(mean, logvar, torch::randn({n, 1, 2}, kF64));
    return p.log_joint(x, z) - gaussian_log_prob(z, mean, logvar).sum(-1);
  };
  std::vector<double> ones;
  double b100 = 0;
  for (int r = 0; r < 400; ++r) {
    ones.push_back(iwae_bound(log_weights, 1, 1).item<double>());
    b100 += iwae_bound(log_weights, 100, 32).item<double>() / 400;
  }
  at::Tensor t1 = torch::tensor(ones, kF64);
  const double b1 = t1.mean().item<double>(), se1 = t1.std().item<double>() / 20.0;
  const double lp = p.log_marginal(x).item<double>();
  // The K = 1 bound is the ELBO in expectation: 5 standard errors of its 400-draw mean.
  EXPECT_NEAR(b1, p.elbo(x, mean, logvar).item<double>(), 5 * se1);
  EXPECT_LT(b1, b100);
  EXPECT_LT(b100, lp);
  EXPECT_LT(lp - b100, 0.5 * (lp - b1));
}

TEST(Iwae, ChunkingDoesNotChangeTheValue) {
  at::Tensor lw = torch::randn({1000, 3}, at::make_generator<at::CPUGeneratorImpl>(13), kF64) * 50;
  int64_t offset = 0;
  auto from = [&](int64_t n) {
    at::Tensor part = lw.slice(0, offset, offset + n);
    offset += n;
    return part;
  };
  at::Tensor chunked = iwae_bound(from, 1000, 37);
  EXPECT_TRUE(torch::allclose(chunked, log_mean_exp(lw), 0, 1e-10));
  EXPECT_TRUE(torch::isfinite(log_mean_exp(torch::full({4, 1}, -1e4, kF64))).all().item<bool>());
  EXPECT_THROW(iwae_bound(from, 0, 1), Error);
}

}  // namespace
}  // namespace deepgen::vi

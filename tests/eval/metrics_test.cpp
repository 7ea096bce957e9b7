#include "deepgen/eval/metrics.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "deepgen/core/error.h"
#include "deepgen/core/rng.h"

namespace deepgen::eval {
namespace {

constexpr double kPi = 3.14159265358979323846;

at::TensorOptions f64() { return at::TensorOptions().dtype(at::kDouble); }

TEST(BitsPerDim, IsNatsOverDimTimesLn2) {
  EXPECT_DOUBLE_EQ(bits_per_dim(784.0 * std::log(2.0) * 3.0, 784), 3.0);
  EXPECT_DOUBLE_EQ(bits_per_dim(std::log(2.0), 1), 1.0);
  EXPECT_DOUBLE_EQ(bits_per_dim(1000.0, 3072), 1000.0 / (3072.0 * std::log(2.0)));
  EXPECT_DOUBLE_EQ(bits_per_dim(0.0, 10), 0.0);
  EXPECT_LT(bits_per_dim(-5.0, 10), 0.0);  // a (continuous) negative NLL stays negative
  EXPECT_THROW(bits_per_dim(1.0, 0), Error);
  EXPECT_THROW(bits_per_dim(1.0, -3), Error);
}

// Under H0 with the unbiased estimator, T = nm/(n+m) · ED → Σ λ_k (Z_k² − 1) with λ_k ≥ 0 and
// Σ λ_k = E|X − X'| (Székely & Rizzo 2013), so sd(ED) ≤ √2 · E|X − X'| · (n + m)/(nm).
double null_sd_bound(double mean_within_distance, int64_t n, int64_t m) {
  return std::sqrt(2.0) * mean_within_distance * static_cast<double>(n + m) /
         static_cast<double>(n * m);
}

TEST(EnergyDistance, NearZeroForSameDistribution) {
  at::Generator gen = make_generator(21);
  const int64_t n = 2000, m = 1500;
  const at::Tensor a = at::randn({n, 2}, gen, f64());
  const at::Tensor b = at::randn({m, 2}, gen, f64());
  const double ed = energy_distance(a, b);
  // For N(0, I₂): X − X' ~ N(0, 2I), E|X − X'| = √π. Tolerance: 5 × the sd bound (≈ 0.0073).
  const double tol = 5.0 * null_sd_bound(std::sqrt(kPi), n, m);
  EXPECT_NEAR(ed, 0.0, tol);
  // Symmetric, and float32 input is accepted (computed in float64 internally).
  EXPECT_NEAR(energy_distance(b, a), ed, 1e-12);
  EXPECT_NEAR(energy_distance(a.to(at::kFloat), b.to(at::kFloat)), ed, 1e-5);
}

TEST(EnergyDistance, ClearlyPositiveForShiftedDistribution) {
  at::Generator gen = make_generator(22);
  const int64_t n = 2000, m = 1500;
  const at::Tensor a = at::randn({n, 2}, gen, f64());
  const at::Tensor shift = at::tensor({1.0, 0.0}, f64());
  const at::Tensor b = at::randn({m, 2}, gen, f64()) + shift;
  const double tol = 5.0 * null_sd_bound(std::sqrt(kPi), n, m);
  const double ed = energy_distance(a, b);
  EXPECT_GT(ed, 10.0 * tol) << "ed " << ed << " tol " << tol;
  // A larger shift gives a larger distance.
  EXPECT_GT(energy_distance(a, b + shift), ed + 10.0 * tol);
}

// E|X − Y| for X ~ N(0,1), Y ~ N(mu, 1): X − Y ~ N(−mu, s²), s = √2, folded-normal mean
// 2sφ(mu/s) + mu(2Φ(mu/s) − 1).
double mean_abs_difference(double mu) {
  const double s = std::sqrt(2.0), u = mu / s;
  const double phi = std::exp(-0.5 * u * u) / std::sqrt(2.0 * kPi);
  const double cdf = 0.5 * (1.0 + std::erf(u / std::sqrt(2.0)));
  return 2.0 * s * phi + mu * (2.0 * cdf - 1.0);
}

TEST(EnergyDistance, MatchesClosedFormForOneDimensionalGaussians) {
  for (double mu : {0.5, 1.0, 2.5}) {
    // Population value 2E|X − Y| − E|X − X'| − E|Y − Y'|, with E|X − X'| = 2/√π for both.
    const double exact = 2.0 * mean_abs_difference(mu) - 2.0 * (2.0 / std::sqrt(kPi));
    // The estimator is unbiased, so the mean of R independent replicates converges to `exact`;
    // tolerance is 5 standard errors of that mean, measured from the replicates themselves.
    at::Generator gen = make_generator(static_cast<uint64_t>(100 * mu));
    const int64_t reps = 30, n = 1500;
    at::Tensor values = at::empty({reps}, f64());
    for (int64_t r = 0; r < reps; ++r) {
      const at::Tensor x = at::randn({n, 1}, gen, f64());
      const at::Tensor y = at::randn({n, 1}, gen, f64()) + mu;
      values[r] = energy_distance(x, y);
    }
    const double mean = values.mean().item<double>();
    const double se = values.std().item<double>() / std::sqrt(static_cast<double>(reps));
    EXPECT_NEAR(mean, exact, 5.0 * se) << "mu " << mu << " exact " << exact;
    EXPECT_LT(5.0 * se, 0.25 * exact);  // sharp enough to catch a wrong term or factor
  }
}

TEST(EnergyDistance, UnbiasedForTinySamples) {
  // With n = m = 4 the plain (diagonal-including) within-set means would bias the estimate by
  // (E|X−X'| + E|Y−Y'|)/4 ≈ 0.56 for N(0,1); the off-diagonal U-statistic has mean exactly 0.
  at::Generator gen = make_generator(23);
  const int64_t reps = 4000;
  at::Tensor values = at::empty({reps}, f64());
  for (int64_t r = 0; r < reps; ++r)
    values[r] = energy_distance(at::randn({4, 1}, gen, f64()), at::randn({4, 1}, gen, f64()));
  const double se = values.std().item<double>() / std::sqrt(static_cast<double>(reps));
  EXPECT_NEAR(values.mean().item<double>(), 0.0, 5.0 * se);  // 5 standard errors
  EXPECT_LT(5.0 * se, 0.2);  // well below the 0.56 bias it must rule out
}

TEST(EnergyDistance, ExactOnAHandExample) {
  // a = {0, 1}, b = {3}: needs ≥ 2 per set, so b = {3, 3}. Cross mean = (3+3+2+2)/4 = 2.5,
  // within a = 1, within b = 0 → 2·2.5 − 1 − 0 = 4.
  const at::Tensor a = at::tensor({0.0, 1.0}, f64()).view({2, 1});
  const at::Tensor b = at::tensor({3.0, 3.0}, f64()).view({2, 1});
  EXPECT_NEAR(energy_distance(a, b), 4.0, 1e-12);
}

TEST(EnergyDistance, ShapeErrorsThrow) {
  const at::Tensor a = at::randn({10, 2}), b = at::randn({12, 2});
  EXPECT_THROW(energy_distance(at::randn({10}), b), Error);        // not (N, D)
  EXPECT_THROW(energy_distance(a, at::randn({12, 3})), Error);     // D differs
  EXPECT_THROW(energy_distance(at::randn({10, 2, 1}), b), Error);  // 3-D
  EXPECT_THROW(energy_distance(a.slice(0, 0, 1), b), Error);       // one sample
  EXPECT_THROW(energy_distance(a, b.slice(0, 0, 1)), Error);
  EXPECT_NO_THROW(energy_distance(a, b));
}

}  // namespace
}  // namespace deepgen::eval

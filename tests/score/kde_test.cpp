#include "deepgen/score/kde.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "deepgen/core/error.h"

namespace deepgen::score {
namespace {

const auto kF64 = at::TensorOptions().dtype(at::kDouble);

// MATH 3.2a: the softmax-weighted score against autograd of log q(x).
TEST(Kde, ScoreEqualsAutogradOfTheLogDensity) {
  torch::manual_seed(31);
  for (const int64_t d : {1, 3, 50}) {
    const at::Tensor data = at::randn({40, d}, kF64);
    const at::Tensor x = at::randn({25, d}, kF64) * 1.5;
    for (const double sigma : {0.05, 0.3, 2.0}) {
      const at::Tensor leaf = x.clone().requires_grad_(true);
      const at::Tensor grad =
          torch::autograd::grad({kde_log_density(leaf, data, sigma).sum()}, {leaf})[0];
      // Two float64 evaluations of the same softmax-weighted mean: ~1e-12 relative to the
      // score's size (up to ~1/σ² = 400); 1e-9 leaves room and still catches any wrong factor.
      EXPECT_TRUE(kde_score(x, data, sigma).allclose(grad, 1e-9, 1e-9))
          << "D " << d << " sigma " << sigma;
    }
  }
}

TEST(Kde, LogDensityMatchesTheDirectSumInLowDimension) {
  const at::Tensor data = at::tensor({0.0, 1.0, -2.0, 0.5}, kF64).view({2, 2});
  const at::Tensor x = at::tensor({0.3, 0.2}, kF64).view({1, 2});
  const double s = 0.7;
  double q = 0;
  for (const auto& c : {std::pair{0.0, 1.0}, std::pair{-2.0, 0.5}}) {
    const double d2 = std::pow(0.3 - c.first, 2) + std::pow(0.2 - c.second, 2);
    q += 0.5 * std::exp(-d2 / (2 * s * s)) / (2 * M_PI * s * s);
  }
  EXPECT_NEAR(kde_log_density(x, data, s).item<double>(), std::log(q), 1e-13);
}

TEST(Kde, HighDimensionalScoreNeverUnderflows) {
  // D = 784, σ = 0.01: every kernel value exp(−‖x − x_i‖²/2σ²) is exp(−1e5) = 0 in float64, so
  // a raw-exp ratio would be 0/0. The log-sum-exp form gives the score toward the nearest point:
  // the nearest-neighbour field that is the second weakness of MATH 3.2b.
  torch::manual_seed(32);
  const at::Tensor data = at::rand({100, 784}, kF64);
  const at::Tensor x = data.slice(0, 7, 8) + 0.3 * at::rand({1, 784}, kF64);
  const at::Tensor s = kde_score(x, data, 0.01);
  ASSERT_TRUE(at::isfinite(s).all().item<bool>());
  // Nearest point 7 has all the weight (the next is ≫ 1e4 nats further): (x_7 − x)/σ², to
  // rounding of the 1e4-sized entries.
  EXPECT_TRUE(s.allclose((data.slice(0, 7, 8) - x) / 1e-4, 1e-9, 1e-6));
  EXPECT_TRUE(at::isfinite(kde_log_density(x, data, 0.01)).all().item<bool>());
}

TEST(Kde, ChunkedRowsGiveTheSameResultAndShape) {
  // 2²² weights per chunk: with M = 70000 reference points a chunk is 59 rows, so 130 rows
  // take three chunks. Float32 images in (N, C, H, W) come back in their shape.
  torch::manual_seed(33);
  const at::Tensor data = at::randn({70000, 1, 2, 2});
  const at::Tensor x = at::randn({130, 1, 2, 2});
  const at::Tensor s = kde_score(x, data, 0.5);
  EXPECT_EQ(s.sizes(), x.sizes());
  const at::Tensor row = kde_score(x.slice(0, 100, 101), data, 0.5);
  // Same arithmetic on the same row (only the chunking differs): float32 rounding only.
  EXPECT_TRUE(s.slice(0, 100, 101).allclose(row, 1e-5, 1e-5));
  EXPECT_EQ(kde_log_density(x, data, 0.5).sizes(), (at::IntArrayRef{130}));
}

TEST(Kde, RejectsBadInput) {
  EXPECT_THROW(kde_score(at::zeros({2, 3}), at::zeros({4, 3}), 0.0), Error);
  EXPECT_THROW(kde_score(at::zeros({2, 3}), at::zeros({4, 2}), 1.0), Error);
  EXPECT_THROW(kde_log_density(at::zeros({2, 3}), at::zeros({0, 3}), 1.0), Error);
}

}  // namespace
}  // namespace deepgen::score

#include "deepgen/eval/precision_recall.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "deepgen/core/error.h"
#include "deepgen/core/rng.h"
#include "support/error_message.h"

namespace deepgen::eval {
namespace {

at::TensorOptions f64() { return at::TensorOptions().dtype(at::kDouble); }

at::Tensor column(const std::vector<double>& values) {
  return torch::tensor(values, f64()).unsqueeze(1);
}

using deepgen::testing::error_message;

// The k-th smallest ‖x_i − x_j‖ over j ≠ i, by explicit loops.
std::vector<double> brute_force_radii(const at::Tensor& x, int64_t k) {
  const auto a = x.accessor<double, 2>();
  std::vector<double> radii;
  for (int64_t i = 0; i < a.size(0); ++i) {
    std::vector<double> d;
    for (int64_t j = 0; j < a.size(0); ++j) {
      if (j == i) continue;
      double s = 0.0;
      for (int64_t c = 0; c < a.size(1); ++c) s += (a[i][c] - a[j][c]) * (a[i][c] - a[j][c]);
      d.push_back(std::sqrt(s));
    }
    std::sort(d.begin(), d.end());
    radii.push_back(d[k - 1]);
  }
  return radii;
}

TEST(KnnRadii, MatchBruteForceExactly) {
  // Integer coordinates: every squared distance is an exact integer in float64 and √ is correctly
  // rounded, so any summation order gives the same bits and the comparison can be exact. The
  // three appended copies make duplicates, whose k = 1 radius is 0 (the copy, not the point).
  at::Generator gen = make_generator(5);
  at::Tensor x = at::randint(-5, 6, {40, 5}, gen, f64());
  x = torch::cat({x, x.slice(0, 0, 3)});
  for (int64_t k : {1, 2, 3, 4, 7}) {
    const at::Tensor radii = k_nn_radii(x, k);
    const std::vector<double> expected = brute_force_radii(x, k);
    ASSERT_EQ(radii.size(0), static_cast<int64_t>(expected.size()));
    for (int64_t i = 0; i < radii.size(0); ++i)
      EXPECT_EQ(radii[i].item<double>(), expected[i]) << "k " << k << " point " << i;
  }
  EXPECT_EQ(k_nn_radii(x, 1)[0].item<double>(), 0.0);
  EXPECT_EQ(k_nn_radii(x, 1)[40].item<double>(), 0.0);
}

TEST(PrecisionRecall, IdenticalSetsAreFullyCovered) {
  // Each point is the centre of its own ball (distance exactly 0 ≤ radius): exactly 1.
  at::Generator gen = make_generator(1);
  const at::Tensor x = at::randn({500, 16}, gen, f64());
  const PrecisionRecall pr = precision_recall(x, x);
  EXPECT_EQ(pr.precision, 1.0);
  EXPECT_EQ(pr.recall, 1.0);
  EXPECT_EQ(pr.k, 3);
  EXPECT_EQ(pr.n_real, 500);
  EXPECT_EQ(pr.n_fake, 500);
}

TEST(PrecisionRecall, SeparatedCloudsDoNotOverlap) {
  // N(0, I₁₆) against N(50 e₁, I₁₆): 3-NN radii of 400 points are ~3, the gap ~50 − 2·6, so no
  // ball reaches the other cloud: exactly 0 both ways.
  at::Generator gen = make_generator(2);
  const at::Tensor real = at::randn({400, 16}, gen, f64());
  at::Tensor fake = at::randn({300, 16}, gen, f64());
  fake.select(1, 0).add_(50.0);
  const PrecisionRecall pr = precision_recall(real, fake);
  EXPECT_EQ(pr.precision, 0.0);
  EXPECT_EQ(pr.recall, 0.0);
}

TEST(PrecisionRecall, ModeCollapseKeepsPrecisionAndLosesRecall) {
  // Real: 10 clusters N(20 e_j, I₁₀) of 300 points. Fake: 300 points of N(20 e₃, 0.3² I), the
  // core of one cluster. Every fake point sits where real balls are densest, so precision ≈ 1;
  // fake balls reach ~1 + 0.8 from the centre, where ~3% of one cluster's points (0.3% of the
  // real set) lie, so recall ≈ 0.003, and it can never exceed the one cluster's share 0.1.
  // Swapping the roles gives precision ≈ 0.003 and recall ≈ 1, failing both bounds.
  at::Generator gen = make_generator(3);
  std::vector<at::Tensor> clusters;
  for (int64_t j = 0; j < 10; ++j) {
    at::Tensor c = at::randn({300, 10}, gen, f64());
    c.select(1, j).add_(20.0);
    clusters.push_back(c);
  }
  const at::Tensor real = torch::cat(clusters);
  at::Tensor fake = 0.3 * at::randn({300, 10}, gen, f64());
  fake.select(1, 3).add_(20.0);
  const PrecisionRecall pr = precision_recall(real, fake);
  EXPECT_GT(pr.precision, 0.97) << pr.precision;
  EXPECT_LT(pr.recall, 0.03) << pr.recall;
}

TEST(PrecisionRecall, SmallExampleIsExactForKAndRoles) {
  // Real {0, 1, 2, 3, 4} on a line: 3-NN radii {3, 2, 2, 2, 3}, union [−3, 7]. With k = 2 (or
  // the point counted as its own neighbour) the union is [−2, 6]; with k = 4 it is [−4, 8].
  // Fake {6.5, 7.5, 20, 21, 22}: only 6.5 is on the real manifold, so precision is 1/5 (0 for
  // k = 2, 2/5 for k = 4), and the fake radii (≥ 12.5 around 6.5 and 7.5) cover every real
  // point: recall 1. Exact: the coordinates are halves, every distance is exact.
  const at::Tensor real = column({0, 1, 2, 3, 4});
  const at::Tensor fake = column({6.5, 7.5, 20, 21, 22});
  const at::Tensor radii = k_nn_radii(real, 3);
  EXPECT_TRUE(torch::equal(radii, torch::tensor({3.0, 2.0, 2.0, 2.0, 3.0}, f64())));
  const PrecisionRecall pr = precision_recall(real, fake, 3);
  EXPECT_EQ(pr.precision, 1.0 / 5.0);
  EXPECT_EQ(pr.recall, 1.0);
  EXPECT_EQ(precision_recall(real, fake, 2).precision, 0.0);
  EXPECT_EQ(precision_recall(real, fake, 4).precision, 2.0 / 5.0);
  EXPECT_EQ(manifold_coverage(fake, real, radii), 1.0 / 5.0);
  // On the boundary counts as inside (eq. 1 has ≤): 7 is exactly 3 from 4.
  EXPECT_EQ(manifold_coverage(column({7.0, 7.0 + 1e-9}), real, radii), 0.5);
}

TEST(PrecisionRecall, ChunkedEqualsUnchunkedExactly) {
  // Every decision rests on distances summed pair by pair, so chunking cannot change a single
  // bit: compared with ==, not a tolerance. 1024 rows is one chunk for these sets.
  at::Generator gen = make_generator(4);
  const at::Tensor real = at::randn({300, 16}, gen, f64());
  const at::Tensor fake = 1.2 * at::randn({170, 16}, gen, f64()) + 0.3;
  const at::Tensor whole = k_nn_radii(real, 3, 1024);
  const PrecisionRecall one = precision_recall(real, fake, 3, 1024);
  EXPECT_GT(one.precision, 0.0);  // an overlap that chunking could get wrong
  EXPECT_LT(one.recall, 1.0);
  for (int64_t chunk : {1, 7, 64, 299}) {
    EXPECT_TRUE(torch::equal(k_nn_radii(real, 3, chunk), whole)) << "chunk " << chunk;
    const PrecisionRecall pr = precision_recall(real, fake, 3, chunk);
    EXPECT_EQ(pr.precision, one.precision) << "chunk " << chunk;
    EXPECT_EQ(pr.recall, one.recall) << "chunk " << chunk;
  }
}

TEST(PrecisionRecall, MatchesAllPairsDistances) {
  // The GEMM only picks which pairs to measure exactly; the result must be that of every pair
  // measured directly (cdist without the matmul expansion). Overlapping clouds put many pairs
  // near a ball's edge. Radii to 1e-12 relative (the two sum the coordinates in different
  // orders); the fractions exactly, since no pair here sits within 1e-12 of an edge.
  at::Generator gen = make_generator(7);
  const at::Tensor real = at::randn({400, 32}, gen, f64());
  const at::Tensor fake = 0.9 * at::randn({300, 32}, gen, f64()) + 0.2;
  const auto direct_radii = [](const at::Tensor& x) {
    at::Tensor d = at::cdist(x, x, 2.0, /*donot_use_mm_for_euclid_dist=*/2);
    d.diagonal().fill_(std::numeric_limits<double>::infinity());
    return std::get<0>(d.kthvalue(3, 1));
  };
  const auto direct_coverage = [](const at::Tensor& q, const at::Tensor& r, const at::Tensor& rad) {
    return (at::cdist(q, r, 2.0, 2) <= rad.unsqueeze(0))
        .any(1)
        .to(at::kDouble)
        .mean()
        .item<double>();
  };
  const at::Tensor rr = direct_radii(real), rf = direct_radii(fake);
  EXPECT_TRUE(torch::allclose(k_nn_radii(real, 3), rr, 1e-12, 0.0));
  const PrecisionRecall pr = precision_recall(real, fake);
  EXPECT_EQ(pr.precision, direct_coverage(fake, real, rr));
  EXPECT_EQ(pr.recall, direct_coverage(real, fake, rf));
  EXPECT_GT(pr.precision, 0.05);  // neither trivially 0 nor 1
  EXPECT_LT(pr.recall, 0.95);
}

TEST(PrecisionRecall, AcceptsFloat32) {
  // float32 input is widened to float64 before any distance: the same result as float64 input
  // of the same values, exactly.
  at::Generator gen = make_generator(6);
  const at::Tensor real = at::randn({200, 8}, gen, at::TensorOptions());
  const at::Tensor fake = at::randn({150, 8}, gen, at::TensorOptions()) + 0.5;
  const PrecisionRecall a = precision_recall(real, fake);
  const PrecisionRecall b = precision_recall(real.to(at::kDouble), fake.to(at::kDouble));
  EXPECT_EQ(a.precision, b.precision);
  EXPECT_EQ(a.recall, b.recall);
}

TEST(PrecisionRecall, RejectsBadInputWithOneLine) {
  const at::Tensor x = at::randn({5, 4}, f64()), y = at::randn({6, 4}, f64());
  const auto one_line = [](const std::string& m) { return m.find('\n') == std::string::npos; };
  const std::string k0 = error_message([&] { precision_recall(x, y, 0); });
  EXPECT_NE(k0.find("k = 0"), std::string::npos) << k0;
  const std::string k5 = error_message([&] { precision_recall(x, y, 5); });
  EXPECT_NE(k5.find("k = 5"), std::string::npos) << k5;
  EXPECT_NE(k5.find("5 real points"), std::string::npos) << k5;
  EXPECT_NE(error_message([&] { precision_recall(y, x, 5); }).find("5 fake points"),
            std::string::npos);
  EXPECT_NO_THROW(precision_recall(x, y, 4));  // k = N − 1 is the largest valid k
  EXPECT_NE(error_message([&] { k_nn_radii(x, 5); }).find("k = 5"), std::string::npos);
  const std::string dims = error_message([&] { precision_recall(x, at::randn({6, 3}, f64())); });
  EXPECT_NE(dims.find("4 dimensions"), std::string::npos) << dims;
  EXPECT_NE(dims.find("3"), std::string::npos) << dims;
  EXPECT_NE(error_message([&] {
              manifold_coverage(x, at::randn({6, 3}, f64()), at::ones({6}, f64()));
            }).find("dimensions"),
            std::string::npos);
  EXPECT_NE(error_message([&] { manifold_coverage(x, y, at::ones({5}, f64())); }).find("radii"),
            std::string::npos);
  EXPECT_NE(error_message([&] { precision_recall(at::randn({5}, f64()), y); }).find("(N, D)"),
            std::string::npos);
  at::Tensor nan = y.clone();
  nan[2][1] = std::nan("");
  EXPECT_NE(error_message([&] { precision_recall(x, nan); }).find("NaN"), std::string::npos);
  for (const std::string& m : {k0, k5, dims}) EXPECT_TRUE(one_line(m)) << m;
}

}  // namespace
}  // namespace deepgen::eval

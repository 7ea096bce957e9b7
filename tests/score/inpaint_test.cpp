// Inpainting by annealed Langevin dynamics with replacement (BEYOND B5): on a Gaussian whose
// noised scores are known exactly it draws the conditional; an NCSN model returns the known
// values exactly; single-level methods and RePaint's resampling are refused with the fix.
#include "deepgen/score/inpaint.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "deepgen/core/progress.h"
#include "deepgen/score/losses.h"
#include "deepgen/score/model.h"
#include "support/error_message.h"

namespace deepgen::score {
namespace {

constexpr double kRho = 0.9;

// p = N(0, Σ), Σ = [[1, ρ], [ρ, 1]]: p_σ = N(0, Σ + σ²I), whose score is −(Σ + σ²I)⁻¹ y.
at::Tensor gaussian_score(const at::Tensor& y, const at::Tensor& sigma) {
  const at::Tensor a = 1 + sigma.pow(2).unsqueeze(1), det = a * a - kRho * kRho;
  const at::Tensor y0 = y.select(1, 0).unsqueeze(1), y1 = y.select(1, 1).unsqueeze(1);
  return -torch::cat({a * y0 - kRho * y1, a * y1 - kRho * y0}, 1) / det;
}

// The (what, done, total) reports of inpainting.
struct Reports {
  std::vector<std::tuple<std::string, int64_t, int64_t>> seen;
  ProgressScope scope{[this](const std::string& what, int64_t done, int64_t total) {
    seen.emplace_back(what, done, total);
  }};
};

// y_1 = 1.5 known, so y_0 | y_1 ~ N(1.35, 0.19). 4000 chains from U[−8, 8]², NCSN's ladder
// 5 → 0.05 (10 levels), 100 steps each with ε = 2e-3. Measured: mean 1.345, variance 0.193.
// s.e. of the mean √(0.19/4000) = 0.007, so 0.06 is 8 s.e. plus the method's own bias at
// σ_L = 0.05. Without replacement the chains would centre on 0 with variance 1 (the marginal).
TEST(ScoreInpaint, AnnealedLangevinWithReplacementDrawsTheGaussianConditional) {
  torch::manual_seed(4);
  const int64_t n = 4000;
  const at::Tensor x = torch::tensor({0.0, 1.5}, torch::kDouble).repeat({n, 1});
  const at::Tensor mask = torch::tensor({0.0, 1.0}, torch::kDouble).repeat({n, 1});
  const at::Tensor x0 = 16 * torch::rand({n, 2}, torch::kDouble) - 8;
  const at::Tensor out = annealed_langevin_inpaint(x0, x, mask, gaussian_score,
                                                   geometric_sigmas(5.0, 0.05, 10), 100, 2e-3);
  EXPECT_TRUE(torch::equal(out.select(1, 1), x.select(1, 1)));
  const at::Tensor unknown = out.select(1, 0);
  EXPECT_NEAR(unknown.mean().item<double>(), 1.35, 0.06);
  EXPECT_NEAR(unknown.var().item<double>(), 0.19, 0.05);
}

TEST(ScoreInpaint, NcsnModelReturnsTheKnownValuesExactly) {
  torch::manual_seed(5);
  ScoreOptions o({1, 8, 8});
  o.num_sigmas(3).steps_per_level(2);
  o.unet().channels = {4, 8};
  ScoreModel images(o);
  const at::Tensor x = torch::rand({3, 1, 8, 8});
  const at::Tensor mask = (torch::rand({3, 1, 8, 8}) < 0.5).to(torch::kFloat);
  Reports reports;
  const at::Tensor out = images.inpaint(x, mask, {});
  ASSERT_EQ(out.sizes(), x.sizes());
  const at::Tensor known = mask.to(torch::kBool);
  EXPECT_TRUE(torch::equal(out.masked_select(known), x.masked_select(known)));
  EXPECT_FALSE(torch::equal(out, x));
  EXPECT_GE(out.min().item<double>(), 0.0);  // images stay in [0, 1]
  EXPECT_LE(out.max().item<double>(), 1.0);
  ASSERT_FALSE(reports.seen.empty());
  EXPECT_EQ(reports.seen.back(), std::make_tuple(std::string("inpaint"), int64_t{6}, int64_t{6}));

  ScoreModel points(ScoreOptions({2}).hidden({16}).num_sigmas(3).steps_per_level(2));
  const at::Tensor p = torch::randn({5, 2}), pm = torch::tensor({1.0f, 0.0f}).repeat({5, 1});
  EXPECT_TRUE(torch::equal(points.inpaint(p, pm, {}).select(1, 0), p.select(1, 0)));
}

TEST(ScoreInpaint, SingleLevelMethodsAndResamplingAreRefusedWithTheFix) {
  ScoreModel dsm(ScoreOptions({2}).method("dsm").hidden({16}));
  EXPECT_NE(dsm.inpaint_blocker().find("ncsn"), std::string::npos);
  const at::Tensor x = torch::randn({2, 2}), mask = torch::ones({2, 2});
  using testing::error_message;
  EXPECT_EQ(error_message([&] { dsm.inpaint(x, mask, {}); }), dsm.inpaint_blocker());
  ScoreModel ncsn(ScoreOptions({2}).hidden({16}).num_sigmas(3).steps_per_level(2));
  EXPECT_TRUE(ncsn.inpaint_blocker().empty());
  EXPECT_NE(error_message([&] {
              ncsn.inpaint(x, mask, {2, 1});
            }).find("resample 1"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              ncsn.inpaint(x, torch::ones({2, 1}), {});
            }).find("mask"),
            std::string::npos);
}

}  // namespace
}  // namespace deepgen::score

// Replacement inpainting (Song et al. 2021) and RePaint (Lugmayr et al. 2022) with a diffusion
// model (BEYOND B5): exact known values, the sampler it reduces to, its cost, and what it draws
// on a Gaussian whose ε̂ is known exactly.
#include "deepgen/diffusion/inpaint.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <tuple>
#include <vector>

#include "deepgen/core/progress.h"
#include "deepgen/diffusion/model.h"
#include "diffusion/vdm_fixtures.h"
#include "support/error_message.h"

namespace dd = deepgen::diffusion;

namespace {

// The shared small models (vdm_fixtures.h), sampled in 6 steps.
dd::VdmOptions six_steps(dd::VdmOptions o) {
  o.sample_steps = 6;
  return o;
}
dd::VdmOptions small_image_options() { return six_steps(deepgen::testing::small_image_options()); }
dd::VdmOptions point_options() { return six_steps(deepgen::testing::point_options()); }

// An untrained network's ε̂ is its input (model_test.cpp); nudging every weight makes ε̂ a
// non-trivial function of z and γ, so equalities below are not those of the identity.
void perturb(dd::VdmModel& model) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(99);
  for (auto& p : model.module().parameters()) p.add_(0.05 * torch::randn_like(p));
}

// The (what, done, total) reports of inpainting.
struct Reports {
  std::vector<std::tuple<std::string, int64_t, int64_t>> seen;
  deepgen::ProgressScope scope{[this](const std::string& what, int64_t done, int64_t total) {
    seen.emplace_back(what, done, total);
  }};
};

// Data f ~ N(0, Σ), Σ = [[1, ρ], [ρ, 1]]: z_t = α f + σ ε ~ N(0, α²Σ + σ²I), so the best ε̂ is
// E[ε|z] = σ (α²Σ + σ²I)⁻¹ z, the network a perfectly trained model would be.
constexpr double kRho = 0.9;

at::Tensor gaussian_eps(const at::Tensor& z, const at::Tensor& gamma) {
  const at::Tensor a2 = torch::sigmoid(-gamma).unsqueeze(1),
                   s2 = torch::sigmoid(gamma).unsqueeze(1);
  const at::Tensor a = a2 + s2, b = a2 * kRho,
                   det = a * a - b * b;  // a2·Σ + s2·I = [[a, b], [b, a]]
  const at::Tensor z0 = z.select(1, 0).unsqueeze(1), z1 = z.select(1, 1).unsqueeze(1);
  const at::Tensor inv_z = torch::cat({a * z0 - b * z1, a * z1 - b * z0}, 1) / det;
  return s2.sqrt() * inv_z;
}

// VDM's fixed linear schedule γ ∈ [−13.3, 5] on 50 steps.
at::Tensor linear_gammas() { return torch::linspace(-13.3, 5.0, 51, torch::kDouble); }

// f_1 = 1.5 known, f_0 drawn: n chains of inpaint_loop, returned as f = z_0/α_0.
at::Tensor gaussian_completions(int64_t resample, int64_t n, int64_t* evaluations = nullptr) {
  torch::manual_seed(3);
  auto gen = at::detail::getDefaultCPUGenerator();
  const at::Tensor gammas = linear_gammas();
  const at::Tensor f = torch::tensor({0.0, 1.5}, torch::kDouble).repeat({n, 1});
  const at::Tensor mask = torch::tensor({0.0, 1.0}, torch::kDouble).repeat({n, 1});
  int64_t calls = 0;
  const dd::EpsFn eps = [&](const at::Tensor& z, const at::Tensor& g) {
    ++calls;
    return gaussian_eps(z, g);
  };
  const at::Tensor z_1 = torch::randn({n, 2}, torch::kDouble);
  const at::Tensor z_0 = dd::inpaint_loop(eps, gammas, z_1, f, mask, resample, gen);
  if (evaluations) *evaluations = calls;
  return z_0 / std::sqrt(1.0 / (1.0 + std::exp(-13.3)));
}

// The same loop with every noise draw replaced by 0. The loop is linear in its Gaussian draws
// (ε̂ is linear in z), so this is the exact mean of its output. Written out here from the
// formulas, not from the library's step functions.
double mean_of_loop(int64_t resample) {
  const at::Tensor g = linear_gammas();
  auto alpha = [&](int64_t i) { return std::sqrt(1.0 / (1.0 + std::exp(g[i].item<double>()))); };
  auto sigma = [&](int64_t i) { return std::sqrt(1.0 / (1.0 + std::exp(-g[i].item<double>()))); };
  const int64_t T = g.size(0) - 1;
  at::Tensor z = torch::tensor({{0.0, alpha(T) * 1.5}}, torch::kDouble);
  for (int64_t i = T; i >= 1; --i) {
    for (int64_t take = 1; take <= resample; ++take) {
      const at::Tensor e = gaussian_eps(z, g[i].reshape({1}));
      const at::Tensor x_hat = (z - sigma(i) * e) / alpha(i);
      // Mean of q(z_s|z_t, x̂) (MATH 2d): (α_s/α_t)(1 − c) z_t + α_s c x̂, c = 1 − SNR_t/SNR_s.
      const double snr_t = std::pow(alpha(i) / sigma(i), 2),
                   snr_s = std::pow(alpha(i - 1) / sigma(i - 1), 2);
      const double c = 1.0 - snr_t / snr_s;
      z = alpha(i - 1) / alpha(i) * (1 - c) * z + alpha(i - 1) * c * x_hat;
      z[0][1] = alpha(i - 1) * 1.5;                            // replacement, its noise at mean 0
      if (take < resample) z = z * (alpha(i) / alpha(i - 1));  // RePaint's re-noising, mean
    }
  }
  return z[0][0].item<double>() / alpha(0);
}

}  // namespace

TEST(VdmInpaint, KnownValuesComeBackBitForBitForImagesAndPoints) {
  for (const dd::VdmOptions& o : {small_image_options(), point_options()}) {
    dd::VdmModel model(o);
    perturb(model);
    std::vector<int64_t> shape{3};
    shape.insert(shape.end(), o.data_shape.begin(), o.data_shape.end());
    torch::manual_seed(1);
    // Not on the 8-bit grid: the model quantises its input, the known values must not be.
    const at::Tensor x = torch::rand(shape) * 0.9 + 0.05;
    const at::Tensor mask = (torch::rand(shape) < 0.5).to(torch::kFloat);
    for (int64_t r : {1, 2}) {
      const at::Tensor out = model.inpaint(x, mask, {r, 1});
      ASSERT_EQ(out.sizes(), x.sizes());
      EXPECT_TRUE(torch::equal(out.masked_select(mask.to(torch::kBool)),
                               x.masked_select(mask.to(torch::kBool))))
          << "resample " << r;
      EXPECT_FALSE(torch::equal(out, x));  // the unknown values were drawn
    }
    EXPECT_TRUE(torch::equal(model.inpaint(x, torch::ones_like(x), {}), x));
  }
}

// Replacement with nothing known is the ancestral sampler: the same draws in the same order, so
// the same samples bit for bit under the same seed (whatever sampler the run is set to use).
TEST(VdmInpaint, NothingKnownDrawsWhatTheAncestralSamplerDraws) {
  for (dd::VdmOptions o : {small_image_options(), point_options()}) {
    o.sampler = "ddim";
    dd::VdmModel model(o);
    perturb(model);
    std::vector<int64_t> shape{4};
    shape.insert(shape.end(), o.data_shape.begin(), o.data_shape.end());
    torch::manual_seed(11);
    const at::Tensor samples = model.vdm()->sample(4, "ancestral", o.sample_steps);
    torch::manual_seed(11);
    const at::Tensor x = torch::rand(shape);
    torch::manual_seed(11);
    const at::Tensor out = model.inpaint(x, torch::zeros_like(x), {});
    EXPECT_TRUE(torch::equal(out, samples));
  }
}

// RePaint takes each of the T steps r times: r·T network evaluations, and the progress total
// says so.
TEST(VdmInpaint, RePaintCostsResampleTimesTheEvaluations) {
  int64_t one = 0, two = 0;
  gaussian_completions(1, 8, &one);
  gaussian_completions(2, 8, &two);
  EXPECT_EQ(one, 50);
  EXPECT_EQ(two, 100);

  dd::VdmModel model(point_options());
  const at::Tensor x = torch::rand({2, 2}), mask = torch::tensor({{1.0f, 0.0f}, {0.0f, 1.0f}});
  for (int64_t r : {1, 2}) {
    Reports reports;
    model.inpaint(x, mask, {r, 1});
    ASSERT_EQ(reports.seen.size(), static_cast<size_t>(6 * r));
    EXPECT_EQ(reports.seen.back(), std::make_tuple(std::string("inpaint"), 6 * r, 6 * r));
  }
}

// On N(0, [[1, 0.9], [0.9, 1]]) with f_1 = 1.5 known, f_0 | f_1 ~ N(1.35, 0.19). With the exact
// ε̂, the loop's mean over 4000 chains must match the loop's exact mean (noise set to 0, above)
// to 4 standard errors (s.e. ≤ √(0.3/4000) = 0.009): a replacement at the wrong level or scale,
// or a re-noising with the wrong mean, moves it by more. Plain replacement is known to fall
// short of the conditional (its known values are drawn without regard to the unknown ones);
// RePaint's resampling lets them agree, and r = 5 comes within 0.15 of 1.35 with a variance
// within 0.05 of 0.19. Measured: r = 1 mean 0.911 (exact 0.897), r = 5 mean 1.268 (exact 1.270)
// and variance 0.181.
TEST(VdmInpaint, ReplacementAndRePaintOnAGaussianWithTheExactEpsilon) {
  const int64_t n = 4000;
  const at::Tensor plain = gaussian_completions(1, n).select(1, 0);
  const at::Tensor repaint = gaussian_completions(5, n).select(1, 0);
  const double plain_mean = plain.mean().item<double>(),
               repaint_mean = repaint.mean().item<double>();
  EXPECT_NEAR(plain_mean, mean_of_loop(1), 4 * std::sqrt(plain.var().item<double>() / n));
  EXPECT_NEAR(repaint_mean, mean_of_loop(5), 4 * std::sqrt(repaint.var().item<double>() / n));
  EXPECT_GT(plain_mean, 0.5);  // the known value pulls the unknown one from the prior's 0
  EXPECT_LT(std::abs(repaint_mean - 1.35), std::abs(plain_mean - 1.35) - 0.2);
  EXPECT_NEAR(repaint_mean, 1.35, 0.15);
  EXPECT_NEAR(repaint.var().item<double>(), 0.19, 0.05);
}

TEST(VdmInpaint, BadInputsNameTheInputAndTheFix) {
  dd::VdmModel model(point_options());
  EXPECT_TRUE(model.inpaint_blocker().empty());
  const at::Tensor x = torch::rand({2, 2});
  using deepgen::testing::error_message;
  EXPECT_NE(error_message([&] {
              model.inpaint(x, torch::ones({2, 3}), {});
            }).find("mask is 2x3"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              model.inpaint(torch::rand({2, 3}), torch::ones({2, 3}), {});
            }).find("examples are 2"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              model.inpaint(x, torch::full({2, 2}, 0.5), {});
            }).find("0 and 1"),
            std::string::npos);
  EXPECT_NE(error_message([&] {
              model.inpaint(x, torch::ones({2, 2}), {0, 1});
            }).find("resample"),
            std::string::npos);
}

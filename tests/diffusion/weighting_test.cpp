// Weighted objectives and importance sampling of ℓ (BEYOND B1), and the ε/x/v maps (BEYOND B2).
#include "deepgen/diffusion/weighting.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "deepgen/core/error.h"
#include "deepgen/diffusion/model.h"
#include "deepgen/diffusion/schedule.h"
#include "deepgen/diffusion/vdm.h"
#include "diffusion/vdm_fixtures.h"

namespace dd = deepgen::diffusion;

namespace {

constexpr double kGammaMin = -13.3, kGammaMax = 5.0;  // the default range; ℓ = −γ

dd::LogSnrWeight ones() {
  return [](const at::Tensor& l) { return torch::ones_like(l); };
}

// A fixed denoiser ε̂ = c·z on fixed data x, for which E_ε‖ε − ε̂‖² is known in closed form:
// z = αx + σε gives ε − cz = (1 − cσ)ε − cαx, so E = D(1 − cσ)² + c²α²‖x‖².
constexpr double kC = 0.6;
at::Tensor expected_mse(const at::Tensor& logsnr, const at::Tensor& x) {
  auto g = -logsnr;
  auto a = dd::alpha2(g).sqrt(), s = dd::sigma2(g).sqrt();
  return x.numel() * (1 - kC * s).pow(2) + kC * kC * a.pow(2) * x.pow(2).sum();
}

// ½ ∫ w(ℓ) E‖ε − ε̂‖² dℓ over the range by the trapezoid rule on 200 001 points (error ~1e-9
// relative for these smooth integrands: far below the Monte Carlo tolerance below).
double exact_weighted_loss(const dd::LogSnrWeight& w, const at::Tensor& x) {
  auto l = torch::linspace(-kGammaMax, -kGammaMin, 200001, torch::kDouble);
  auto f = 0.5 * w(l) * expected_mse(l, x);
  return torch::trapezoid(f, l).item<double>();
}

// A VDM on 2-D points with a 16-unit, one-block MLP: enough to exercise the model's maps.
dd::VdmOptions tiny_point_options() {
  dd::VdmOptions o = deepgen::testing::point_options();
  o.net.hidden = 16;
  o.net.layers = 1;
  return o;
}

struct Estimate {
  double mean, standard_error;
};

// n draws of the B1 estimator ½ (w/p)‖ε − ε̂‖² with fresh ε and ℓ ~ p (stratified u).
Estimate monte_carlo(const dd::LogSnrWeight& w, const dd::LogSnrProposal& p, const at::Tensor& x,
                     int64_t n) {
  auto u = dd::antithetic_times(n, torch::rand({}, torch::kDouble));
  auto [logsnr, density] = p.draw(u);
  auto g = dd::per_example(-logsnr, x.expand({n, x.size(0)}));
  auto eps = torch::randn({n, x.size(0)}, torch::kDouble);
  auto z = dd::alpha2(g).sqrt() * x + dd::sigma2(g).sqrt() * eps;
  auto values = dd::weighted_diffusion_loss(eps, kC * z, w(logsnr) / density);
  return {values.mean().item<double>(), values.std().item<double>() / std::sqrt(double(n))};
}

}  // namespace

// w ≡ 1 with ℓ uniform on [−γ(1), −γ(0)] is exactly the seed's L_∞ (MATH 2h) for the fixed
// linear schedule: 1/p = γ1 − γ0 = γ'(t). float32 tolerance: both are one product of the same
// squared error, so they agree to a few ulps.
TEST(Weighting, ElboWithUniformProposalIsTheContinuousLoss) {
  auto p = dd::make_proposal("uniform", ones(), -kGammaMax, -kGammaMin);
  auto draw = p.draw(torch::rand({16}));
  auto eps = torch::randn({16, 1, 4, 4}), eps_hat = torch::randn({16, 1, 4, 4});
  auto ours = dd::weighted_diffusion_loss(eps, eps_hat, 1.0 / draw.density);
  auto seed = dd::diffusion_loss_continuous(eps, eps_hat, torch::full({16}, kGammaMax - kGammaMin));
  EXPECT_TRUE(torch::allclose(ours, seed, 1e-6, 0)) << (ours - seed).abs().max();
  EXPECT_TRUE(draw.logsnr.ge(-kGammaMax).all().item<bool>());
  EXPECT_TRUE(draw.logsnr.le(-kGammaMin).all().item<bool>());
}

// Unbiasedness: for each weighting, the importance estimate with p ∝ w and the one with
// uniform ℓ both match the quadrature of ½∫w E‖ε − ε̂‖² within 4 standard errors (a false
// failure has probability ~6e-5 per check). Forgetting to divide by p, or dividing by the
// density of another cell, moves the estimate by many standard errors (checked for one case).
TEST(Weighting, ImportanceSampledEstimatorIsUnbiased) {
  torch::manual_seed(3);
  auto x = torch::tensor({0.3, -0.8, 0.5}, torch::kDouble);
  const int64_t n = 200000;
  for (const char* name : {"elbo", "sigmoid", "edm"}) {
    auto w = dd::weighting(name, 2.0);
    const double exact = exact_weighted_loss(w, x);
    for (const char* proposal : {"uniform", "weighting"}) {
      auto p = dd::make_proposal(proposal, w, -kGammaMax, -kGammaMin);
      auto e = monte_carlo(w, p, x, n);
      EXPECT_NEAR(e.mean, exact, 4 * e.standard_error)
          << name << " / " << proposal << ": SE " << e.standard_error;
    }
  }
  // The same draws without the 1/p factor are far off: the test can fail.
  auto w = dd::weighting("sigmoid", 2.0);
  auto p = dd::make_proposal("weighting", w, -kGammaMax, -kGammaMin);
  auto draw = p.draw(torch::rand({n}, torch::kDouble));
  const double wrong = (0.5 * w(draw.logsnr) * expected_mse(draw.logsnr, x)).mean().item<double>();
  EXPECT_GT(std::abs(wrong - exact_weighted_loss(w, x)), 0.1 * exact_weighted_loss(w, x));
}

// With p ∝ w the ratio w/p is the same for every draw (the zero-variance choice in ℓ), and the
// density integrates to 1 (float64 sums of 4096 cells: 1e-12).
TEST(Weighting, ProposalProportionalToTheWeightingHasConstantRatio) {
  auto w = dd::weighting("edm", 0.0);
  auto p = dd::make_proposal("weighting", w, -kGammaMax, -kGammaMin);
  auto draw = p.draw(torch::rand({4096}, torch::kDouble));
  auto ratio = w(draw.logsnr) / draw.density;
  // Within a cell w varies by at most (18.3/4096)·max|w'/w| ≈ 1 %: the tolerance.
  EXPECT_LT(((ratio - ratio.mean()).abs() / ratio.mean()).max().item<double>(), 0.02);
  auto grid = torch::linspace(-kGammaMax, -kGammaMin, 100001, torch::kDouble);
  EXPECT_NEAR(torch::trapezoid(p.density(grid), grid).item<double>(), 1.0, 1e-3);
  EXPECT_EQ(p.density(torch::tensor({-kGammaMax - 1.0}, torch::kDouble)).item<double>(), 0.0);
}

TEST(Weighting, SigmoidAndEdmHaveTheirPublishedShapes) {
  auto l = torch::tensor({-5.0, 2.0, 10.0}, torch::kDouble);
  auto s = dd::sigmoid_weighting(l, 2.0);
  EXPECT_NEAR(s[1].item<double>(), 0.5, 1e-12);                          // ℓ = b
  EXPECT_NEAR(s[2].item<double>(), 1.0 / (1.0 + std::exp(8.0)), 1e-12);  // e^{b−ℓ} tail
  // EDM at ℓ = 2.4 (its mode in log σ): N(0; 0, 2.4²)·(e^{−2.4} + ¼)/¼.
  const double at_mode = (std::exp(-2.4) + 0.25) / 0.25 / (2.4 * std::sqrt(2 * M_PI));
  EXPECT_NEAR(dd::edm_weighting(torch::tensor({2.4}, torch::kDouble)).item<double>(), at_mode,
              1e-12);
}

TEST(Weighting, ProposalWithoutSupportWhereTheWeightingIsPositiveIsRefused) {
  auto half = [](const at::Tensor& l) { return (l < 0).to(l.dtype()); };
  try {
    dd::LogSnrProposal(half, dd::weighting("sigmoid", 2.0), -kGammaMax, -kGammaMin);
    FAIL() << "expected an error";
  } catch (const deepgen::Error& e) {
    EXPECT_NE(std::string(e.what()).find("`vdm.proposal`"), std::string::npos) << e.what();
  }
  EXPECT_THROW(dd::weighting("snr", 0.0), deepgen::Error);
  EXPECT_THROW(dd::make_proposal("normal", ones(), -1, 1), deepgen::Error);
}

// BEYOND B2: the three parameterisations are one another's exact images (float64, 1e-9 at
// |γ| ≤ 8, where the worst factor 1/α or 1/σ is e^4).
TEST(Parameterisation, EpsXAndVMapsAreInverse) {
  auto z = torch::randn({6, 5}, torch::kDouble), eps = torch::randn({6, 5}, torch::kDouble);
  auto gamma = torch::linspace(-8, 8, 6, torch::kDouble);
  auto x = dd::x_from_eps(z, eps, gamma);
  auto v = dd::v_from_eps(z, eps, gamma);
  auto g = dd::per_example(gamma, z);
  auto a = dd::alpha2(g).sqrt(), s = dd::sigma2(g).sqrt();
  EXPECT_TRUE(torch::allclose(v, a * eps - s * x, 1e-9, 1e-9));  // the definition v = αε − σx
  EXPECT_TRUE(torch::allclose(dd::eps_from_v(z, v, gamma), eps, 1e-9, 1e-9));
  EXPECT_TRUE(torch::allclose(dd::x_from_v(z, v, gamma), x, 1e-9, 1e-9));
  EXPECT_TRUE(torch::allclose(dd::eps_from_x(z, x, gamma), eps, 1e-9, 1e-9));
}

// An untrained x- or v-network outputs 0 (zero-initialised last layer, no ε skip), so ε̂ is the
// map of 0: z/σ for x̂ = 0 and σz for v̂ = 0. Exact up to float32 rounding of the maps.
TEST(Parameterisation, ModelMapsItsNetworkOutputToEps) {
  for (const char* prediction : {"x", "v"}) {
    dd::VdmOptions o = tiny_point_options();
    o.prediction = prediction;
    dd::Vdm vdm(o);
    auto z = torch::randn({4, 2});
    auto gamma = torch::tensor({-3.0f, -1.0f, 0.0f, 2.0f});
    auto s = dd::sigma2(gamma).sqrt().unsqueeze(1);
    auto want = std::string(prediction) == "x" ? z / s : s * z;
    EXPECT_TRUE(torch::allclose(vdm->eps(z, gamma), want, 1e-5, 1e-6)) << prediction;
  }
}

TEST(Weighting, WeightedTrainingNeedsTheFixedScheduleAndContinuousTime) {
  dd::VdmOptions o;
  o.data_shape = {2};
  o.net.architecture = "mlp";
  o.weighting = "sigmoid";
  o.schedule.kind("learned_linear");
  try {
    dd::validate(o);
    FAIL() << "expected an error";
  } catch (const deepgen::Error& e) {
    EXPECT_NE(std::string(e.what()).find("`vdm.weighting`"), std::string::npos) << e.what();
  }
  o.schedule.kind("fixed");
  o.T = 100;
  EXPECT_THROW(dd::validate(o), deepgen::Error);
  o.T = 0;
  EXPECT_NO_THROW(dd::validate(o));
}

// Training with a weighting reports the bound's bpd beside the weighted loss, and the two differ
// (w ≤ 1 for sigmoid, so L_w < L_∞ on average); with the elbo weighting they are equal.
TEST(Weighting, ModelLogsTheBoundBesideTheWeightedLoss) {
  torch::manual_seed(0);
  auto x = torch::randn({64, 2});
  for (const char* name : {"elbo", "sigmoid"}) {
    dd::VdmOptions o = tiny_point_options();
    o.weighting = name;
    o.proposal = "weighting";
    dd::VdmModel model(o);
    auto out = model.loss(x);
    ASSERT_EQ(out.parts.at(0).first, "bpd");
    const double loss = out.loss.item<double>(), bpd = out.parts[0].second.item<double>();
    ASSERT_TRUE(std::isfinite(loss) && std::isfinite(bpd));
    if (std::string(name) == "elbo")
      EXPECT_NEAR(loss, bpd, 1e-5 * std::abs(bpd));
    else
      EXPECT_LT(loss, bpd);
  }
}

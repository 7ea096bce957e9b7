// Samplers with exact denoisers, where the answer is known.
#include "deepgen/diffusion/sampler.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "deepgen/core/rng.h"
#include "deepgen/diffusion/schedule.h"
#include "deepgen/diffusion/vdm.h"

namespace dd = deepgen::diffusion;

namespace {

// α and σ of a γ, in double: the tests' own arithmetic.
double alpha_of(double g) { return std::sqrt(1 / (1 + std::exp(g))); }
double sigma_of(double g) { return std::sqrt(1 / (1 + std::exp(-g))); }

at::Tensor grid(int64_t steps) {
  dd::NoiseSchedule s;
  s->to(torch::kFloat64);
  return s->gamma(torch::linspace(0, 1, steps + 1, torch::kFloat64));
}

}  // namespace

// Data all at one point x0: the exact ε̂(z_t) = (z_t − α_t x0)/σ_t is constant along a DDIM
// path, so DDIM lands at α_0 x0 + σ_0 ε̂(z_1) in any number of steps.
TEST(VdmSampler, DdimWithTheExactDenoiserOfAPointMassIsExact) {
  auto x0 = torch::tensor({{0.25, -0.5, 0.75}}, torch::kFloat64);
  dd::EpsFn eps = [&](const at::Tensor& z, const at::Tensor& g) {
    return dd::eps_from_x(z, x0, g);
  };
  auto gen = deepgen::make_generator(1);
  auto z1 = torch::randn({1, 3}, torch::kFloat64);
  for (int64_t steps : {1, 7, 50}) {
    auto gammas = grid(steps);
    auto z0 = dd::sample_loop("ddim", eps, gammas, z1, gen);
    auto g0 = gammas[0], g1 = gammas[steps];
    auto expected = dd::alpha2(g0).sqrt() * x0 + dd::sigma2(g0).sqrt() * dd::eps_from_x(z1, x0, g1);
    EXPECT_TRUE(torch::allclose(z0, expected, 1e-10, 1e-12)) << steps;
  }
}

// Data N(0, 1): the exact denoiser is E[x|z_t] = α_t z_t, i.e. ε̂ = σ_t z_t. Each step is then
// linear, z_s = m z_t + sqrt(v)·noise, so Var[z_0] follows a recursion: DDIM shrinks it by
// (α_s α_t + σ_s σ_t)² per step, the ancestral step gives m = (α_s/α_t)(1 − c σ_t²), v = σ_s² c.
// Both converge to Var = 1 (q(z_0) = N(0, 1)) as the steps grow; the samples must follow the
// recursion at a finite number of steps.
TEST(VdmSampler, BothSamplersFollowTheExactVarianceRecursion) {
  dd::EpsFn eps = [](const at::Tensor& z, const at::Tensor& g) {
    return dd::sigma2(dd::per_example(g, z)).sqrt() * z;
  };
  auto variance_after = [](const std::string& sampler, const at::Tensor& gammas) {
    double var = 1;
    for (int64_t i = gammas.size(0) - 1; i >= 1; --i) {
      const double gt = gammas[i].item<double>(), gs = gammas[i - 1].item<double>();
      const double at = alpha_of(gt), st = sigma_of(gt), as = alpha_of(gs), ss = sigma_of(gs);
      if (sampler == "ddim") {
        var *= std::pow(as * at + ss * st, 2);
      } else {
        const double c = -std::expm1(gs - gt), m = as / at * (1 - c * st * st);
        var = m * m * var + ss * ss * c;
      }
    }
    return var;
  };
  for (const char* sampler : {"ancestral", "ddim"}) {
    auto gen = deepgen::make_generator(2);
    auto z1 = at::randn({20000, 1}, gen, torch::kFloat64);
    auto z0 = dd::sample_loop(sampler, eps, grid(200), z1, gen);
    // 4 standard errors of a variance from 20000 draws: 4·sqrt(2/20000) = 0.04 (times Var[z_1]).
    const double expected = variance_after(sampler, grid(200)) * z1.var().item<double>();
    EXPECT_NEAR(z0.var().item<double>(), expected, 0.04 * expected) << sampler;
    EXPECT_LT(std::abs(variance_after(sampler, grid(200)) - 1), 0.1) << sampler;
    EXPECT_LT(std::abs(variance_after(sampler, grid(5000)) - 1), 0.005) << sampler;
  }
}

TEST(VdmSampler, AncestralStepIsTheReverseModelsMeanPlusItsStd) {
  auto z_t = torch::tensor({{0.3, -1.0}}, torch::kFloat64),
       eps_hat = torch::tensor({{0.5, 0.1}}, torch::kFloat64);
  auto noise = torch::tensor({{1.0, -2.0}}, torch::kFloat64);
  auto gt = torch::tensor({0.5}, torch::kFloat64), gs = torch::tensor({-1.0}, torch::kFloat64);
  // VDM App. A with σ_t: (α_s/α_t)(z_t − c σ_t ε̂) + sqrt(σ_s² c) noise, c = −expm1(γ_s − γ_t).
  const double c = -std::expm1(-1.0 - 0.5);
  auto expected = alpha_of(-1.0) / alpha_of(0.5) * (z_t - c * sigma_of(0.5) * eps_hat) +
                  std::sqrt(c) * sigma_of(-1.0) * noise;
  EXPECT_TRUE(torch::allclose(dd::ancestral_step(z_t, eps_hat, gt, gs, noise), expected, 1e-12, 0));
}

// Its first step (no earlier x̂) is the exact posterior step given x̂: the ancestral step.
TEST(VdmSampler, TheFirstStepOfSdeDpmSolverPlusPlusIsTheAncestralStep) {
  auto z_t = torch::tensor({{0.3, -1.0}, {2.0, 0.5}}, torch::kFloat64),
       eps_hat = torch::tensor({{0.5, 0.1}, {-0.7, 1.2}}, torch::kFloat64);
  auto noise = torch::tensor({{1.0, -2.0}, {0.3, 0.4}}, torch::kFloat64);
  auto gt = torch::tensor({0.5, 3.0}, torch::kFloat64),
       gs = torch::tensor({-1.0, 1.0}, torch::kFloat64);
  auto x_hat = dd::x_from_eps(z_t, eps_hat, gt);
  EXPECT_TRUE(torch::allclose(dd::dpmpp_2m_sde_step(z_t, x_hat, gt, gs, {}, {}, noise),
                              dd::ancestral_step(z_t, eps_hat, gt, gs, noise), 1e-12, 1e-14));
}

// Data N(0, 1) again, x̂ = α_t z_t. SDE-DPM-Solver++(2M)'s step is linear in (z_t, z_prev):
// z_s = a z_t + b z_prev + c·noise with a = A + B(1 + k)α_t, b = −B k α_prev (A, B, c its
// coefficients, k = h/(2 h_prev) its extrapolation), so Var[z_0] follows a recursion on the 2×2
// covariance of (z_t, z_prev). The samples must follow it, and its error in Var falls as the
// square of the step (the extrapolation is what makes it second order; ancestral: first).
TEST(VdmSampler, SdeDpmSolverPlusPlusFollowsItsVarianceRecursionAndIsSecondOrder) {
  dd::EpsFn eps = [](const at::Tensor& z, const at::Tensor& g) {
    return dd::sigma2(dd::per_example(g, z)).sqrt() * z;
  };
  auto variance_after = [](const at::Tensor& gammas) {
    double v_t = 1, cov = 0, v_prev = 0, h_prev = 0, a_prev = 0;
    for (int64_t i = gammas.size(0) - 1; i >= 1; --i) {
      const double gt = gammas[i].item<double>(), gs = gammas[i - 1].item<double>();
      const double h = 0.5 * (gt - gs), keep = -std::expm1(-2 * h);
      const double A = sigma_of(gs) / sigma_of(gt) * std::exp(-h), B = alpha_of(gs) * keep;
      const double k = h_prev > 0 ? h / (2 * h_prev) : 0;
      const double m = A + B * (1 + k) * alpha_of(gt), n = -B * k * a_prev;
      const double v_s =
          m * m * v_t + n * n * v_prev + 2 * m * n * cov + sigma_of(gs) * sigma_of(gs) * keep;
      cov = m * v_t + n * cov;
      v_prev = v_t;
      v_t = v_s;
      h_prev = h;
      a_prev = alpha_of(gt);
    }
    return v_t;
  };
  auto gen = deepgen::make_generator(3);
  auto z1 = at::randn({20000, 1}, gen, torch::kFloat64);
  auto z0 = dd::sample_loop("dpmpp2m-sde", eps, grid(20), z1, gen);
  // 4 standard errors of a variance from 20000 draws, as above.
  const double expected = variance_after(grid(20)) * z1.var().item<double>();
  EXPECT_NEAR(z0.var().item<double>(), expected, 0.04 * expected);
  // Error in Var at 200 and 1000 steps: 7e-4 and 2.8e-5 here, a factor 25 for 5× the steps
  // (order 2); the ancestral sampler's falls by ~5 (order 1) and so fails the 15.
  const double coarse = std::abs(variance_after(grid(200)) - 1);
  const double fine = std::abs(variance_after(grid(1000)) - 1);
  EXPECT_GT(coarse / fine, 15) << coarse << " " << fine;
  EXPECT_LT(coarse, 0.005);
}

TEST(VdmSampler, UnknownSamplerIsAnError) {
  auto gen = deepgen::make_generator(0);
  dd::EpsFn eps = [](const at::Tensor& z, const at::Tensor&) { return z; };
  EXPECT_THROW(dd::sample_loop("euler", eps, grid(3), torch::zeros({1, 1}, torch::kFloat64), gen),
               std::exception);
}

// The probability-flow ODE solvers against exact answers (BEYOND B3): Gaussian data, whose
// denoiser and ODE map are closed forms, measure each solver's order; a point mass, which
// every solver reproduces exactly, checks the updates' algebra.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <iostream>

#include "deepgen/core/error.h"
#include "deepgen/core/rng.h"
#include "deepgen/diffusion/model.h"
#include "deepgen/diffusion/sampler.h"
#include "deepgen/diffusion/schedule.h"
#include "deepgen/diffusion/vdm.h"
#include "support/fit.h"

namespace dd = deepgen::diffusion;
using deepgen::testing::log_log_slope;

namespace {

const std::vector<std::string> kSolvers{"ddim", "dpm2", "dpm3", "dpmpp2m", "heun"};

dd::NoiseSchedule double_schedule(const std::string& kind = "fixed") {
  dd::NoiseSchedule s(dd::ScheduleOptions().kind(kind).hidden(16));
  s->to(torch::kFloat64);
  return s;
}

at::Tensor alpha(const at::Tensor& g) { return dd::alpha2(g).sqrt(); }
at::Tensor sigma(const at::Tensor& g) { return dd::sigma2(g).sqrt(); }

// Data x ~ N(μ, s²) per coordinate: z_γ = α x + σ ε is N(αμ, v), v = α²s² + σ², so the optimal
// ε̂ = E[ε | z] = Cov(ε, z)/v · (z − αμ) = σ (z − αμ)/v, and the ODE keeps z's standard score.
struct Gaussian {
  at::Tensor mu, s2;
  at::Tensor var(const at::Tensor& g) const { return dd::alpha2(g) * s2 + dd::sigma2(g); }
  at::Tensor eps(const at::Tensor& z, const at::Tensor& gamma) const {
    auto g = dd::per_example(gamma, z);
    return sigma(g) * (z - alpha(g) * mu) / var(g);
  }
  // BEYOND B3: z_to = α_to μ + √(v_to/v_from) (z − α_from μ).
  at::Tensor ode_map(const at::Tensor& z, const at::Tensor& g_from, const at::Tensor& g_to) const {
    return alpha(g_to) * mu + (var(g_to) / var(g_from)).sqrt() * (z - alpha(g_from) * mu);
  }
};

// Three coordinates of very different scale s = 0.1, 0.5, 2: the ε̂ of each turns over at
// η ≈ −log s, so the path crosses three regimes.
Gaussian gaussian() {
  return {torch::tensor({0.7, -0.3, 0.7}, torch::kFloat64),
          torch::tensor({0.01, 0.25, 4.0}, torch::kFloat64)};
}

double max_error(const std::string& solver, const Gaussian& data, const at::Tensor& z1,
                 int64_t steps) {
  auto schedule = double_schedule();
  auto gammas = dd::sampling_gammas(schedule, "eta", steps);
  dd::EpsFn eps = [&](const at::Tensor& z, const at::Tensor& g) { return data.eps(z, g); };
  auto gen = deepgen::make_generator(0);
  auto z0 = dd::sample_loop(solver, eps, gammas, z1, gen);
  auto exact = data.ode_map(z1, gammas[steps], gammas[0]);
  return (z0 - exact).abs().max().item<double>();
}

}  // namespace

// From γ = 5 to −13.3 (the default range; η spans 9.15) on an η-uniform grid in float64: the
// error at the largest N (≥ 7e-9 for dpm3) is six orders above double rounding. N starts at 16
// because DPM-Solver++(2M) is not yet asymptotic at 4 and 8 (its first step is first order and
// its extrapolation has h ≈ 1): measured local slopes there are 0.9–1.8, then 1.84, 1.97, 1.99,
// 2.00 up to 256. Over 16..256 every fit lands within 0.15 of the order, the residual being the
// O(1/N) pre-asymptotic term; ±0.25 keeps each order at least 0.75 from its neighbours.
TEST(SolverOrder, ErrorFallsAsTheSolversOrderInTheSteps) {
  const Gaussian data = gaussian();
  auto z1 = torch::tensor({{1.3, -0.8, 0.4}, {-2.0, 0.5, 1.1}}, torch::kFloat64);
  const std::vector<double> steps{16, 32, 64, 128, 256};
  for (const auto& solver : kSolvers) {
    std::vector<double> errors;
    for (double n : steps) errors.push_back(max_error(solver, data, z1, static_cast<int64_t>(n)));
    const double slope = -log_log_slope(steps, errors);
    std::cout << "[ solver  ] " << solver << ": order " << dd::sampler_order(solver)
              << ", measured slope " << slope << " (error " << errors.front() << " at 16 steps, "
              << errors.back() << " at 256)\n";
    EXPECT_NEAR(slope, dd::sampler_order(solver), 0.25) << solver;
  }
}

// A point mass x0: ε̂ = (z − α x0)/σ makes x̂ = x0 exact everywhere, so the exact path keeps ε̂
// constant and each solver's corrections (differences of ε̂ or x̂) vanish: every solver lands
// on α_0 x0 + σ_0 ε̂(z_1) in any number of steps, up to rounding (1e-10 in double).
TEST(SolverOrder, EverySolverReproducesAPointMassExactly) {
  auto x0 = torch::tensor({{0.25, -0.5, 0.75}}, torch::kFloat64);
  dd::EpsFn eps = [&](const at::Tensor& z, const at::Tensor& g) {
    return dd::eps_from_x(z, x0, g);
  };
  auto z1 = torch::tensor({{0.3, 1.2, -0.9}}, torch::kFloat64);
  auto schedule = double_schedule();
  for (const auto& solver : kSolvers)
    for (const std::string grid : {"t", "eta"})
      for (int64_t steps : {2, 7, 50}) {
        auto gammas = dd::sampling_gammas(schedule, grid, steps);
        auto gen = deepgen::make_generator(0);
        auto z0 = dd::sample_loop(solver, eps, gammas, z1, gen);
        auto g0 = gammas[0], g1 = gammas[steps];
        auto expected = alpha(g0) * x0 + sigma(g0) * dd::eps_from_x(z1, x0, g1);
        EXPECT_LT((z0 - expected).abs().max().item<double>(), 1e-10) << solver << " " << steps;
      }
}

// A linear γ(t) is linear in η too, so the two grids hold the same values up to rounding and
// the solvers' results agree to 1e-12 (a few ulps of O(1) values, amplified over 10 steps).
TEST(SolverOrder, GridsInTAndEtaAgreeForALinearSchedule) {
  auto schedule = double_schedule();
  const Gaussian data = gaussian();
  dd::EpsFn eps = [&](const at::Tensor& z, const at::Tensor& g) { return data.eps(z, g); };
  auto gt = dd::sampling_gammas(schedule, "t", 10), ge = dd::sampling_gammas(schedule, "eta", 10);
  EXPECT_LT((gt - ge).abs().max().item<double>(), 1e-13);
  auto z1 = torch::tensor({{1.3, -0.8, 0.4}}, torch::kFloat64);
  for (const auto& solver : kSolvers) {
    auto gen = deepgen::make_generator(0);
    auto a = dd::sample_loop(solver, eps, gt, z1, gen),
         b = dd::sample_loop(solver, eps, ge, z1, gen);
    EXPECT_LT((a - b).abs().max().item<double>(), 1e-12) << solver;
  }
}

// For a learned schedule the η grid is the uniform one between the same endpoints, and it is
// not the t grid (a monotone net is not linear), so the option changes something.
TEST(SolverOrder, TheEtaGridIsUniformInGammaForALearnedSchedule) {
  auto schedule = double_schedule("learned_net");
  torch::NoGradGuard no_grad;
  auto gt = dd::sampling_gammas(schedule, "t", 8), ge = dd::sampling_gammas(schedule, "eta", 8);
  EXPECT_NEAR(ge[0].item<double>(), gt[0].item<double>(), 1e-12);
  EXPECT_NEAR(ge[8].item<double>(), gt[8].item<double>(), 1e-12);
  auto steps = ge.slice(0, 1) - ge.slice(0, 0, -1);
  EXPECT_LT((steps - steps[0]).abs().max().item<double>(), 1e-12);
  EXPECT_GT((gt - ge).abs().max().item<double>(), 1e-6);
}

TEST(SolverOrder, CostsAreTheNetworkEvaluationsOfTheTable) {
  EXPECT_EQ(dd::sampler_nfe("ancestral", 10), 10);
  EXPECT_EQ(dd::sampler_nfe("ddim", 10), 10);
  EXPECT_EQ(dd::sampler_nfe("dpm2", 10), 20);
  EXPECT_EQ(dd::sampler_nfe("dpm3", 10), 30);
  EXPECT_EQ(dd::sampler_nfe("dpmpp2m", 10), 10);
  EXPECT_EQ(dd::sampler_nfe("heun", 10), 20);
  EXPECT_EQ(dd::sampler_nfe("dpmpp2m-sde", 10), 10);
  // The loop calls the network exactly that often.
  const Gaussian data = gaussian();
  auto z1 = torch::tensor({{1.3, -0.8, 0.4}}, torch::kFloat64);
  auto schedule = double_schedule();
  for (const auto& solver : dd::sampler_names()) {
    int64_t calls = 0;
    dd::EpsFn eps = [&](const at::Tensor& z, const at::Tensor& g) {
      ++calls;
      return data.eps(z, g);
    };
    auto gen = deepgen::make_generator(0);
    dd::sample_loop(solver, eps, dd::sampling_gammas(schedule, "t", 6), z1, gen);
    EXPECT_EQ(calls, dd::sampler_nfe(solver, 6)) << solver;
  }
}

namespace {

// The message of the deepgen::Error `f` throws ("" if none).
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const deepgen::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(SolverOrder, BadSamplersAndTooFewStepsAreOneLineErrorsNamingTheOption) {
  auto gen = deepgen::make_generator(0);
  dd::EpsFn eps = [](const at::Tensor& z, const at::Tensor&) { return z; };
  auto z = torch::zeros({1, 1}, torch::kFloat64);
  auto gammas = [](int64_t steps) { return torch::linspace(-13.3, 5, steps + 1, torch::kFloat64); };
  const std::string unknown = error_of([&] { dd::sample_loop("euler", eps, gammas(3), z, gen); });
  EXPECT_NE(unknown.find(deepgen::option_ref("vdm", "sampler")), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("dpmpp2m"), std::string::npos) << unknown;  // the choices are listed
  const std::string few = error_of([&] { dd::sample_loop("dpmpp2m", eps, gammas(1), z, gen); });
  EXPECT_NE(few.find(deepgen::option_ref("vdm", "sample_steps")), std::string::npos) << few;
  EXPECT_NE(few.find(">= 2"), std::string::npos) << few;
  for (const auto& message : {unknown, few}) EXPECT_EQ(message.find('\n'), std::string::npos);
  // One step is a genuine step of the singlestep solvers.
  for (const char* solver : {"ancestral", "ddim", "dpm2", "dpm3", "dpmpp2m-sde", "heun"})
    EXPECT_EQ(error_of([&] { dd::sample_loop(solver, eps, gammas(1), z, gen); }), "") << solver;
  // Options are checked before any sampling.
  dd::VdmOptions o;
  o.sampler = "dpmpp2m";
  o.sample_steps = 1;
  EXPECT_NE(error_of([&] { dd::validate(o); }).find(deepgen::option_ref("vdm", "sample_steps")),
            std::string::npos);
  o.sample_grid = "sigma";
  EXPECT_NE(error_of([&] { dd::validate(o); }).find(deepgen::option_ref("vdm", "sample_grid")),
            std::string::npos);
}

// VE-SDE samplers (score/sde.h) on data N(μ, s²I), whose noised score is exact:
// p_σ = N(μ, (s² + σ²)I), s(x, σ) = −(x − μ)/(s² + σ²).
#include "deepgen/score/sde.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "deepgen/core/error.h"
#include "deepgen/core/rng.h"
#include "deepgen/score/losses.h"
#include "deepgen/score/model.h"
#include "support/fit.h"

namespace deepgen::score {
namespace {

using deepgen::testing::log_log_slope;

const auto kF64 = at::TensorOptions().dtype(at::kDouble);

struct Gaussian {
  at::Tensor mu;  // (D)
  double s;       // data std; 0 is a point mass at μ
  NoiseScoreFn score() const {
    return [mu = mu, s = s](const at::Tensor& x, const at::Tensor& sigma) {
      const at::Tensor var = (s * s + sigma.pow(2)).to(x.dtype()).view({-1, 1});
      return -(x - mu) / var;
    };
  }
  // n draws of p_σ.
  at::Tensor draw(int64_t n, double sigma, at::Generator& gen) const {
    const at::Tensor z = at::randn({n, mu.size(0)}, gen, mu.options());
    return mu + std::sqrt(s * s + sigma * sigma) * z;
  }
  // The exact probability-flow map from σ to σ′: x′ = μ + √((s² + σ′²)/(s² + σ²))·(x − μ).
  at::Tensor flow(const at::Tensor& x, double sigma, double sigma_next) const {
    return mu + std::sqrt((s * s + sigma_next * sigma_next) / (s * s + sigma * sigma)) * (x - mu);
  }
};

Gaussian gaussian(double s, at::ScalarType dtype = at::kDouble) {
  return {at::tensor({1.0, -2.0}, kF64).to(dtype), s};
}

// Float64 so that the solvers' own error, not rounding, is what falls with the steps.
TEST(ProbabilityFlowOde, MapsTheNoisedGaussianExactlyInTheLimitWithEulerOrder1AndHeunOrder2) {
  const Gaussian g = gaussian(0.5);
  const double sigma_max = 10, sigma_min = 0.05;
  at::Generator gen = make_generator(1);
  const at::Tensor x0 = g.draw(1000, sigma_max, gen);
  const at::Tensor exact = g.flow(x0, sigma_max, sigma_min);
  const std::vector<double> steps{16, 32, 64, 128};
  for (const std::string solver : {"euler", "heun"}) {
    std::vector<double> errors;
    for (double n : steps) {
      const auto grid = geometric_sigmas(sigma_max, sigma_min, static_cast<int64_t>(n) + 1);
      const at::Tensor x = probability_flow_ode(x0, g.score(), grid, solver, false);
      errors.push_back((x - exact).abs().max().item<double>());  // the worst sample
    }
    const double slope = -log_log_slope(steps, errors);
    std::printf("[ measured ] %s: max error %.3e (16 steps) -> %.3e (128), order %.3f\n",
                solver.c_str(), errors.front(), errors.back(), slope);
    // The ODE is linear, so each sample's error is the same factor times x0 − μ; that factor's
    // local order (the scalar recurrence) is within 0.07 of its limit from 16 steps on
    // (Euler 0.94–0.99, Heun 2.13–2.02), well inside ±0.3.
    EXPECT_NEAR(slope, solver == "euler" ? 1.0 : 2.0, 0.3) << solver;
  }
  // Heun at 128 steps: each sample within 2.2e-4 (relative, from the scalar recurrence) of its
  // exact image; |x0 − μ| < 50 for 1000 draws of std 10.
  const auto grid = geometric_sigmas(sigma_max, sigma_min, 129);
  const at::Tensor x = probability_flow_ode(x0, g.score(), grid, "heun", false);
  EXPECT_TRUE(((x - exact).abs() <= 3e-4 * (x0 - g.mu).abs() + 1e-12).all().item<bool>());
}

// A point mass (s = 0): −σ·s(x, σ) = (x − μ)/σ, so the exact trajectories are straight lines
// in σ, x(σ) = μ + (σ/σ_0)(x_0 − μ), along which the slope is constant. Euler is exact for a
// constant slope and Heun's two slopes then coincide: any grid, even one step, maps exactly up
// to rounding. Rounding is amplified, though: a step from σ to σ′ ≪ σ cancels x − μ down to
// (σ′/σ)(x − μ), and Heun divides that by σ′ again (one step 10 → 0.05 in float32 is off by
// 3e-4), so the exactness is checked in float64 (1e-10 for |x0 − μ| < 50, 200-fold cancellation
// twice: ~1e-11). The Tweedie step x + σ²·(−(x − μ)/σ²) then maps any x onto μ, so in float32 it
// lands on μ to rounding however large the ODE's own rounding was.
TEST(ProbabilityFlowOde, PointMassIsMappedExactlyByEverySolverAndDenoisedOntoTheMean) {
  const double sigma_max = 10, sigma_min = 0.05;
  at::Generator gen = make_generator(2);
  const Gaussian g = gaussian(0.0), g32 = gaussian(0.0, at::kFloat);
  const at::Tensor x0 = g.draw(500, sigma_max, gen);
  const at::Tensor exact = g.flow(x0, sigma_max, sigma_min);
  for (const std::string solver : {"euler", "heun"})
    for (int64_t steps : {1, 7, 50}) {
      const auto grid = geometric_sigmas(sigma_max, sigma_min, steps + 1);
      const at::Tensor x = probability_flow_ode(x0, g.score(), grid, solver, false);
      EXPECT_LE((x - exact).abs().max().item<double>(), 1e-10) << solver << " " << steps;
      const at::Tensor denoised =
          probability_flow_ode(x0.to(at::kFloat), g32.score(), grid, solver, true);
      // |μ| ≤ 2, whose float32 spacing is 2.4e-7: within four spacings.
      EXPECT_LE((denoised - g32.mu).abs().max().item<double>(), 1e-6) << solver << " " << steps;
    }
}

struct Moments {
  double mean_error;  // the largest |mean − μ| over the coordinates
  double variance;    // pooled over the coordinates
};
Moments moments(const at::Tensor& x, const at::Tensor& mu) {
  return {(x.mean(0) - mu).abs().max().item<double>(),
          (x - x.mean(0)).pow(2).mean().item<double>()};
}

// PC sampling from the true p_σmax lands on p_σmin = N(μ, (s² + σ_min²)I). n = 20000 points in
// D = 2: the pooled variance's s.e. is v·√(2/(nD)) = 0.71% of v and the mean's √(v/n); the
// tolerance is 5 s.e. The deterministic bias, from the variance recursion of the predictor
// (excess Δ²/v per step, Δ = σ² − σ_next²) and the corrector (stationary v(1 + r²) for the snr
// rule on a Gaussian), is 0.58% for 200 steps with 2 corrector steps each, r = 0.05 (measured
// with n = 2·10⁵: +0.55%).
TEST(PcSampler, MatchesTheNoisedGaussianAtTheSmallestSigma) {
  const Gaussian g = gaussian(0.5);
  const double sigma_max = 10, sigma_min = 0.05, v = 0.25 + sigma_min * sigma_min;
  const int64_t n = 20000;
  at::Generator gen = make_generator(3);
  const auto grid = geometric_sigmas(sigma_max, sigma_min, 201);
  int64_t calls = 0;
  const at::Tensor x = pc_sampler(g.draw(n, sigma_max, gen), g.score(), grid, 2, 0.05, gen, false,
                                  [&](int64_t step, int64_t total, const at::Tensor&) {
                                    EXPECT_EQ(step, ++calls);
                                    EXPECT_EQ(total, 600);
                                  });
  EXPECT_EQ(calls, 600);
  const Moments m = moments(x, g.mu);
  std::printf("[ measured ] pc: |mean − μ| %.4f, variance %.4f (target %.4f)\n", m.mean_error,
              m.variance, v);
  EXPECT_LT(m.mean_error, 5 * std::sqrt(v / n));
  EXPECT_NEAR(m.variance, v, 5 * v * std::sqrt(2.0 / (2 * n)));
}

// On the coarse 10-step ladder the predictor alone over-disperses by Δ²/v per step (the
// recursion gives +78%); 50 corrector steps (contraction 1 − 2r² each) reach the snr rule's
// stationary variance v(1 + r²): with ε = 2(r‖z‖/‖s‖)² ≈ 2r²v²/w for the current variance w,
// ULA's fixed point w = v/(1 − ε/(2v)) solves to w = v(1 + r²). At r = 0.3 that is 9% above v,
// 2.5 times the 5 s.e. tolerance (3.5%).
TEST(PcSampler, CorrectorsPullACoarsePredictorToTheSnrRulesStationaryVariance) {
  const Gaussian g = gaussian(0.5);
  const double sigma_max = 10, sigma_min = 0.05, v = 0.25 + sigma_min * sigma_min, r = 0.3;
  const int64_t n = 20000;
  const double tolerance = 5 * v * std::sqrt(2.0 / (2 * n));
  at::Generator gen = make_generator(4);
  const auto ladder = geometric_sigmas(sigma_max, sigma_min, 11);
  const at::Tensor start = g.draw(n, sigma_max, gen);
  const double predictor_only =
      moments(pc_sampler(start, g.score(), ladder, 0, r, gen, false), g.mu).variance;
  const double corrected =
      moments(pc_sampler(start, g.score(), ladder, 50, r, gen, false), g.mu).variance;
  std::printf("[ measured ] pc on 10 steps: variance %.4f (no corrector), %.4f (50), v = %.4f\n",
              predictor_only, corrected, v);
  EXPECT_NEAR(predictor_only, 1.78 * v, tolerance * 1.78);
  EXPECT_NEAR(corrected, v * (1 + r * r), tolerance);
}

// The predictors alone on a 41-level ladder, 20000 points: reverse diffusion over-disperses
// (+15%), the ancestral step under-disperses by its recursion w' = c²w + σ_next²Δ/σ²
// (c = (s² + σ_next²)/(s² + σ²), −12%), and SDE-DPM-Solver++(2M)'s extrapolation removes most of
// both (+0.9% measured with 4·10⁵ points): within the 5 s.e. tolerance (3.5%) of v, where the
// one-step predictors are 4 tolerances out.
TEST(PcSampler, TheSecondOrderPredictorLandsOnTheNoisedGaussianWhereTheOneStepOnesMissIt) {
  const Gaussian g = gaussian(0.5);
  const double sigma_max = 10, sigma_min = 0.05, v = 0.25 + sigma_min * sigma_min;
  const int64_t n = 20000;
  const double tolerance = 5 * v * std::sqrt(2.0 / (2 * n));
  const auto ladder = geometric_sigmas(sigma_max, sigma_min, 41);
  double w = 0.25 + sigma_max * sigma_max;  // the ancestral step's variance recursion
  for (size_t i = 0; i + 1 < ladder.size(); ++i) {
    const double s2 = ladder[i] * ladder[i], n2 = ladder[i + 1] * ladder[i + 1];
    const double c = (0.25 + n2) / (0.25 + s2);
    w = c * c * w + n2 * (s2 - n2) / s2;
  }
  auto variance = [&](const std::string& predictor) {
    at::Generator gen = make_generator(5);
    const at::Tensor start = g.draw(n, sigma_max, gen);
    return moments(pc_sampler(start, g.score(), ladder, 0, 0.16, gen, false, {}, predictor), g.mu)
        .variance;
  };
  const double reverse = variance("reverse-diffusion"), ancestral = variance("ancestral"),
               second = variance("dpmpp2m-sde");
  std::printf(
      "[ measured ] 40 predictor steps: variance %.4f / %.4f / %.4f (reverse-diffusion / "
      "ancestral / dpmpp2m-sde), v = %.4f\n",
      reverse, ancestral, second, v);
  EXPECT_GT(reverse, v + 3 * tolerance);
  EXPECT_NEAR(ancestral, w, tolerance * w / v);
  EXPECT_LT(w, v - 3 * tolerance);
  EXPECT_NEAR(second, v, tolerance);
}

// Where the score vanishes everywhere the snr step would be infinite; the corrector then stays.
TEST(PcSampler, ZeroScoreLeavesTheCorrectorInPlace) {
  const NoiseScoreFn zero = [](const at::Tensor& x, const at::Tensor&) {
    return at::zeros_like(x);
  };
  const at::Tensor x = at::ones({4, 2}, kF64);
  EXPECT_TRUE(langevin_corrector_step(x, zero, 1.0, 0.16).equal(x));
}

TEST(VeSamplers, BadArgumentsAreErrorsNamingTheOption) {
  const Gaussian g = gaussian(0.5);
  const at::Tensor x = at::zeros({3, 2}, kF64);
  auto message = [](const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  const std::vector<double> grid{2.0, 1.0};
  EXPECT_NE(message([&] {
              probability_flow_ode(x, g.score(), grid, "rk4");
            }).find(option_ref("score", "ode_solver") + " 'rk4' is unknown: use euler, heun"),
            std::string::npos);
  EXPECT_NE(
      message([&] { pc_sampler(x, g.score(), grid, 1, 0.0); }).find(option_ref("score", "snr")),
      std::string::npos);
  EXPECT_NE(message([&] {
              pc_sampler(x, g.score(), {1.0, 2.0}, 1, 0.1);
            }).find("descend"),
            std::string::npos);
  EXPECT_NE(message([&] { probability_flow_ode(x, g.score(), {}, "heun"); }).find("empty"),
            std::string::npos);
  EXPECT_NE(
      message([&] {
        pc_sampler(x, g.score(), grid, 1, 0.1, c10::nullopt, true, {}, "euler");
      }).find(option_ref("score", "predictor") + " 'euler' is unknown: use reverse-diffusion"),
      std::string::npos);
}

// The option table's own checks and the rule across options, each naming its option.
TEST(VeSamplers, SamplerOptionsAreCheckedByTheTable) {
  auto error_of = [](const ScoreOptions& o) {
    try {
      validate(o);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  const ScoreOptions ok({2});
  EXPECT_EQ(error_of(ok), "(accepted)");
  EXPECT_EQ(ok.sampler(), "annealed");
  const std::string sampler = option_ref("score", "sampler");
  // A VDM sampler's name on a score model.
  EXPECT_NE(error_of(ScoreOptions(ok).sampler("ddim")).find(sampler + " 'ddim' is unknown"),
            std::string::npos);
  EXPECT_NE(error_of(ScoreOptions(ok).sampler("ddim")).find("annealed, pc or ode"),
            std::string::npos);
  EXPECT_NE(error_of(ScoreOptions(ok).snr(0)).find(option_ref("score", "snr")), std::string::npos);
  EXPECT_NE(error_of(ScoreOptions(ok).sigma_steps(0)).find(option_ref("score", "sigma_steps")),
            std::string::npos);
  EXPECT_NE(
      error_of(ScoreOptions(ok).corrector_steps(-1)).find(option_ref("score", "corrector_steps")),
      std::string::npos);
  EXPECT_NE(error_of(ScoreOptions(ok).ode_solver("rk4")).find(option_ref("score", "ode_solver")),
            std::string::npos);
  EXPECT_NE(error_of(ScoreOptions(ok).predictor("euler")).find(option_ref("score", "predictor")),
            std::string::npos);
  EXPECT_EQ(error_of(ScoreOptions(ok).corrector_steps(0)), "(accepted)");  // predictor only
  // pc and ode need the ladder of ncsn.
  EXPECT_NE(error_of(ScoreOptions(ok).method("dsm").sampler("ode")).find(sampler + " ode"),
            std::string::npos);
}

// The model dispatches by name: each sampler runs, reports its own step count and gives
// finite samples of the data's shape.
TEST(VeSamplers, ScoreModelSamplesWithEachSampler) {
  torch::manual_seed(7);
  for (const auto& [name, total] : std::vector<std::pair<std::string, int64_t>>{
           {"annealed", 3 * 4}, {"pc", 5 * 3}, {"ode", 5}}) {
    ScoreModel model(ScoreOptions({2})
                         .hidden({16})
                         .num_sigmas(3)
                         .steps_per_level(4)
                         .sampler(name)
                         .sigma_steps(5)
                         .corrector_steps(2));
    int64_t calls = 0;
    model.set_progress([&](int64_t, int64_t t, const at::Tensor&) {
      ++calls;
      EXPECT_EQ(t, total) << name;
    });
    const at::Tensor x = model.sample(16);
    EXPECT_EQ(calls, total) << name;
    EXPECT_EQ(x.sizes(), (at::IntArrayRef{16, 2})) << name;
    EXPECT_TRUE(at::isfinite(x).all().item<bool>()) << name;
  }
}

}  // namespace
}  // namespace deepgen::score

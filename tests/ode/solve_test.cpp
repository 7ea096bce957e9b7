// The ODE solvers against closed-form solutions: rk45 meets its tolerance, the fixed-step methods
// converge at their order, and bad settings are errors.
#include "deepgen/ode/solve.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "deepgen/core/error.h"

namespace deepgen::testing {
namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);

// y' = −2ty: y(t) = y(0)·exp(−t²), for a batch of starting values.
ode::Field gaussian_decay() {
  return [](double t, const at::Tensor& y) { return -2 * t * y; };
}

double max_error(const at::Tensor& got, const at::Tensor& want) {
  return (got - want).abs().max().item<double>();
}

// Dormand–Prince's local error control bounds the global error by about the tolerance times the
// few dozen steps it takes here; 20× the tolerance is that bound with room, and the error must
// fall at least 100× when the tolerance falls 1000× (a solver ignoring rtol would not).
TEST(OdeSolve, Rk45MeetsItsToleranceOnAKnownSolution) {
  const at::Tensor y0 = torch::tensor({1.0, -3.0, 0.5}, kF64);
  const at::Tensor want = y0 * std::exp(-4.0);
  ode::SolveOptions o;
  o.rtol = o.atol = 1e-6;
  const ode::Solution loose = ode::solve(gaussian_decay(), y0, 0.0, 2.0, o);
  o.rtol = o.atol = 1e-9;
  const ode::Solution tight = ode::solve(gaussian_decay(), y0, 0.0, 2.0, o);
  EXPECT_LT(max_error(loose.y, want), 20 * 1e-6);
  EXPECT_LT(max_error(tight.y, want), 20 * 1e-9);
  EXPECT_LT(max_error(tight.y, want), max_error(loose.y, want) / 100);
  EXPECT_GT(tight.nfe, loose.nfe);
  EXPECT_EQ(loose.nfe, 2 + 6 * (loose.accepted + loose.rejected));  // FSAL + the first step's probe
}

// The harmonic oscillator (y₁, y₂)' = (y₂, −y₁) over a full period returns to its start; the
// same problem backwards in time (t1 < t0) too.
TEST(OdeSolve, Rk45IntegratesForwardAndBackward) {
  const ode::Field rotate = [](double, const at::Tensor& y) {
    return at::stack({y.select(1, 1), -y.select(1, 0)}, 1);
  };
  const at::Tensor y0 = torch::tensor({{1.0, 0.0}, {0.3, -0.7}}, kF64);
  ode::SolveOptions o;
  o.rtol = o.atol = 1e-8;
  const double period = 2 * M_PI;
  EXPECT_LT(max_error(ode::solve(rotate, y0, 0.0, period, o).y, y0), 1e-6);
  EXPECT_LT(max_error(ode::solve(rotate, y0, period, 0.0, o).y, y0), 1e-6);
  // A quarter turn backwards: (y₁, y₂)(−π/2) = (−y₂, y₁)(0).
  const at::Tensor quarter = at::stack({-y0.select(1, 1), y0.select(1, 0)}, 1);
  EXPECT_LT(max_error(ode::solve(rotate, y0, 0.0, -period / 4, o).y, quarter), 1e-6);
}

// On y' = y the global error of N steps falls as N^−order: the log2 ratio of the errors at N and
// 2N steps is the order, to within 0.15 at these N (the next term is O(1/N)).
TEST(OdeSolve, FixedStepMethodsConvergeAtTheirOrder) {
  const ode::Field grow = [](double, const at::Tensor& y) { return y; };
  const at::Tensor y0 = torch::ones({1}, kF64);
  for (const std::string method : {"euler", "heun", "rk4"}) {
    ode::SolveOptions o;
    o.method = method;
    o.steps = method == "euler" ? 400 : 40;
    const double e1 = std::abs(ode::solve(grow, y0, 0.0, 1.0, o).y.item<double>() - M_E);
    o.steps *= 2;
    const ode::Solution fine = ode::solve(grow, y0, 0.0, 1.0, o);
    const double e2 = std::abs(fine.y.item<double>() - M_E);
    EXPECT_NEAR(std::log2(e1 / e2), ode::method_order(method), 0.15) << method;
    EXPECT_EQ(fine.nfe, o.steps * ode::evaluations_per_step(method)) << method;
  }
}

TEST(OdeSolve, BadSettingsAreErrors) {
  const at::Tensor y0 = torch::ones({1}, kF64);
  ode::SolveOptions o;
  o.method = "rk23";
  EXPECT_THROW(ode::solve(gaussian_decay(), y0, 0, 1, o), Error);
  o.method = "rk45";
  o.rtol = 0;
  EXPECT_THROW(ode::solve(gaussian_decay(), y0, 0, 1, o), Error);
  o.rtol = 1e-3;
  o.max_steps = 3;  // y' = 1e4·y needs far more
  const ode::Field stiff = [](double, const at::Tensor& y) { return 1e4 * y; };
  EXPECT_THROW(ode::solve(stiff, y0, 0, 1, o), Error);
  o.method = "euler";
  o.steps = 0;
  EXPECT_THROW(ode::solve(gaussian_decay(), y0, 0, 1, o), Error);
  const ode::Field nan = [](double, const at::Tensor& y) { return y * NAN; };
  o.method = "rk45";
  o.max_steps = 100;
  EXPECT_THROW(ode::solve(nan, y0, 0, 1, o), Error);
}

}  // namespace
}  // namespace deepgen::testing

#pragma once
// Initial-value problems dy/dt = f(t, y) on tensors, for the probability-flow likelihoods
// (BEYOND B3–B4): fixed-step Euler, Heun and RK4, and the Dormand–Prince 5(4) pair with
// step-size control that score_sde (scipy's RK45) and FFJORD (torchdiffeq's dopri5) integrate
// these ODEs with.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace deepgen::ode {

using Field = std::function<at::Tensor(double t, const at::Tensor& y)>;

struct SolveOptions {
  std::string method = "rk45";  // rk45 | euler | heun | rk4
  // rk45: a step is kept when its error estimate, in units of atol + rtol·|y|, has RMS ≤ 1
  // (scipy's norm), so rtol bounds the relative and atol the absolute local error.
  double rtol = 1e-5, atol = 1e-5;
  int64_t steps = 100;          // fixed-step methods: equal steps in t
  int64_t max_steps = 100'000;  // rk45: attempted steps before it gives up (a stiff field)
};

struct Solution {
  at::Tensor y;  // at t1
  int64_t nfe = 0, accepted = 0, rejected = 0;
};

std::vector<std::string> method_names();  // rk45, euler, heun, rk4
int method_order(const std::string& method);
// Field evaluations a fixed-step method spends per step (rk45's vary).
int evaluations_per_step(const std::string& method);

// y(t1) from y(t0) = y0 (t1 may lie below t0). on_step(t) after each accepted step. Throws
// deepgen::Error for an unknown method, non-positive tolerances or steps, and an rk45 run that
// exceeds max_steps or whose field turns non-finite.
Solution solve(const Field& f, const at::Tensor& y0, double t0, double t1,
               const SolveOptions& options, const std::function<void(double t)>& on_step = {});

}  // namespace deepgen::ode

#include "deepgen/ode/solve.h"

#include <algorithm>
#include <cmath>

#include "deepgen/core/error.h"

namespace deepgen::ode {

namespace {

struct Method {
  const char* name;
  int order;
  int evaluations;  // per step; rk45: per attempted step after the first (FSAL)
};

const std::vector<Method>& methods() {
  static const std::vector<Method> table{
      {"rk45", 5, 6}, {"euler", 1, 1}, {"heun", 2, 2}, {"rk4", 4, 4}};
  return table;
}

const Method& method(const std::string& name) {
  for (const auto& m : methods())
    if (name == m.name) return m;
  std::string known;
  for (const auto& m : methods()) known += (known.empty() ? "" : ", ") + std::string(m.name);
  throw Error("ODE solver '" + name + "' is unknown (known: " + known + ")");
}

// Fixed steps of Euler, Heun (the explicit trapezoid) or the classical RK4.
Solution fixed_steps(const Field& f, const at::Tensor& y0, double t0, double t1,
                     const SolveOptions& o, const std::function<void(double)>& on_step) {
  const double h = (t1 - t0) / static_cast<double>(o.steps);
  at::Tensor y = y0;
  Solution s;
  for (int64_t i = 0; i < o.steps; ++i) {
    const double t = t0 + h * static_cast<double>(i);
    const at::Tensor k1 = f(t, y);
    if (o.method == "euler") {
      y = y + h * k1;
    } else if (o.method == "heun") {
      const at::Tensor k2 = f(t + h, y + h * k1);
      y = y + (h / 2) * (k1 + k2);
    } else {
      const at::Tensor k2 = f(t + h / 2, y + (h / 2) * k1);
      const at::Tensor k3 = f(t + h / 2, y + (h / 2) * k2);
      const at::Tensor k4 = f(t + h, y + h * k3);
      y = y + (h / 6) * (k1 + 2 * k2 + 2 * k3 + k4);
    }
    s.nfe += method(o.method).evaluations;
    ++s.accepted;
    if (on_step) on_step(t + h);
  }
  s.y = y;
  return s;
}

// Dormand & Prince (1980): the 5th-order solution b and the error weights e = b − b̂ against the
// embedded 4th-order one (Hairer, Nørsett & Wanner, Table 5.2).
constexpr double kC[7] = {0, 1.0 / 5, 3.0 / 10, 4.0 / 5, 8.0 / 9, 1, 1};
constexpr double kA[7][6] = {
    {},
    {1.0 / 5},
    {3.0 / 40, 9.0 / 40},
    {44.0 / 45, -56.0 / 15, 32.0 / 9},
    {19372.0 / 6561, -25360.0 / 2187, 64448.0 / 6561, -212.0 / 729},
    {9017.0 / 3168, -355.0 / 33, 46732.0 / 5247, 49.0 / 176, -5103.0 / 18656},
    {35.0 / 384, 0, 500.0 / 1113, 125.0 / 192, -2187.0 / 6784, 11.0 / 84}};
constexpr double kE[7] = {71.0 / 57600,      0,          -71.0 / 16695, 71.0 / 1920,
                          -17253.0 / 339200, 22.0 / 525, -1.0 / 40};

double rms(const at::Tensor& v) { return v.to(at::kDouble).square().mean().sqrt().item<double>(); }

// Hairer, Nørsett & Wanner's starting step (II.4, as scipy's select_initial_step): one extra
// field evaluation.
double initial_step(const Field& f, const at::Tensor& y0, const at::Tensor& f0, double t0,
                    double direction, const SolveOptions& o) {
  const at::Tensor scale = o.atol + o.rtol * y0.abs();
  const double d0 = rms(y0 / scale), d1 = rms(f0 / scale);
  const double h0 = d0 < 1e-5 || d1 < 1e-5 ? 1e-6 : 0.01 * d0 / d1;
  const at::Tensor f1 = f(t0 + direction * h0, y0 + direction * h0 * f0);
  const double d2 = rms((f1 - f0) / scale) / h0;
  const double h1 = std::max(d1, d2) <= 1e-15 ? std::max(1e-6, h0 * 1e-3)
                                              : std::pow(0.01 / std::max(d1, d2), 1.0 / 5);
  return std::min(100 * h0, h1);
}

Solution dormand_prince(const Field& f, const at::Tensor& y0, double t0, double t1,
                        const SolveOptions& o, const std::function<void(double)>& on_step) {
  const double direction = t1 >= t0 ? 1.0 : -1.0, span = std::abs(t1 - t0);
  Solution s;
  at::Tensor y = y0, k[7];
  k[0] = f(t0, y);
  double h = initial_step(f, y0, k[0], t0, direction, o);
  s.nfe = 2;
  double t = t0;
  while (direction * (t1 - t) > 1e-12 * std::max(1.0, span)) {
    if (s.accepted + s.rejected >= o.max_steps)
      throw Error("the ODE solver took " + std::to_string(o.max_steps) +
                  " steps and reached t = " + std::to_string(t) + " of " + std::to_string(t1) +
                  ": loosen its tolerances or use a fixed-step solver");
    h = std::min(h, direction * (t1 - t));
    at::Tensor y_new;
    for (int i = 1; i < 7; ++i) {
      at::Tensor yi = y;
      for (int j = 0; j < i; ++j)
        if (kA[i][j] != 0) yi = yi + (direction * h * kA[i][j]) * k[j];
      if (i == 6) y_new = yi;
      k[i] = f(t + direction * h * kC[i], yi);
    }
    s.nfe += 6;
    at::Tensor err = kE[0] * k[0];
    for (int i = 2; i < 7; ++i) err = err + kE[i] * k[i];
    const at::Tensor scale = o.atol + o.rtol * at::maximum(y.abs(), y_new.abs());
    const double norm = rms((direction * h) * err / scale);
    if (!std::isfinite(norm))
      throw Error("the ODE's field is not finite at t = " + std::to_string(t) +
                  " (a diverging model?)");
    if (norm <= 1) {
      t += direction * h;
      y = y_new;
      k[0] = k[6];  // first same as last
      ++s.accepted;
      if (on_step) on_step(t);
      h *= norm == 0 ? 10.0 : std::min(10.0, 0.9 * std::pow(norm, -0.2));
    } else {
      ++s.rejected;
      h *= std::max(0.2, 0.9 * std::pow(norm, -0.2));
    }
  }
  s.y = y;
  return s;
}

}  // namespace

std::vector<std::string> method_names() {
  std::vector<std::string> names;
  for (const auto& m : methods()) names.emplace_back(m.name);
  return names;
}

int method_order(const std::string& name) { return method(name).order; }

int evaluations_per_step(const std::string& name) { return method(name).evaluations; }

Solution solve(const Field& f, const at::Tensor& y0, double t0, double t1, const SolveOptions& o,
               const std::function<void(double t)>& on_step) {
  method(o.method);  // known
  if (o.method == "rk45") {
    if (!(o.rtol > 0) || !(o.atol > 0))
      throw Error("the ODE solver's tolerances must be positive (rtol " + std::to_string(o.rtol) +
                  ", atol " + std::to_string(o.atol) + ")");
    if (t0 == t1) return {y0, 0, 0, 0};
    return dormand_prince(f, y0, t0, t1, o, on_step);
  }
  if (o.steps < 1) throw Error("a fixed-step ODE solver needs at least one step");
  return fixed_steps(f, y0, t0, t1, o, on_step);
}

}  // namespace deepgen::ode

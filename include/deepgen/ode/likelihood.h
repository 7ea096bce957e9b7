#pragma once
// Log-densities through an ODE: the instantaneous change of variables (Chen et al. 2018, Thm. 1;
// Song et al. 2021, App. D.2; BEYOND B3–B4). Along dz/dt = f(z, t),
//   log p_{t0}(z(t0)) = log p_{t1}(z(t1)) + ∫_{t0}^{t1} ∇·f(z(t), t) dt,
// integrated jointly with z. The divergence is exact (one backward pass per dimension, for
// low-dimensional data) or Hutchinson's estimate εᵀ(∂f/∂z)ε (one pass per probe), its probes
// drawn once per solve as FFJORD does, so the field stays smooth in t for the adaptive solver.
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "deepgen/ode/solve.h"

namespace deepgen::ode {

// dz/dt at (z, t) for a batch z (B, ...).
using Drift = std::function<at::Tensor(const at::Tensor& z, double t)>;
// v(x) for a batch x (B, ...), of the same shape, each example's output depending on it alone.
using VectorFn = std::function<at::Tensor(const at::Tensor& x)>;

// (v(x), ∇·v(x)) per example, exactly: one backward pass per dimension of an example.
std::pair<at::Tensor, at::Tensor> value_and_divergence(const VectorFn& v, const at::Tensor& x);
// (v(x), mean over probes of εᵀ(∂v/∂x)ε) per example; probes (P, B, ...) with E[εεᵀ] = I
// (Hutchinson 1989): an unbiased estimate of the divergence, one backward pass per probe.
std::pair<at::Tensor, at::Tensor> value_and_divergence(const VectorFn& v, const at::Tensor& x,
                                                       const at::Tensor& probes);

std::vector<std::string> probe_names();  // rademacher, gaussian
// P probes shaped like x, i.e. (P, B, ...): ±1 with equal odds, or N(0, 1).
at::Tensor draw_probes(const std::string& kind, int64_t count, const at::Tensor& like,
                       at::Generator& gen);

// log N(z; mean·1, var·I) per example of a batch z (B, ...): the flows' priors at t1.
at::Tensor isotropic_normal_log_prob(const at::Tensor& z, double mean, double var);

struct FlowOptions {
  SolveOptions solve;
  std::string divergence = "exact";  // exact | hutchinson
  std::string probe = "rademacher";  // hutchinson's probes
  int64_t probes = 1;                // per solve; their mean is the estimate
};

struct Flow {
  at::Tensor z1;          // z(t1), where the prior's density is read
  at::Tensor divergence;  // ∫_{t0}^{t1} ∇·f dt per example (B), in z0's dtype
  int64_t nfe = 0;        // drift evaluations (each with its backward passes)
};

// Carries z0 from t0 to t1 along f, integrating the divergence beside it: log p_{t0}(z0) =
// log p_{t1}(z1) + divergence. The drift runs with gradients on, whatever the caller's mode.
Flow integrate_flow(const Drift& f, const at::Tensor& z0, double t0, double t1,
                    const FlowOptions& options, at::Generator& gen,
                    const std::function<void(double t)>& on_step = {});

}  // namespace deepgen::ode

// Divergences and the change-of-variables integral against closed forms.
#include "deepgen/ode/likelihood.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "deepgen/core/error.h"

namespace deepgen::testing {
namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);

// v(x) = tanh(W x + c) per example: ∇·v = Σ_i W_ii (1 − tanh²(W x + c)_i).
struct TanhField {
  at::Tensor w, c;
  explicit TanhField(int64_t d) {
    torch::manual_seed(1);
    w = torch::randn({d, d}, kF64);
    c = torch::randn({d}, kF64);
  }
  at::Tensor operator()(const at::Tensor& x) const { return torch::tanh(x.matmul(w.t()) + c); }
  at::Tensor divergence(const at::Tensor& x) const {
    return ((1 - (*this)(x).square()) * w.diagonal()).sum(1);
  }
};

// Autograd against the closed form: float64 rounding only.
TEST(OdeDivergence, ExactEqualsTheClosedForm) {
  const TanhField v(5);
  const at::Tensor x = torch::randn({7, 5}, kF64);
  auto [value, div] = ode::value_and_divergence(v, x);
  EXPECT_TRUE(torch::allclose(value, v(x), 0, 1e-12));
  EXPECT_TRUE(torch::allclose(div, v.divergence(x), 0, 1e-12));
}

// Hutchinson: 2000 independent one-probe estimates, their mean within 4 standard errors of the
// exact divergence (a 6e-5 chance of a false alarm for a correct estimator) for each probe kind;
// and Rademacher probes give a diagonal Jacobian's trace with no error at all.
TEST(OdeDivergence, HutchinsonIsUnbiasedWithinItsStandardError) {
  const TanhField v(6);
  const at::Tensor x = torch::randn({3, 6}, kF64);
  const at::Tensor exact = v.divergence(x);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  for (const auto& kind : ode::probe_names()) {
    const int64_t n = 2000;
    const at::Tensor probes = ode::draw_probes(kind, n, x, gen);
    std::vector<at::Tensor> one;
    for (int64_t p = 0; p < n; ++p)
      one.push_back(ode::value_and_divergence(v, x, probes.narrow(0, p, 1)).second);
    const at::Tensor est = at::stack(one);  // (n, B)
    const at::Tensor se = est.std(0) / std::sqrt(static_cast<double>(n));
    EXPECT_TRUE(((est.mean(0) - exact).abs() < 4 * se).all().item<bool>())
        << kind << ": " << est.mean(0) << " vs " << exact << " se " << se;
    // All n probes in one call average the same estimates.
    const at::Tensor together = ode::value_and_divergence(v, x, probes).second;
    EXPECT_TRUE(torch::allclose(together, est.mean(0), 1e-9, 1e-9)) << kind;
  }
  const auto diagonal = [](const at::Tensor& y) { return torch::sin(y); };  // ∇· = Σ cos y_i
  const at::Tensor probe = ode::draw_probes("rademacher", 1, x, gen);
  EXPECT_TRUE(torch::allclose(ode::value_and_divergence(diagonal, x, probe).second,
                              torch::cos(x).sum(1), 0, 1e-12));
}

// dz/dt = a·z carries N(0, 1) at t = 0 to N(0, e^{2a}) at t = 1, with ∫∇·f dt = D·a: the
// change of variables must give back log N(z0; 0, I) exactly (to the solver's tolerance), with
// the exact divergence and with Hutchinson's (exact here: the Jacobian is diagonal).
TEST(OdeFlow, LinearFlowGivesTheGaussianLogDensity) {
  const double a = 0.8;
  const ode::Drift f = [a](const at::Tensor& z, double) { return a * z; };
  const at::Tensor z0 = torch::randn({4, 3}, kF64);
  const double d = 3;
  auto log_normal = [d](const at::Tensor& z, double var) {
    return -0.5 * z.square().sum(1) / var - 0.5 * d * std::log(2 * M_PI * var);
  };
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  for (const std::string div : {"exact", "hutchinson"}) {
    ode::FlowOptions o;
    o.divergence = div;
    o.solve.rtol = o.solve.atol = 1e-8;
    const ode::Flow flow = ode::integrate_flow(f, z0, 0.0, 1.0, o, gen);
    EXPECT_TRUE(torch::allclose(flow.z1, z0 * std::exp(a), 1e-6, 1e-7)) << div;
    EXPECT_TRUE(torch::allclose(flow.divergence, torch::full({4}, d * a, kF64), 1e-6, 1e-7));
    const at::Tensor logp = log_normal(flow.z1, std::exp(2 * a)) + flow.divergence;
    EXPECT_TRUE(torch::allclose(logp, log_normal(z0, 1.0), 1e-6, 1e-6)) << div;
    EXPECT_GT(flow.nfe, 0);
  }
}

TEST(OdeFlow, BadSettingsAreErrors) {
  const ode::Drift f = [](const at::Tensor& z, double) { return z; };
  const at::Tensor z0 = torch::randn({2, 3}, kF64);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  ode::FlowOptions o;
  o.divergence = "trace";
  EXPECT_THROW(ode::integrate_flow(f, z0, 0, 1, o, gen), Error);
  o.divergence = "hutchinson";
  o.probes = 0;
  EXPECT_THROW(ode::integrate_flow(f, z0, 0, 1, o, gen), Error);
  o.probes = 1;
  o.probe = "uniform";
  EXPECT_THROW(ode::integrate_flow(f, z0, 0, 1, o, gen), Error);
}

}  // namespace
}  // namespace deepgen::testing

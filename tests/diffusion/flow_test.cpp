// The VDM's probability-flow likelihood: exact for Gaussian data with the exact denoiser, and a
// density (it integrates to 1) for a trained 2-D model.
#include "deepgen/diffusion/flow.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "deepgen/core/error.h"
#include "deepgen/diffusion/model.h"
#include "deepgen/ode/likelihood.h"
#include "diffusion/vdm_fixtures.h"

namespace deepgen::testing {
namespace {

namespace dd = deepgen::diffusion;
const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);

at::Tensor log_normal(const at::Tensor& z, const at::Tensor& mean, double var) {
  const double d = static_cast<double>(z.size(1));
  return -0.5 * (z - mean).square().sum(1) / var - 0.5 * d * std::log(2 * M_PI * var);
}

// Data N(μ, s²I) under z_t = α_t x + σ_t ε have q_t = N(α_t μ, α_t²s² + σ_t²), whose exact
// ε̂ = σ_t (z − α_t μ)/(α_t²s² + σ_t²). With that ε̂ and the true q_1 as the prior, the ODE's
// log-density at t = 0 must be log q_0 — up to the solver's error: 1e-4 nats is 100× the
// tolerance asked of rk45 (its global error stays within a few tolerances here).
TEST(VdmFlow, GaussianDataWithTheExactDenoiserGiveTheAnalyticLogDensity) {
  const double g_lo = -13.3, g_hi = 5.0, s = 0.4;
  const at::Tensor mu = torch::tensor({0.3, -0.5, 0.1}, kF64);
  auto alpha2 = [](double g) { return 1 / (1 + std::exp(g)); };
  auto gamma = [&](double t) { return g_lo + (g_hi - g_lo) * t; };
  auto marginal_var = [&](double g) { return alpha2(g) * s * s + (1 - alpha2(g)); };
  const ode::Drift drift = [&](const at::Tensor& z, double t) {
    const double g = gamma(t), a = std::sqrt(alpha2(g)), sigma = std::sqrt(1 - alpha2(g));
    const at::Tensor eps_hat = sigma * (z - a * mu) / marginal_var(g);
    return dd::vp_flow_drift(z, eps_hat, g, g_hi - g_lo);
  };
  torch::manual_seed(2);
  const double a0 = std::sqrt(alpha2(g_lo)), a1 = std::sqrt(alpha2(g_hi));
  const at::Tensor z0 = a0 * mu + std::sqrt(marginal_var(g_lo)) * torch::randn({6, 3}, kF64);
  ode::FlowOptions o;
  o.solve.rtol = o.solve.atol = 1e-6;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  const ode::Flow flow = ode::integrate_flow(drift, z0, 0.0, 1.0, o, gen);
  const at::Tensor logp = log_normal(flow.z1, a1 * mu, marginal_var(g_hi)) + flow.divergence;
  const at::Tensor want = log_normal(z0, a0 * mu, marginal_var(g_lo));
  EXPECT_LT((logp - want).abs().max().item<double>(), 1e-4) << logp << want;
}

// A 2-D VDM trained briefly on two blobs at (±1, 0): its ODE density p(x) = prior + ∫∇·f +
// log det, evaluated on a 0.1 grid over [−4, 4]², sums to 1 within 0.01 — the change of
// variables and the map into the model's space are a density, not just numbers.
TEST(VdmFlow, TwoDimensionalModelDensityIntegratesToOne) {
  torch::manual_seed(4);
  dd::VdmModel model(point_options());
  const at::Tensor centres = torch::tensor({{1.0f, 0.0f}, {-1.0f, 0.0f}});
  torch::optim::Adam opt(model.module().parameters(), 3e-3);
  for (int step = 0; step < 300; ++step) {
    const at::Tensor x =
        centres.index({torch::randint(0, 2, {128})}) + 0.3 * torch::randn({128, 2});
    opt.zero_grad();
    model.loss(x).loss.backward();
    opt.step();
  }
  model.module().eval();
  const train::ProbabilityFlow flow = model.probability_flow({}, 0.0);
  const at::Tensor axis = torch::linspace(-3.95, 3.95, 80);
  const auto grid = torch::meshgrid({axis, axis}, "ij");
  const at::Tensor x = torch::stack({grid[0].flatten(), grid[1].flatten()}, 1);
  ode::FlowOptions fo;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  const ode::Flow f = ode::integrate_flow(flow.drift, flow.to_state(x), flow.t0, flow.t1, fo, gen);
  const at::Tensor logp = flow.prior_log_prob(f.z1) + f.divergence + flow.log_det;
  const double mass = (logp.to(torch::kFloat64).exp().sum() * 0.1 * 0.1).item<double>();
  EXPECT_NEAR(mass, 1.0, 0.01);
  // It learned the blobs: more density at a centre than between them.
  const at::Tensor probe = torch::tensor({{1.0f, 0.0f}, {0.0f, 2.5f}});
  const ode::Flow pf =
      ode::integrate_flow(flow.drift, flow.to_state(probe), flow.t0, flow.t1, fo, gen);
  const at::Tensor lp = flow.prior_log_prob(pf.z1) + pf.divergence + flow.log_det;
  EXPECT_GT(lp[0].item<double>(), lp[1].item<double>() + 1.0);
}

// The flow from t0 > 0 is the VDM's bound with p_ODE(z_t0) in place of the reverse process
// above t0 and the prior. From t0 = 0.999 the ODE has almost nothing left to carry, so its value
// must equal the model's own −ELBO in expectation: a missing or doubled term (log q(z_t0|x) is
// −2.8 nats here, the decoder's −log p(x|z_0) about −7) moves it by far more than the tolerance,
// 4 standard errors of the difference (4000 points; the ELBO averaged over 8 draws each).
TEST(VdmFlow, FlowFromNearTheEndIsTheNegativeElbo) {
  torch::manual_seed(8);
  dd::VdmModel model(point_options());
  model.module().eval();
  torch::NoGradGuard no_grad;
  const int64_t n = 4000;
  const at::Tensor x = torch::randn({n, 2}) * 0.5 + 0.3;
  const train::ProbabilityFlow flow = model.probability_flow({}, 0.999);
  ASSERT_TRUE(static_cast<bool>(flow.dequantize));
  EXPECT_EQ(flow.t0, 0.999);
  EXPECT_NE(flow.dequantization.find("t0 = 0.999"), std::string::npos) << flow.dequantization;
  const auto [z, extra] = flow.dequantize(x);
  ode::FlowOptions fo;
  fo.divergence = "exact";
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  at::Tensor truncated;
  {
    torch::AutoGradMode grad(true);  // the exact divergence differentiates the drift
    const ode::Flow f = ode::integrate_flow(flow.drift, z, flow.t0, flow.t1, fo, gen);
    truncated = (extra - flow.prior_log_prob(f.z1) - f.divergence).detach().to(torch::kFloat64);
  }
  const at::Tensor elbo = model.vdm()
                              ->negative_elbo(x.repeat({8, 1}), 0)
                              .total()
                              .view({8, n})
                              .mean(0)
                              .to(torch::kFloat64);
  const double se = std::sqrt((truncated.var() / n + elbo.var() / n).item<double>());
  EXPECT_LT(se, 0.3);  // the test can tell a missing term
  EXPECT_NEAR(truncated.mean().item<double>(), elbo.mean().item<double>(), 4 * se);
  // Any start in [0, 1); others are one error.
  EXPECT_THROW(model.probability_flow({}, 1.0), Error);
  EXPECT_THROW(model.probability_flow({}, -0.1), Error);
}

// The variational dequantisation of 8-bit images: z_0 ~ q(z_0|x) = N(α_0 f, σ_0²I) and, per
// example, log q(z_0|x) − log p(x|z_0). At γ_0 = −13.3 the decoder is all but certain of the
// bin (−log p(x|z_0) ≈ 0), so the second is the Gaussian's log-density, whose mean per dimension
// is −½(1 + log 2πσ_0²); 16 images of 64 pixels average 1024 draws of ε², so ±0.2 is over 4
// standard errors (√(2/1024)/2 ≈ 0.02 nats per dimension) plus the decoder's share.
TEST(VdmFlow, VariationalDequantisationDrawsFromTheEncoder) {
  torch::manual_seed(6);
  dd::VdmOptions o;
  o.data_shape = {1, 8, 8};
  o.net.channels = {8, 16};
  o.net.blocks = 1;
  dd::VdmModel model(o);
  const train::ProbabilityFlow flow = model.probability_flow({}, 0.0);
  ASSERT_TRUE(static_cast<bool>(flow.dequantize));
  const at::Tensor x = torch::randint(0, 256, {16, 1, 8, 8}).to(torch::kFloat) / 255.0;
  auto [z0, extra] = flow.dequantize(x);
  const double g0 = model.vdm()->schedule()->gamma0().item<double>();
  const double a0 = std::sqrt(1 / (1 + std::exp(g0))), s2 = 1 / (1 + std::exp(-g0));
  const at::Tensor f = 2 * (torch::round(x * 255) + 0.5) / 256 - 1;
  EXPECT_LT((z0 - a0 * f).abs().max().item<double>(), 6 * std::sqrt(s2));  // within 6 σ_0
  const double per_dim = extra.mean().item<double>() / 64;
  EXPECT_NEAR(per_dim, -0.5 * (1 + std::log(2 * M_PI * s2)), 0.2);
}

// A conditional model's flow carries each row's class into ε̂: its drift equals the one built
// from eps(z, γ, labels) by hand, and another class gives another drift once the weights are
// drawn (the class table and the output layer start at zero, where every class gives ε̂ = 0).
TEST(VdmFlow, AConditionalFlowUsesEachRowsClass) {
  torch::manual_seed(4);
  dd::VdmOptions o = point_options();
  o.condition = nn::Conditioning{true, 2, 0.1, 0.0};
  o.net.classes = 2;
  dd::VdmModel model(o);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model.vdm()->parameters()) p.normal_(0.0, 0.5);
  }
  const at::Tensor z = torch::randn({4, 2});
  const at::Tensor labels = torch::tensor({0, 1, 1, 0}, torch::kLong);
  const at::Tensor drift = model.probability_flow(labels, 0.0).drift(z, 0.5);
  const double g = model.vdm()
                       ->schedule()
                       ->gamma_and_derivative(torch::full({1}, 0.5, kF64))
                       .first.item<double>();
  const double dg = model.vdm()
                        ->schedule()
                        ->gamma_and_derivative(torch::full({1}, 0.5, kF64))
                        .second.item<double>();
  const at::Tensor by_hand =
      dd::vp_flow_drift(z, model.vdm()->eps(z, torch::full({4}, g, z.options()), labels), g, dg);
  EXPECT_TRUE(torch::allclose(drift, by_hand, 1e-5, 1e-6));
  const at::Tensor other = model.probability_flow(1 - labels, 0.0).drift(z, 0.5);
  EXPECT_GT((drift - other).abs().max().item<double>(), 1e-3);
}

}  // namespace
}  // namespace deepgen::testing

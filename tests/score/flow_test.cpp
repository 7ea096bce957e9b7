// The VE probability-flow likelihood of the score family: exact for Gaussian data with the exact
// score; only ncsn has one.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "deepgen/core/error.h"
#include "deepgen/ode/likelihood.h"
#include "deepgen/score/model.h"
#include "deepgen/score/sde.h"

namespace deepgen::testing {
namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);

at::Tensor log_normal(const at::Tensor& z, const at::Tensor& mean, double var) {
  const double d = static_cast<double>(z.size(1));
  return -0.5 * (z - mean).square().sum(1) / var - 0.5 * d * std::log(2 * M_PI * var);
}

// Data N(μ, s²I) convolved with N(0, σ²I) is N(μ, (s² + σ²)I), score −(x − μ)/(s² + σ²). From
// σ_lo = 0.01 to σ_hi = 20 with the true p_σhi as the prior, the ODE must give log p_σlo; 1e-4
// nats as in the VDM's test (rk45 asked for 1e-7).
TEST(ScoreFlow, GaussianDataWithTheExactScoreGiveTheAnalyticLogDensity) {
  const double lo = 0.01, hi = 20.0, s = 0.3, log_r = std::log(hi / lo);
  const at::Tensor mu = torch::tensor({0.5, 0.2}, kF64);
  const ode::Drift drift = [&](const at::Tensor& x, double t) {
    const double sigma = lo * std::exp(log_r * t);
    return score::ve_flow_drift(-(x - mu) / (s * s + sigma * sigma), sigma, log_r);
  };
  torch::manual_seed(5);
  const at::Tensor x0 = mu + std::sqrt(s * s + lo * lo) * torch::randn({5, 2}, kF64);
  ode::FlowOptions o;
  o.solve.rtol = o.solve.atol = 1e-7;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
  const ode::Flow flow = ode::integrate_flow(drift, x0, 0.0, 1.0, o, gen);
  const at::Tensor logp = log_normal(flow.z1, mu, s * s + hi * hi) + flow.divergence;
  EXPECT_LT((logp - log_normal(x0, mu, s * s + lo * lo)).abs().max().item<double>(), 1e-4);
}

// The model's flow runs σ_L → σ_1 and its prior is N(c, σ_1²I); a single-σ method has none.
TEST(ScoreFlow, OnlyTheNoiseConditionalModelHasOne) {
  score::ScoreModel ncsn(score::ScoreOptions({2}).sigma_begin(3).sigma_end(0.1).num_sigmas(5));
  EXPECT_EQ(ncsn.probability_flow_blocker(), "");
  const train::ProbabilityFlow flow = ncsn.probability_flow({}, 0.0);
  EXPECT_THROW(ncsn.probability_flow({}, 0.2), Error);  // no bound below a later start
  const at::Tensor z = torch::zeros({1, 2});
  EXPECT_NEAR(flow.prior_log_prob(z).item<double>(), -std::log(2 * M_PI * 9), 1e-5);
  EXPECT_TRUE(torch::equal(flow.to_state(z), z));
  score::ScoreModel dsm(score::ScoreOptions({2}).method("dsm"));
  EXPECT_NE(dsm.probability_flow_blocker().find("ncsn"), std::string::npos);
  EXPECT_THROW(dsm.probability_flow({}, 0.0), Error);
}

}  // namespace
}  // namespace deepgen::testing

// γ(t) schedules: closed-form γ' against finite differences, endpoints pinned, monotone.
#include "deepgen/diffusion/schedule.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "deepgen/core/error.h"

namespace dd = deepgen::diffusion;

namespace {

dd::NoiseSchedule make(const std::string& kind) {
  dd::NoiseSchedule s(dd::ScheduleOptions().kind(kind).hidden(64));
  s->to(torch::kFloat64);
  // Move every learnable value off its initial value so that the test covers a trained state.
  torch::NoGradGuard no_grad;
  torch::manual_seed(7);
  for (auto& p : s->parameters()) p.add_(0.3 * torch::randn_like(p));
  return s;
}

}  // namespace

class ScheduleKinds : public ::testing::TestWithParam<std::string> {};

TEST_P(ScheduleKinds, DerivativeMatchesCentralDifferences) {
  auto s = make(GetParam());
  auto t = torch::linspace(0.01, 0.99, 25, torch::kFloat64);
  const double h = 1e-5;
  auto fd = (s->gamma(t + h) - s->gamma(t - h)) / (2 * h);
  // Central differences err by h²·γ'''/6 ≲ 1e-8 here, plus rounding 1e-16·|γ|/h ≈ 1e-10.
  EXPECT_TRUE(torch::allclose(s->gamma_and_derivative(t).second, fd, 1e-6, 1e-6));
}

TEST_P(ScheduleKinds, EndpointsArePinnedAndGammaIncreases) {
  auto s = make(GetParam());
  auto ends = s->gamma(torch::tensor({0.0, 1.0}, torch::kFloat64));
  EXPECT_NEAR(ends[0].item<double>(), s->gamma0().item<double>(), 1e-12);
  EXPECT_NEAR(ends[1].item<double>(), s->gamma1().item<double>(), 1e-12);
  auto g = s->gamma(torch::linspace(0, 1, 1001, torch::kFloat64));
  EXPECT_GT(g.diff().min().item<double>(), 0.0);
  EXPECT_GT(s->gamma_and_derivative(torch::linspace(0, 1, 101, torch::kFloat64))
                .second.min()
                .item<double>(),
            0.0);
}

INSTANTIATE_TEST_SUITE_P(VdmSchedule, ScheduleKinds,
                         ::testing::Values("fixed", "learned_linear", "learned_net"));

TEST(VdmSchedule, FixedIsLinearBetweenTheConfiguredEnds) {
  dd::NoiseSchedule s;
  s->to(torch::kFloat64);
  auto t = torch::tensor({0.0, 0.25, 1.0}, torch::kFloat64);
  auto expected = torch::tensor({-13.3, -13.3 + 0.25 * 18.3, 5.0}, torch::kFloat64);
  // 2e-6: the endpoints are stored as float32 (module default) before the cast to float64.
  EXPECT_TRUE(torch::allclose(s->gamma(t), expected, 0, 2e-6));
  EXPECT_TRUE(s->parameters().empty());
}

TEST(VdmSchedule, LearnedEndpointsReceiveGradientsAndTheNetIsPinnedAtInit) {
  dd::NoiseSchedule s(dd::ScheduleOptions().kind("learned_net").hidden(32));
  auto ends = s->gamma(torch::tensor({0.0, 1.0}));
  EXPECT_NEAR(ends[0].item<double>(), -13.3, 1e-5);
  EXPECT_NEAR(ends[1].item<double>(), 5.0, 1e-5);
  s->gamma(torch::rand({4})).sum().backward();
  for (const auto& p : s->named_parameters()) EXPECT_TRUE(p.value().grad().defined()) << p.key();
}

TEST(VdmSchedule, BadOptionsNameTheFix) {
  EXPECT_THROW(dd::NoiseSchedule(dd::ScheduleOptions().kind("cosine")), deepgen::Error);
  try {
    dd::NoiseSchedule(dd::ScheduleOptions().gamma_min(5).gamma_max(-13));
    FAIL();
  } catch (const deepgen::Error& e) {
    EXPECT_NE(std::string(e.what()).find("gamma_min"), std::string::npos);
  }
}

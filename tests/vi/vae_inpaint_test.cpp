// Pseudo-Gibbs imputation with a VAE (Rezende et al. 2014; BEYOND B5): with a linear decoder and
// its exact posterior as the encoder it is Gibbs sampling, so it must draw the known conditional;
// every decoder returns the known values exactly; models without an encoder are refused.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "../support/error_message.h"
#include "deepgen/core/progress.h"
#include "deepgen/vi/vae.h"

namespace deepgen::vi {
namespace {

// x|z ~ N(a·(1, 1) z, s²I), z ~ N(0, 1), with a = 1, s = 0.5: the encoder set to the exact
// posterior q(z|x) = N(a(x_0 + x_1)/m, s²/m), m = 2a² + s².
constexpr double kA = 1.0, kS = 0.5;

VaeModel exact_linear_vae() {
  VaeModel model(VaeOptions({2})
                     .hidden({})
                     .latent(1)
                     .sigma(kS)
                     .mean_activation("identity")
                     .activation("tanh"));
  torch::NoGradGuard no_grad;
  auto p = model.vae()->named_parameters();
  const double m = 2 * kA * kA + kS * kS;
  p["decoder.layers.0.weight"].copy_(torch::full({2, 1}, kA));
  p["decoder.layers.0.bias"].zero_();
  p["encoder.layers.0.weight"].copy_(torch::tensor({{kA / m, kA / m}, {0.0, 0.0}}));
  p["encoder.layers.0.bias"].copy_(torch::tensor({0.0, std::log(kS * kS / m)}));
  return model;
}

// The (what, done, total) reports of inpainting.
struct Reports {
  std::vector<std::tuple<std::string, int64_t, int64_t>> seen;
  ProgressScope scope{[this](const std::string& what, int64_t done, int64_t total) {
    seen.emplace_back(what, done, total);
  }};
};

// x_1 = 1.5 known. z | x_1 ~ N(1.2, 0.2) (precision 1 + a²/s² = 5, mean (a/s²)·1.5/5), and the
// last round returns the decoder's mean a·z, so the completions of x_0 are N(1.2, 0.2); a draw
// of x instead of its mean would give variance 0.45, an unconditional one N(0, 1.25). 4000
// chains of 50 rounds: s.e. of the mean √(0.2/4000) = 0.007, so 0.04 is 5.7 s.e.; the sample
// variance's s.e. is 0.2·√(2/4000) = 0.0045, so 0.03 is 6.7 s.e. Measured: 1.195 and 0.202.
TEST(VaeInpaint, PseudoGibbsWithTheExactPosteriorDrawsTheConditional) {
  VaeModel model = exact_linear_vae();
  torch::manual_seed(8);
  const int64_t n = 4000;
  const at::Tensor x = torch::tensor({0.0f, 1.5f}).repeat({n, 1});
  const at::Tensor mask = torch::tensor({0.0f, 1.0f}).repeat({n, 1});
  Reports reports;
  const at::Tensor out = model.inpaint(x, mask, {1, 50});
  EXPECT_TRUE(torch::equal(out.select(1, 1), x.select(1, 1)));
  const at::Tensor unknown = out.select(1, 0).to(torch::kDouble);
  EXPECT_NEAR(unknown.mean().item<double>(), 1.2, 0.04);
  EXPECT_NEAR(unknown.var().item<double>(), 0.2, 0.03);
  ASSERT_EQ(reports.seen.size(), 50u);
  EXPECT_EQ(reports.seen.back(), std::make_tuple(std::string("inpaint"), int64_t{50}, int64_t{50}));
}

TEST(VaeInpaint, EveryDecoderReturnsTheKnownPixelsExactly) {
  for (const std::string likelihood : {"gaussian", "bernoulli", "logistic"}) {
    torch::manual_seed(2);
    VaeModel model(VaeOptions({1, 6, 6}).hidden({16}).latent(3).likelihood(likelihood));
    const at::Tensor x = torch::rand({4, 1, 6, 6});
    const at::Tensor mask = (torch::rand({4, 1, 6, 6}) < 0.5).to(torch::kFloat);
    const at::Tensor out = model.inpaint(x, mask, {1, 3});
    ASSERT_EQ(out.sizes(), x.sizes()) << likelihood;
    const at::Tensor known = mask.to(torch::kBool);
    EXPECT_TRUE(torch::equal(out.masked_select(known), x.masked_select(known))) << likelihood;
    EXPECT_FALSE(torch::equal(out, x)) << likelihood;
    EXPECT_GE(out.min().item<double>(), 0.0) << likelihood;
    EXPECT_LE(out.max().item<double>(), 1.0) << likelihood;
  }
}

TEST(VaeInpaint, ModelsWithoutAnEncoderAreRefusedWithTheFix) {
  VaeModel svi(VaeOptions({2}).hidden({8}).latent(1).inference("svi").num_points(10));
  EXPECT_NE(svi.inpaint_blocker().find("amortized"), std::string::npos);
  const at::Tensor x = torch::randn({2, 2}), mask = torch::ones({2, 2});
  EXPECT_EQ(testing::error_message([&] { svi.inpaint(x, mask, {}); }), svi.inpaint_blocker());
  VaeModel amortized(VaeOptions({2}).hidden({8}).latent(1));
  EXPECT_TRUE(amortized.inpaint_blocker().empty());
  EXPECT_NE(testing::error_message([&] {
              amortized.inpaint(x, mask, {1, 0});
            }).find("gibbs"),
            std::string::npos);
}

}  // namespace
}  // namespace deepgen::vi

// The VDM model: networks, options, the variance-minimising schedule gradient, and the bound on
// points in their own units.
#include "deepgen/diffusion/model.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "deepgen/core/error.h"
#include "deepgen/diffusion/net.h"
#include "diffusion/vdm_fixtures.h"

namespace dd = deepgen::diffusion;

namespace {

using deepgen::testing::point_options;
using deepgen::testing::small_image_options;

}  // namespace

// Zero-initialised output layers: an untrained network predicts ε̂ = z_t exactly (VDM App. B).
TEST(VdmModel, UntrainedNetworksPredictTheirInput) {
  for (auto [shape, patch] : {std::pair{std::vector<int64_t>{1, 8, 8}, int64_t{1}},
                              std::pair{std::vector<int64_t>{3, 8, 8}, int64_t{2}}}) {
    auto o = small_image_options(shape);
    o.net.data_shape = shape;
    o.net.patch = patch;
    auto net = dd::make_eps_network(o.net);
    auto z = torch::randn({2, shape[0], 8, 8});
    EXPECT_TRUE(torch::equal(net->forward(z, torch::full({2}, -3.0), {}), z));
  }
  auto o = point_options();
  o.net.data_shape = {2};
  auto z = torch::randn({5, 2});
  EXPECT_TRUE(torch::equal(dd::make_eps_network(o.net)->forward(z, torch::zeros({5}), {}), z));
}

TEST(VdmModel, FourierFeaturesAreSinCosOfScaledInputs) {
  auto z = torch::tensor({0.01, -0.3}).view({2, 1, 1, 1});
  auto f = dd::fourier_features(z, {6, 7});
  ASSERT_EQ(f.size(1), 5);
  const double w = 64 * 2 * M_PI;
  EXPECT_NEAR(f[0][1].item<float>(), std::sin(w * 0.01), 1e-4);
  EXPECT_NEAR(f[1][4].item<float>(), std::cos(2 * w * -0.3), 1e-4);
}

// The gated features are what survives of each feature under the noise: E sin(ω(μ + σε)) =
// sin(ωμ)·exp(−ω²σ²/2). Checked by Monte Carlo over 200 000 draws of ε (standard error below
// 0.0016 for a bounded feature, so 0.01 is over 6 of them); no noise leaves them as they are,
// and at σ = 0.05 (a tenth of the way into the VDM's schedule's noise) none is left.
TEST(VdmModel, GatedFourierFeaturesAreTheirExpectationUnderTheNoise) {
  const double mu = 0.013, sigma = 2e-3, w = 64 * 2 * M_PI;
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  const at::Tensor var = torch::full({1}, sigma * sigma, f64);
  const at::Tensor z = torch::full({1, 1, 1, 1}, mu, f64);
  const at::Tensor gated = dd::fourier_features(z, {6}, var);
  torch::manual_seed(3);
  const at::Tensor noisy = mu + sigma * torch::randn({200000}, f64);
  EXPECT_NEAR(gated[0][1].item<double>(), torch::sin(w * noisy).mean().item<double>(), 0.01);
  EXPECT_NEAR(gated[0][2].item<double>(), torch::cos(w * noisy).mean().item<double>(), 0.01);
  EXPECT_GT(std::abs(gated[0][2].item<double>()), 0.3);  // a feature the comparison can see
  EXPECT_TRUE(torch::allclose(dd::fourier_features(z, {6, 7}, torch::zeros({1}, f64)),
                              dd::fourier_features(z, {6, 7})));
  const at::Tensor gone = dd::fourier_features(z, {6, 7}, torch::full({1}, 0.05 * 0.05, f64));
  EXPECT_LT(gone.slice(1, 1).abs().max().item<double>(), 1e-12);
  EXPECT_EQ(gone[0][0].item<double>(), mu);  // z itself is never gated
}

TEST(VdmModel, ImageSizesTheUNetCannotHalveNameTheFix) {
  auto o = small_image_options({1, 28, 28});
  o.net.channels = {8, 16, 16, 16};  // 28 -> 14 -> 7 -> 3.5
  o.net.patch = 1;
  try {
    dd::VdmModel model(o);
    FAIL() << "expected an error";
  } catch (const deepgen::Error& e) {
    EXPECT_NE(std::string(e.what()).find("divisible by 8"), std::string::npos) << e.what();
  }
}

TEST(VdmModel, OptionsRoundTripAndUnknownKeysAreErrors) {
  auto o = dd::vdm_options_from_json(
      R"({"schedule": "learned_net", "T": 100, "channels": [16, 32], "patch": 2,
          "sampler": "ddim", "sample_steps": 50})",
      {1, 28, 28});
  EXPECT_EQ(o.schedule.kind(), "learned_net");
  EXPECT_EQ(o.T, 100);
  EXPECT_EQ(o.net.patch, 2);
  auto again = dd::vdm_options_from_json(dd::to_json(o), {1, 28, 28});
  EXPECT_EQ(dd::to_json(again), dd::to_json(o));
  EXPECT_THROW(dd::vdm_options_from_json(R"({"latent": 3})", {1, 28, 28}), deepgen::Error);
  EXPECT_THROW(dd::vdm_options_from_json(R"({"sampler": "euler"})", {1, 28, 28}), deepgen::Error);
  EXPECT_THROW(dd::vdm_options_from_json(R"({"architecture": "unet"})", {2}), deepgen::Error);
  EXPECT_THROW(dd::vdm_options_from_json(R"({"T": -1})", {1, 28, 28}), deepgen::Error);
}

// VDM App. I.2: with the trick the schedule's shape parameters receive ∇ mean(L_diff²)/(D ln 2)
// (the gradient of the estimator's second moment), everything else the plain bound's gradient.
TEST(VdmModel, VarianceTrickGivesTheShapeTheGradientOfTheSquaredLoss) {
  auto o = small_image_options();
  o.schedule.kind("learned_net").hidden(16);
  torch::manual_seed(0);
  dd::Vdm vdm(o);
  vdm->to(torch::kFloat64);
  auto x = torch::rand({6, 1, 8, 8}, torch::kFloat64);
  const double per_bit = 1.0 / (64 * std::log(2.0));
  auto gradients = [](dd::Vdm& m) {
    std::map<std::string, at::Tensor> g;
    for (const auto& p : m->named_parameters())
      if (p.value().grad().defined()) g[p.key()] = p.value().grad().clone();
    return g;
  };
  torch::manual_seed(1);
  (vdm->negative_elbo(x).total().mean() * per_bit).backward();
  auto with_trick = gradients(vdm);
  auto o_off = o;
  o_off.variance_trick = false;
  torch::manual_seed(0);
  dd::Vdm plain(o_off);  // the same initial weights
  plain->to(torch::kFloat64);
  torch::manual_seed(1);  // the same t and ε
  (plain->negative_elbo(x).diffusion.pow(2).mean() * per_bit).backward();
  for (const char* name : {"schedule.w1", "schedule.w2", "schedule.b2", "schedule.w3"}) {
    ASSERT_TRUE(with_trick.count(name)) << name;
    auto expected = plain->named_parameters()[name].grad();
    // float64: the two backward passes differ only in where the factor 2L is applied.
    EXPECT_TRUE(torch::allclose(with_trick[name], expected, 1e-9, 1e-12)) << name;
  }
  // The endpoints and the network still descend the bound.
  plain->zero_grad();
  torch::manual_seed(1);
  (plain->negative_elbo(x).total().mean() * per_bit).backward();
  for (const char* name : {"schedule.gamma0", "schedule.log_gap", "net.conv_in.weight"}) {
    auto expected = plain->named_parameters()[name].grad();
    EXPECT_TRUE(torch::allclose(with_trick[name], expected, 1e-9, 1e-12)) << name;
  }
}

// On points the bound is a density of x in its own units: scaling the data and its recorded
// std by 10 shifts −log p by exactly D·log 10 per example (same noise draws).
TEST(VdmModel, PointBoundIsInTheDataUnits) {
  auto o = point_options();
  o.data_mean = {0.5, -1.0};
  o.data_std = {2.0, 0.5};
  auto scaled = o;
  scaled.data_mean = {5.0, -10.0};
  scaled.data_std = {20.0, 5.0};
  torch::manual_seed(0);
  dd::Vdm a(o);
  torch::manual_seed(0);
  dd::Vdm b(scaled);
  auto x = torch::randn({16, 2}) * torch::tensor({2.0, 0.5}) + torch::tensor({0.5, -1.0});
  torch::manual_seed(3);
  auto la = a->negative_elbo(x).total();
  torch::manual_seed(3);
  auto lb = b->negative_elbo(10 * x).total();
  EXPECT_TRUE(torch::allclose(lb - la, torch::full({16}, 2 * std::log(10.0)), 0, 1e-3));
}

TEST(VdmModel, SamplesHaveTheDataShapeAndRange) {
  auto o = small_image_options({3, 8, 8});
  dd::VdmModel model(o);
  for (const char* sampler : {"ancestral", "ddim"}) {
    auto s = model.vdm()->sample(4, sampler, 5);
    ASSERT_EQ(s.sizes(), (std::vector<int64_t>{4, 3, 8, 8}));
    EXPECT_GE(s.min().item<float>(), 0.0f);
    EXPECT_LE(s.max().item<float>(), 1.0f);
    // 8-bit values: k/255 exactly.
    EXPECT_TRUE(torch::allclose(s * 255, torch::round(s * 255), 0, 1e-4));
  }
}

// Discrete time: the model's T-step loss is finite and its terms are reported in bits/dim.
TEST(VdmModel, LossPartsAddUpToTheTotalInBitsPerDim) {
  auto o = small_image_options();
  o.T = 10;
  dd::VdmModel model(o);
  auto out = model.loss(torch::rand({4, 1, 8, 8}));
  std::map<std::string, double> parts;
  for (const auto& [k, v] : out.parts) parts[k] = v.item<double>();
  EXPECT_NEAR(parts["bpd_diffusion"] + parts["bpd_recon"] + parts["bpd_prior"], parts["bpd"], 1e-4);
  EXPECT_NEAR(out.loss.item<double>(), parts["bpd"], 1e-6);
  // With γ_1 = 5 the prior term is about 1e-3 bits/dim (VDM §1.3 of the notes).
  EXPECT_LT(parts["bpd_prior"], 0.01);
  EXPECT_GT(parts["bpd_prior"], 0.0);
}

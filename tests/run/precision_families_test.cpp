// bf16 networks in every family (core/precision.h): the network's output reaches the losses,
// the bound and the samplers as float32, and it really was computed in bfloat16 (it differs
// from the float32 forward by about bf16's rounding, 2^-8 relative, and by no more).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "deepgen/core/precision.h"
#include "deepgen/diffusion/model.h"
#include "deepgen/score/model.h"
#include "deepgen/vi/vae.h"

namespace {

using deepgen::Precision;

struct Bf16Networks {
  Bf16Networks() { deepgen::set_network_precision(Precision::bf16, c10::DeviceType::CPU); }
  ~Bf16Networks() { deepgen::set_network_precision(Precision::fp32, c10::DeviceType::CPU); }
};

// Zero-initialised output layers would make both precisions return the skip exactly: give every
// parameter a random value first.
void randomise(torch::nn::Module& m) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(1);
  for (auto& p : m.parameters()) p.normal_(0.0, 0.2);
}

// `forward` in float32 and in bf16; the bf16 result must be float32, differ, and stay within
// `tolerance` relative to the largest float32 value. A few layers of 8-bit-mantissa products
// compound to a few per cent at most on these sizes; an autocast that leaked outside its scope
// (or none at all) fails the dtype check or the "differs" check.
template <class F>
void expect_bf16_forward(F&& forward, double tolerance) {
  const at::Tensor fp32 = forward();
  at::Tensor bf16;
  {
    Bf16Networks scope;
    bf16 = forward();
  }
  ASSERT_EQ(fp32.scalar_type(), at::kFloat);
  EXPECT_EQ(bf16.scalar_type(), at::kFloat);
  const double rel = ((bf16 - fp32).abs().max() / fp32.abs().max()).item<double>();
  EXPECT_GT(rel, 0.0) << "the bf16 forward equals the float32 one: autocast did not apply";
  EXPECT_LT(rel, tolerance);
}

TEST(PrecisionFamilies, VdmUNetEpsAndItsLossTermsAreFloat32) {
  deepgen::diffusion::VdmOptions o;
  o.data_shape = {1, 8, 8};
  o.net.channels = {8, 16};
  o.net.blocks = 1;
  deepgen::diffusion::Vdm vdm(o);
  randomise(*vdm);
  const at::Tensor z = torch::randn({4, 1, 8, 8}), gamma = torch::linspace(-5, 5, 4);
  expect_bf16_forward([&] { return vdm->eps(z, gamma); }, 0.05);
  Bf16Networks scope;
  const auto l = vdm->negative_elbo(torch::rand({4, 1, 8, 8}), 0);
  for (const at::Tensor& t : {l.diffusion, l.recon, l.prior})
    EXPECT_EQ(t.scalar_type(), at::kFloat);
}

TEST(PrecisionFamilies, ScoreUNetOutputIsFloat32) {
  deepgen::score::ScoreOptions o({1, 8, 8});
  o.unet().channels = {8, 16};
  deepgen::score::ScoreModel model(o);
  randomise(model.module());
  const at::Tensor x = torch::randn({4, 1, 8, 8}), sigma = torch::full({4}, 0.5);
  expect_bf16_forward([&] { return model.score(x, sigma); }, 0.05);
}

TEST(PrecisionFamilies, VaeEncoderAndDecoderOutputsAreFloat32) {
  deepgen::vi::VaeModel model(deepgen::vi::VaeOptions({1, 8, 8}));
  randomise(model.module());
  const at::Tensor x = torch::rand({4, 1, 8, 8});
  expect_bf16_forward([&] { return model.vae()->encode(x).first; }, 0.05);
  const at::Tensor z = torch::randn({4, 20});
  expect_bf16_forward([&] { return model.vae()->decode(z); }, 0.05);
  Bf16Networks scope;
  EXPECT_EQ(model.loss(x).loss.scalar_type(), at::kFloat);
}

}  // namespace

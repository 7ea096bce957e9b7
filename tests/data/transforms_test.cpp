#include "deepgen/data/transforms.h"

#include <gtest/gtest.h>

#include "deepgen/core/rng.h"

namespace deepgen::data {
namespace {

TEST(Transforms, BinarizeStatic) {
  const at::Tensor x = at::tensor({0.1f, 0.5f, 0.51f, 1.0f});
  EXPECT_TRUE(binarize_static(x).equal(at::tensor({0.0f, 0.0f, 1.0f, 1.0f})));
  EXPECT_TRUE(binarize_static(x, 0.05).equal(at::ones({4})));
}

TEST(Transforms, BinarizeDynamicIsUnbiased) {
  at::Generator gen = make_generator(11);
  const at::Tensor x = at::rand({200000}, gen);
  const at::Tensor b = binarize_dynamic(x, gen);
  EXPECT_TRUE(((b == 0) | (b == 1)).all().item<bool>());
  // E[b] = E[x]; the MC std of the difference is below sqrt(0.25 / 2e5) = 0.0011, so the
  // tolerance 0.006 is over 5 sigma.
  EXPECT_NEAR(b.mean().item<double>(), x.mean().item<double>(), 0.006);
  // Certain pixels stay certain.
  EXPECT_TRUE(binarize_dynamic(at::zeros({100}), gen).eq(0).all().item<bool>());
  EXPECT_TRUE(binarize_dynamic(at::ones({100}), gen).eq(1).all().item<bool>());
}

TEST(Transforms, BinarizeDynamicRedrawsAndIsSeeded) {
  const at::Tensor x = at::full({1000}, 0.5);
  at::Generator a = make_generator(3), b = make_generator(3);
  const at::Tensor first = binarize_dynamic(x, a);
  EXPECT_TRUE(first.equal(binarize_dynamic(x, b)));
  EXPECT_FALSE(first.equal(binarize_dynamic(x, a)));
}

TEST(Transforms, SignedRoundTrip) {
  const at::Tensor x = at::linspace(0, 1, 101);
  const at::Tensor s = to_signed(x);
  EXPECT_FLOAT_EQ(s.min().item<float>(), -1.0f);
  EXPECT_FLOAT_EQ(s.max().item<float>(), 1.0f);
  EXPECT_TRUE(from_signed(s).allclose(x, 0, 1e-6));
}

TEST(Transforms, QuantizeRecoversBytes) {
  const at::Tensor k = at::arange(256, at::kLong);
  EXPECT_TRUE(quantize_8bit(k.to(at::kFloat) / 255).equal(k));
}

TEST(Transforms, DequantizeStaysInBin) {
  at::Generator gen = make_generator(5);
  const at::Tensor k = at::arange(256, at::kLong).repeat({400});
  const at::Tensor y = dequantize_uniform(k.to(at::kFloat) / 255, gen);
  const at::Tensor scaled = y * 256;  // exact: power-of-two scale
  EXPECT_TRUE((scaled >= k.to(at::kFloat)).all().item<bool>());
  EXPECT_TRUE((scaled < (k + 1).to(at::kFloat)).all().item<bool>());
  EXPECT_LT(y.max().item<float>(), 1.0f);
  // Uniform within the bin: mean offset 0.5 (std of the mean 0.289 / sqrt(102400) < 0.001).
  EXPECT_NEAR((scaled - k.to(at::kFloat)).mean().item<double>(), 0.5, 0.005);
}

}  // namespace
}  // namespace deepgen::data

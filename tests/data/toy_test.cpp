#include "deepgen/data/toy.h"

#include <gtest/gtest.h>

#include "deepgen/core/error.h"
#include "deepgen/core/rng.h"

namespace deepgen::data {
namespace {

TEST(Toy, EveryNameGivesFinitePoints) {
  for (const auto& name : toy_names()) {
    at::Generator gen = make_generator(1);
    const at::Tensor x = sample_toy(name, 500, gen);
    EXPECT_EQ(x.sizes(), (at::IntArrayRef{500, 2})) << name;
    EXPECT_EQ(x.scalar_type(), at::kFloat) << name;
    EXPECT_TRUE(at::isfinite(x).all().item<bool>()) << name;
    EXPECT_GT(x.std().item<float>(), 0.1f) << name;  // not collapsed to a point
  }
}

TEST(Toy, NcsnMixtureWeightsAndMeans) {
  at::Generator gen = make_generator(7);
  const at::Tensor x = sample_toy("ncsn-gmm", 100000, gen);
  const at::Tensor right = x.select(1, 0) > 0;
  // Binomial std of the fraction is sqrt(0.16 / 1e5) = 0.0013, so 0.01 is ~8 sigma; the modes
  // are 10 apart with unit variance, so the sign of x never mislabels a component in practice.
  EXPECT_NEAR(right.to(at::kFloat).mean().item<double>(), 0.8, 0.01);
  const at::Tensor pos = x.index({right});
  const at::Tensor neg = x.index({right.logical_not()});
  for (int d = 0; d < 2; ++d) {
    EXPECT_NEAR(pos.select(1, d).mean().item<double>(), 5.0, 0.05);  // 30+ standard errors
    EXPECT_NEAR(neg.select(1, d).mean().item<double>(), -5.0, 0.05);
    EXPECT_NEAR(pos.select(1, d).std().item<double>(), 1.0, 0.05);
  }
}

TEST(Toy, SameSeedSameTensor) {
  for (const auto& name : toy_names()) {
    at::Generator a = make_generator(42), b = make_generator(42), c = make_generator(43);
    const at::Tensor xa = sample_toy(name, 64, a);
    EXPECT_TRUE(xa.equal(sample_toy(name, 64, b))) << name;
    EXPECT_FALSE(xa.equal(sample_toy(name, 64, c))) << name;
  }
}

TEST(Toy, ShapesHaveDocumentedScale) {
  at::Generator gen = make_generator(0);
  // 8gaussians: centres at radius 4 / 1.414.
  const at::Tensor g = sample_toy("8gaussians", 20000, gen);
  EXPECT_NEAR(g.norm(2, 1).mean().item<double>(), 4 / 1.414, 0.1);
  // checkerboard: inside [-4, 4]².
  const at::Tensor c = sample_toy("checkerboard", 20000, gen);
  EXPECT_LE(c.abs().max().item<float>(), 4.0f);
  // rings: outer radius 3.
  const at::Tensor r = sample_toy("rings", 20000, gen);
  EXPECT_NEAR(r.norm(2, 1).max().item<double>(), 3.0, 0.5);
}

TEST(Toy, UnknownNameIsError) {
  at::Generator gen = make_generator(0);
  EXPECT_THROW(sample_toy("spiral", 10, gen), Error);
  try {
    sample_toy("spiral", 10, gen);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("moons"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace deepgen::data

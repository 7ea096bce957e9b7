// Class conditioning shared by the families' networks (nn/condition.h; BEYOND B5).
#include "deepgen/nn/condition.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "deepgen/core/error.h"
#include "deepgen/nn/unet.h"

namespace {

using namespace deepgen;

// net(z, ·, y) = z + y: guidance must give (1 + w)(z + y) − w(z + ∅) = z + (1 + w)y − w∅
// exactly (small integers: no rounding), in one call on a doubled batch.
TEST(Condition, GuidanceCombinesBothHalvesInOneCall) {
  int calls = 0;
  int64_t batch = 0;
  const nn::ConditionalNet net = [&](const at::Tensor& z, const at::Tensor&, const at::Tensor& y) {
    ++calls;
    batch = z.size(0);
    return z + y.to(torch::kFloat).view({-1, 1});
  };
  const at::Tensor z = torch::arange(6, torch::kFloat).view({3, 2});
  const at::Tensor y = torch::tensor({0, 1, 2}, torch::kLong), noise = torch::zeros({3});
  const int64_t null = 4;
  const at::Tensor out = nn::guided(net, z, noise, y, 2.0, null);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(batch, 6);
  const at::Tensor want = z + (3 * y.to(torch::kFloat) - 2 * null).view({-1, 1});
  EXPECT_TRUE(torch::equal(out, want)) << out << want;
  // w = 0: the conditional net alone, at the batch's size
  EXPECT_TRUE(torch::equal(nn::guided(net, z, noise, y, 0.0, null), net(z, noise, y)));
  EXPECT_EQ(batch, 3);
}

// Dropping is Bernoulli(p) per label: p = 0.3 over 200k labels has standard deviation 0.001 in
// the share, so ±0.01 fails only for a wrong rate; p = 0 and 1 are exact.
TEST(Condition, LabelDropoutReplacesTheShareAskedByTheNullClass) {
  torch::manual_seed(1);
  const at::Tensor y = torch::randint(5, {200000}, torch::kLong);
  EXPECT_TRUE(torch::equal(nn::drop_labels(y, 0.0, 5), y));
  EXPECT_TRUE(torch::equal(nn::drop_labels(y, 1.0, 5), torch::full_like(y, 5)));
  const at::Tensor d = nn::drop_labels(y, 0.3, 5);
  const at::Tensor dropped = d.eq(5);
  EXPECT_NEAR(dropped.to(torch::kDouble).mean().item<double>(), 0.3, 0.01);
  EXPECT_TRUE(torch::equal(d.masked_select(~dropped), y.masked_select(~dropped)));  // kept
}

TEST(Condition, EmbeddingStartsAtZeroAndUndefinedLabelsAreTheNullRow) {
  nn::ClassEmbedding e(3, 4);
  EXPECT_EQ(e->forward(torch::tensor({0, 2}, torch::kLong), 2).abs().sum().item<double>(), 0.0);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : e->parameters()) p.copy_(torch::arange(16, torch::kFloat).view({4, 4}));
  }
  const at::Tensor null = e->forward({}, 2);
  EXPECT_TRUE(torch::equal(null, torch::arange(12, 16, torch::kFloat).expand({2, 4})));
}

TEST(Condition, LabelsOutsideTheClassesAndGuidanceWithoutDropoutAreErrors) {
  EXPECT_NO_THROW(nn::check_labels(torch::tensor({0, 9}, torch::kLong), 10));
  EXPECT_THROW(nn::check_labels(torch::tensor({10}, torch::kLong), 10), Error);
  EXPECT_THROW(nn::check_labels(torch::tensor({-1}, torch::kLong), 10), Error);
  nn::Conditioning c;
  c.conditional = true;
  c.classes = 10;
  c.guidance = 1.0;
  EXPECT_NO_THROW(nn::validate(c, "vdm"));
  c.label_dropout = 0.0;
  EXPECT_THROW(nn::validate(c, "vdm"), Error);
  const at::Tensor u = nn::uniform_labels(1000, 10, torch::kCPU);
  EXPECT_EQ(u.min().item<int64_t>(), 0);
  EXPECT_EQ(u.max().item<int64_t>(), 9);
}

struct Net : torch::nn::Module {
  explicit Net(const nn::UNetOptions& o) : layers(*this, o) {}
  nn::UNetLayers layers;
};

nn::UNetOptions small(int64_t classes) {
  nn::UNetOptions o;
  o.data_shape = {1, 8, 8};
  o.channels = {8, 16};
  o.blocks = 1;
  o.attention = false;
  o.skip = false;
  o.classes = classes;
  return o;
}

// The class embedding is registered last, so a seed gives an unconditional net the weights it
// had before conditioning existed, and the conditional net the same ones plus its table; once
// the table is not zero, the label changes the output.
TEST(Condition, UNetAddsOnlyAClassTableWhoseLabelChangesTheOutput) {
  torch::manual_seed(7);
  Net plain(small(0));
  torch::manual_seed(7);
  Net cond(small(3));
  const auto a = plain.named_parameters(), b = cond.named_parameters();
  ASSERT_EQ(b.size(), a.size() + 1);
  for (const auto& p : a) EXPECT_TRUE(torch::equal(p.value(), b[p.key()])) << p.key();
  EXPECT_TRUE(b.contains("class_embed.table.weight"));
  {
    torch::NoGradGuard no_grad;  // zero-initialised layers (the table, output convs): wake them
    for (auto& p : b)
      if (p.value().abs().sum().item<double>() == 0) p.value().normal_(0, 0.1);
  }
  const at::Tensor z = torch::randn({2, 1, 8, 8}), noise = torch::zeros({2});
  const at::Tensor y0 = cond.layers.forward(z, noise, torch::tensor({0, 0}, torch::kLong));
  const at::Tensor y1 = cond.layers.forward(z, noise, torch::tensor({1, 1}, torch::kLong));
  EXPECT_GT((y0 - y1).abs().max().item<double>(), 1e-3);
}

}  // namespace

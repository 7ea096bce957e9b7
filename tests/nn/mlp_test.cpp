#include "deepgen/nn/mlp.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "deepgen/core/error.h"

namespace deepgen::nn {
namespace {

int64_t count_linear(MLPImpl& m) {
  int64_t n = 0;
  for (const auto& child : m.modules(/*include_self=*/false))
    if (child->as<torch::nn::Linear>()) ++n;
  return n;
}

TEST(MLP, OutputShapes) {
  torch::manual_seed(0);
  MLP m(MLPOptions(3, {8, 5}, 2));
  EXPECT_EQ(m->forward(torch::randn({7, 3})).sizes(), (at::IntArrayRef{7, 2}));
  EXPECT_EQ(m->forward(torch::randn({1, 3})).sizes(), (at::IntArrayRef{1, 2}));
  // Leading batch dimensions pass through (nn::Linear semantics).
  EXPECT_EQ(m->forward(torch::randn({4, 6, 3})).sizes(), (at::IntArrayRef{4, 6, 2}));
  EXPECT_ANY_THROW(m->forward(torch::randn({7, 4})));  // wrong input width
}

TEST(MLP, LayerCountAndParameterShapes) {
  MLP m(MLPOptions(3, {8, 5}, 2));
  EXPECT_EQ(count_linear(*m), 3);
  const auto params = m->named_parameters();
  EXPECT_EQ(params.size(), 6u);
  EXPECT_EQ(params["layers.0.weight"].sizes(), (at::IntArrayRef{8, 3}));
  EXPECT_EQ(params["layers.0.bias"].sizes(), (at::IntArrayRef{8}));
  EXPECT_EQ(params["layers.1.weight"].sizes(), (at::IntArrayRef{5, 8}));
  EXPECT_EQ(params["layers.2.weight"].sizes(), (at::IntArrayRef{2, 5}));
  EXPECT_EQ(params["layers.2.bias"].sizes(), (at::IntArrayRef{2}));

  MLP linear(MLPOptions(4, {}, 3));  // no hidden layers: a single affine map
  EXPECT_EQ(count_linear(*linear), 1);
  EXPECT_EQ(linear->parameters().size(), 2u);
  EXPECT_EQ(linear->forward(torch::randn({2, 4})).sizes(), (at::IntArrayRef{2, 3}));
}

TEST(MLP, ForwardIsLinearActivationChainWithoutFinalActivation) {
  for (const std::string act : {"relu", "silu", "softplus", "tanh"}) {
    torch::manual_seed(1);
    MLP m(MLPOptions(3, {6, 4}, 2).activation(act));
    const at::Tensor x = torch::randn({10, 3});
    auto p = m->named_parameters();
    at::Tensor h = torch::nn::functional::linear(x, p["layers.0.weight"], p["layers.0.bias"]);
    h = activate(act, h);
    h = torch::nn::functional::linear(h, p["layers.1.weight"], p["layers.1.bias"]);
    h = activate(act, h);
    h = torch::nn::functional::linear(h, p["layers.2.weight"], p["layers.2.bias"]);
    // Same float32 ops in the same order: equal up to rounding (1e-6).
    EXPECT_TRUE(m->forward(x).allclose(h, 1e-6, 1e-6)) << act;
  }
  // The activations are the named functions.
  const at::Tensor x = torch::linspace(-3, 3, 13);
  EXPECT_TRUE(activate("relu", x).equal(torch::relu(x)));
  EXPECT_TRUE(activate("silu", x).allclose(x * torch::sigmoid(x)));
  EXPECT_TRUE(activate("softplus", x).allclose(torch::log1p(torch::exp(x))));
  EXPECT_TRUE(activate("tanh", x).equal(torch::tanh(x)));
  // With relu the output can still be negative: the last layer has no activation.
  torch::manual_seed(2);
  MLP r(MLPOptions(3, {16}, 4));
  EXPECT_LT(r->forward(torch::randn({64, 3})).min().item<float>(), 0.0f);
}

TEST(MLP, UnknownActivationThrows) {
  EXPECT_THROW(MLP(MLPOptions(3, {4}, 2).activation("gelu")), Error);
  EXPECT_THROW(MLP(MLPOptions(3, {4}, 2).activation("")), Error);
  EXPECT_THROW(activate("Relu", torch::zeros({2})), Error);  // names are case-sensitive
  try {
    activate("gelu", torch::zeros({1}));
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("gelu"), std::string::npos) << e.what();
  }
}

TEST(MLP, GradientReachesEveryParameter) {
  for (const std::string act : {"relu", "silu", "softplus", "tanh"}) {
    torch::manual_seed(3);
    MLP m(MLPOptions(3, {8, 8}, 2).activation(act));
    m->forward(torch::randn({32, 3})).pow(2).sum().backward();
    for (const auto& p : m->named_parameters()) {
      ASSERT_TRUE(p.value().grad().defined()) << act << " " << p.key();
      EXPECT_GT(p.value().grad().abs().sum().item<float>(), 0.0f) << act << " " << p.key();
      EXPECT_TRUE(p.value().grad().isfinite().all().item<bool>()) << act << " " << p.key();
    }
  }
}

}  // namespace
}  // namespace deepgen::nn

// The conditional VAE (Sohn et al. 2015; issue 15): q(z|x,y) and p(x|z,y) take onehot(y), the
// prior stays N(0, I), every bound is on −log p(x|y), and an unconditional VAE is as before.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "../support/error_message.h"
#include "deepgen/core/error.h"
#include "deepgen/core/rng.h"
#include "deepgen/vi/family.h"
#include "deepgen/vi/vae.h"
#include "vi/vae_fixtures.h"

namespace deepgen::vi {
namespace {

using deepgen::testing::error_message;

VaeOptions conditional(VaeOptions o, int64_t classes) {
  nn::Conditioning c = o.condition();
  c.conditional = true;
  c.classes = classes;
  return o.condition(c);
}

VaeOptions mlp_images() { return VaeOptions({1, 4, 4}).hidden({8, 6}).latent(3); }
VaeOptions conv_images() {
  return VaeOptions({1, 8, 8}).architecture("conv").conv_channels({4, 8}).latent(3);
}
VaeOptions two_layers() { return VaeOptions({1, 4, 4}).hidden({8}).latents({4, 2}).hidden2({6}); }

using deepgen::testing::parameters;

double max_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

at::Tensor labels_of(std::vector<int64_t> v) { return torch::tensor(v, torch::kLong); }

// The value of the evaluation part `name` (fails the test when it is missing).
double part(const train::LossOutput& out, const std::string& name) {
  for (const auto& [k, v] : out.parts)
    if (k == name) return v.item<double>();
  ADD_FAILURE() << "no part " << name;
  return std::nan("");
}

// For the MLP, the conv and the two-layer model: another label changes q's (mu, log σ²) and
// p(x|z,y)'s output, the same label gives the same output, and each row uses its own label.
// Random initial weights move the outputs by ~1e-2 per unit of input (fan-in ≤ 19), so 1e-4
// separates "depends" from float32 noise; equal labels must agree exactly (same arithmetic).
TEST(Cvae, EncoderAndDecoderOutputsDependOnTheLabel) {
  const std::vector<std::pair<std::string, VaeOptions>> models{
      {"mlp", mlp_images()}, {"conv", conv_images()}, {"latents", two_layers()}};
  for (const auto& [what, options] : models) {
    torch::manual_seed(3);
    Vae vae(conditional(options, 3));
    const std::vector<int64_t> shape = options.data_shape();
    const at::Tensor x = torch::rand({2, shape[0], shape[1], shape[2]});
    const at::Tensor z = torch::randn({2, latent_sizes(options).front()});
    const at::Tensor zeros = labels_of({0, 0}), twos = labels_of({2, 2}), mixed = labels_of({0, 2});
    torch::NoGradGuard no_grad;
    const auto [mu0, lv0] = vae->encode(x, zeros);
    const auto [mu2, lv2] = vae->encode(x, twos);
    EXPECT_GT(max_diff(mu0, mu2), 1e-4) << what;
    EXPECT_GT(max_diff(lv0, lv2), 1e-4) << what;
    EXPECT_TRUE(vae->encode(x, zeros).first.equal(mu0)) << what;
    const at::Tensor mu_mixed = vae->encode(x, mixed).first;
    EXPECT_LT(max_diff(mu_mixed[0], mu0[0]), 1e-6) << what;
    EXPECT_LT(max_diff(mu_mixed[1], mu2[1]), 1e-6) << what;
    const at::Tensor f0 = vae->decode(z, zeros), f2 = vae->decode(z, twos);
    EXPECT_EQ(f0.sizes(), (at::IntArrayRef{2, shape[0], shape[1], shape[2]})) << what;
    EXPECT_GT(max_diff(f0, f2), 1e-4) << what;
    const at::Tensor f_mixed = vae->decode(z, mixed);
    EXPECT_LT(max_diff(f_mixed[0], f0[0]), 1e-6) << what;
    EXPECT_LT(max_diff(f_mixed[1], f2[1]), 1e-6) << what;
    // Without labels, or with too few, one line says what is missing.
    const std::string none = error_message([&] { vae->decode(z); });
    EXPECT_NE(none.find("needs the class of each of its 2 inputs, got none"), std::string::npos)
        << what << ": " << none;
    const std::string short_labels = error_message([&] { vae->encode(x, labels_of({1})); });
    EXPECT_NE(short_labels.find("got 1"), std::string::npos) << what << ": " << short_labels;
  }
}

// classes = 0 adds nothing: the names and sizes of vae_layers_test's recorded model (367). A
// conditional model has the same names, its first encoder and decoder layers `classes` inputs
// wider: MLP 8·c + 6·c more (hidden 8,6 reversed in the decoder); conv 4·4·4·c in the first
// convolution's kernels and 8·2·2·c in the decoder head (8 channels at 8/4 × 8/4).
TEST(Cvae, UnconditionalModelIsUnchangedConditionalWidensTheFirstLayers) {
  torch::manual_seed(31);
  VaeModel plain(VaeOptions({1, 4, 4}).hidden({8}).latent(3).likelihood("bernoulli"));
  EXPECT_EQ(parameters(plain).second, 367);
  EXPECT_EQ(plain.classes(), 0);
  const int64_t c = 5;
  struct Case {
    std::string what;
    VaeOptions options;
    int64_t extra;
  };
  const std::vector<Case> cases{{"mlp", mlp_images(), (8 + 6) * c},
                                {"conv", conv_images(), 4 * 16 * c + 8 * 2 * 2 * c},
                                {"latents", two_layers(), (8 + 8) * c}};
  for (const Case& k : cases) {
    VaeModel u(k.options), m(conditional(k.options, c));
    EXPECT_EQ(parameters(m).first, parameters(u).first) << k.what;
    EXPECT_EQ(parameters(m).second - parameters(u).second, k.extra) << k.what;
    EXPECT_EQ(m.classes(), c) << k.what;
  }
}

TEST(Cvae, SampleClassesDecodesThePriorWithTheLabelsAndRefusesBadRequests) {
  torch::manual_seed(4);
  VaeModel m(conditional(mlp_images(), 2));
  torch::NoGradGuard no_grad;
  const at::Tensor labels = labels_of({0, 1, 1});
  torch::manual_seed(5);
  const at::Tensor s = m.sample_classes(labels, 0.0);
  EXPECT_EQ(s.sizes(), (at::IntArrayRef{3, 1, 4, 4}));
  // Images: the decoder mean at z ~ N(0, I) with onehot(y) beside it.
  torch::manual_seed(5);
  EXPECT_TRUE(s.equal(m.vae()->decode(torch::randn({3, 3}), labels)));
  EXPECT_EQ(m.sample(5).sizes(), (at::IntArrayRef{5, 1, 4, 4}));     // classes drawn uniformly
  EXPECT_FALSE(m.reconstruct(torch::rand({2, 1, 4, 4})).defined());  // no y: no reconstruction

  const std::string missing = error_message([&] { m.sample_classes(labels_of({0, 2}), 0.0); });
  EXPECT_NE(missing.find("class 2 does not exist"), std::string::npos) << missing;
  const std::string negative = error_message([&] { m.sample_classes(labels_of({-1}), 0.0); });
  EXPECT_NE(negative.find("class -1 does not exist"), std::string::npos) << negative;
  const std::string guided = error_message([&] { m.sample_classes(labels, 1.0); });
  EXPECT_NE(guided.find("a vae has no classifier-free guidance"), std::string::npos) << guided;
  VaeModel plain(mlp_images());
  const std::string unconditional = error_message([&] { plain.sample_classes(labels, 0.0); });
  EXPECT_NE(unconditional.find("unconditional"), std::string::npos) << unconditional;
  // The two-layer model draws h1 from the prior above it, then decodes with y.
  VaeModel layered(conditional(two_layers(), 2));
  EXPECT_EQ(layered.sample_classes(labels, 0.0).sizes(), (at::IntArrayRef{3, 1, 4, 4}));
}

// test_loss is evaluate's −ELBO with the labels: the same draws give the same numbers as
// negative_elbo(x, mu(x,y), logvar(x,y), 1, y) (float32, 1e-5 relative), other labels another
// bound, and no labels one clear error.
TEST(Cvae, TestBoundsAreOnXGivenItsLabels) {
  torch::manual_seed(6);
  VaeModel m(conditional(mlp_images(), 3));
  m.eval_options().iwae_k = 4;
  const at::Tensor x = torch::rand({5, 1, 4, 4});
  train::TrainBatch batch;
  batch.x = x;
  batch.labels = labels_of({0, 1, 2, 1, 0});
  torch::NoGradGuard no_grad;
  torch::manual_seed(7);
  const train::LossOutput out = m.test_loss(batch);
  torch::manual_seed(7);
  const auto [mu, logvar] = m.vae()->encode(x, batch.labels);
  const double want =
      m.vae()->negative_elbo(x, mu, logvar, 1, batch.labels).total().mean().item<double>();
  EXPECT_NEAR(part(out, "neg_elbo"), want, 1e-5 * (std::abs(want) + 1));
  EXPECT_TRUE(std::isfinite(part(out, "iwae_nll")));
  train::TrainBatch other = batch;
  other.labels = labels_of({2, 2, 0, 0, 1});
  torch::manual_seed(7);
  EXPECT_GT(std::abs(part(m.test_loss(other), "neg_elbo") - want), 1e-4);
  const std::string none = error_message([&] { m.evaluate(x); });
  EXPECT_NE(none.find("conditional vae"), std::string::npos) << none;
  // Each draw of the IWAE's k decodes with its own example's label: (k, B) weights.
  EXPECT_EQ(m.vae()->log_weights(x, mu, logvar, 4, batch.labels).sizes(), (at::IntArrayRef{4, 5}));
}

// Points of two classes, N((−2, 0), 0.3²I) and N((2, 0), 0.3²I). A model that ignored y would
// put both classes' samples around the mixture's mean (0, 0); the CVAE's samples of each class
// must centre on that class: mean x₁ within 0.3 of ±2 (500 samples: standard error ≈ 0.03;
// measured after 800 steps: −1.985 and 2.021; after 400 only −1.71 and 1.78).
TEST(Cvae, TrainedOnTwoClassesOfPointsSamplesEachClassOnRequest) {
  torch::manual_seed(8);
  at::Generator gen = make_generator(9);
  const int64_t n = 512;
  const at::Tensor y = at::randint(0, 2, {n}, gen);
  at::Tensor x = 0.3 * at::randn({n, 2}, gen, at::kFloat);
  x.select(1, 0).add_(4.0 * y.to(at::kFloat) - 2.0);
  VaeModel m(conditional(VaeOptions({2}).hidden({32}).latent(2).mean_activation("identity"), 2));
  torch::optim::Adam opt(m.module().parameters(), torch::optim::AdamOptions(1e-2));
  for (int64_t step = 0; step < 800; ++step) {
    const at::Tensor idx = at::randint(0, n, {64}, gen);
    train::TrainBatch batch;
    batch.x = x.index_select(0, idx);
    batch.labels = y.index_select(0, idx);
    batch.step = step;
    opt.zero_grad();
    m.train_loss(batch).loss.backward();
    opt.step();
  }
  torch::NoGradGuard no_grad;
  const at::Tensor left = m.sample_classes(torch::zeros({500}, torch::kLong), 0.0);
  const at::Tensor right = m.sample_classes(torch::ones({500}, torch::kLong), 0.0);
  EXPECT_NEAR(left.select(1, 0).mean().item<double>(), -2.0, 0.3);
  EXPECT_NEAR(right.select(1, 0).mean().item<double>(), 2.0, 0.3);
  EXPECT_NEAR(left.select(1, 1).mean().item<double>(), 0.0, 0.3);
  EXPECT_NEAR(right.select(1, 1).mean().item<double>(), 0.0, 0.3);
}

TEST(CvaeOptions, ConditionalNeedsTheEncoderAndClassesNeedConditional) {
  auto error = [](const std::string& json) {
    return error_message([&] { vae_options_from_json(json, {1, 4, 4}); });
  };
  for (const std::string inference : {"svi", "full"}) {
    const std::string e = error(R"({"conditional": true, "classes": 2, "inference": ")" +
                                inference + R"(", "num_points": 10})");
    EXPECT_NE(e.find("`vae.conditional`"), std::string::npos) << e;
    EXPECT_NE(e.find("amortized, not " + inference), std::string::npos) << e;
  }
  const std::string classes = error(R"({"classes": 2})");
  EXPECT_NE(classes.find("classes is set on an unconditional model"), std::string::npos) << classes;
  EXPECT_NE(error(R"({"label_dropout": 0.1})").find("label_dropout"), std::string::npos);
  EXPECT_NE(error(R"({"guidance": 1})").find("guidance"), std::string::npos);
  // The condition round-trips through config.json; several layers may be conditional.
  const VaeOptions o =
      vae_options_from_json(R"({"conditional": true, "classes": 4, "latents": [4, 2]})", {1, 4, 4});
  EXPECT_TRUE(o.condition().conditional);
  EXPECT_EQ(o.condition().classes, 4);
  EXPECT_EQ(vae_options_from_json(to_json(o), {1, 4, 4}).condition().classes, 4);
  // An old run's config.json has neither key: unconditional.
  EXPECT_EQ(vae_options_from_json(R"({"latent": 3})", {1, 4, 4}).condition().classes, 0);
}

TEST(CvaeFamily, ReportsSayTheBoundIsOnXGivenY) {
  const train::Family& f = vae_family();
  for (const std::string likelihood : {"gaussian", "bernoulli", "logistic"}) {
    const nlohmann::json c{{"likelihood", likelihood}, {"conditional", true}, {"classes", 2}};
    const nlohmann::json u{{"likelihood", likelihood}};
    EXPECT_NE(f.explain(c).find("(x|y)"), std::string::npos) << likelihood << f.explain(c);
    EXPECT_EQ(f.explain(u).find("x|y"), std::string::npos) << likelihood << f.explain(u);
    for (const auto& [metric, kind] : f.likelihoods(c))
      EXPECT_NE(kind.find("(x|y)"), std::string::npos) << likelihood << " " << metric << kind;
    for (const auto& [metric, kind] : f.likelihoods(u))
      EXPECT_EQ(kind.find("x|y"), std::string::npos) << likelihood << " " << metric << kind;
  }
}

}  // namespace
}  // namespace deepgen::vi

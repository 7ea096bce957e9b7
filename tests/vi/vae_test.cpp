#include "deepgen/vi/vae.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../support/error_message.h"
#include "deepgen/core/error.h"
#include "deepgen/core/rng.h"
#include "deepgen/data/dataset.h"
#include "deepgen/vi/family.h"
#include "deepgen/vi/gaussian.h"

namespace deepgen::vi {
namespace {

constexpr double kPi = 3.14159265358979323846;

VaeOptions small_options(std::vector<int64_t> shape) {
  return VaeOptions(std::move(shape)).hidden({8}).latent(3).activation("tanh");
}

bool has_name(const std::vector<std::string>& keys, const std::string& name) {
  return std::find(keys.begin(), keys.end(), name) != keys.end();
}

// −ELBO of MATH 1.4 computed by hand, in float64, from the module's own encoder/decoder outputs:
// ||x − f(z)||²/(2σ²) + (D/2) log(2πσ²) and ½Σ(μ² + σ_q² − 1 − log σ_q²).
struct HandElbo {
  at::Tensor recon, kl;
};
HandElbo hand_neg_elbo(Vae& vae, const at::Tensor& x, const at::Tensor& eps) {
  torch::NoGradGuard no_grad;
  auto [mu32, lv32] = vae->encode(x);
  const at::Tensor mu = mu32.to(at::kDouble), lv = lv32.to(at::kDouble);
  const at::Tensor z = mu32 + (0.5 * lv32).exp() * eps;  // the decoder takes the module dtype
  const at::Tensor f = vae->decode(z).to(at::kDouble).reshape({x.size(0), -1});
  const at::Tensor xd = x.to(at::kDouble).reshape({x.size(0), -1});
  const double sigma = vae->log_sigma().exp().item<double>();
  const double d = static_cast<double>(xd.size(1));
  const at::Tensor recon = (xd - f).pow(2).sum(1) / (2.0 * sigma * sigma) +
                           0.5 * d * std::log(2.0 * kPi * sigma * sigma);
  const at::Tensor kl = 0.5 * (mu.pow(2) + lv.exp() - 1.0 - lv).sum(1);
  return {recon, kl};
}

// Relative closeness with an absolute floor for values near zero.
void expect_close(const at::Tensor& got, const at::Tensor& want, double rel, const char* what) {
  const at::Tensor g = got.to(at::kDouble), w = want.to(at::kDouble);
  ASSERT_EQ(g.sizes(), w.sizes()) << what;
  const double err = ((g - w).abs() / (w.abs() + 1.0)).max().item<double>();
  EXPECT_LT(err, rel) << what << "\n got " << g << "\n want " << w;
}

TEST(Vae, NegativeElboMatchesMath14FixedSigma) {
  torch::manual_seed(1);
  Vae vae(small_options({5}).sigma(0.7).mean_activation("identity"));
  const at::Tensor x = torch::randn({4, 5});
  const at::Tensor eps = torch::randn({4, 3});
  const NegElbo t = vae->negative_elbo(x, eps);
  const HandElbo h = hand_neg_elbo(vae, x, eps);
  EXPECT_EQ(t.recon.sizes(), (at::IntArrayRef{4}));
  EXPECT_EQ(t.kl.sizes(), (at::IntArrayRef{4}));
  // float32 module vs a float64 hand computation over ≤ 5 terms: rounding is ~1e-6 relative,
  // so 1e-4 (relative, absolute floor 1) is a safe bound that still catches any wrong term.
  expect_close(t.recon, h.recon, 1e-4, "recon");
  expect_close(t.kl, h.kl, 1e-4, "kl");
  expect_close(t.total(), h.recon + h.kl, 1e-4, "total");
  // The eps actually matters: another eps gives another reconstruction term.
  const NegElbo other = vae->negative_elbo(x, eps + 1.0);
  EXPECT_GT((other.recon - t.recon).abs().max().item<double>(), 1e-3);
  EXPECT_TRUE(other.kl.equal(t.kl));  // the closed-form KL does not depend on eps
}

TEST(Vae, NegativeElboMatchesMath14LearnedSigmaImages) {
  torch::manual_seed(2);
  // Image-shaped data through the sigmoid mean; σ learned (started at 0.3).
  Vae vae(small_options({1, 3, 3}).sigma(0.0).sigma_init(0.3));
  EXPECT_NEAR(vae->log_sigma().item<double>(), std::log(0.3), 1e-6);
  const at::Tensor x = torch::rand({6, 1, 3, 3});
  const at::Tensor eps = torch::randn({6, 3});
  const NegElbo t = vae->negative_elbo(x, eps);
  const HandElbo h = hand_neg_elbo(vae, x, eps);
  expect_close(t.recon, h.recon, 1e-4, "recon");  // same float32-vs-float64 bound as above
  expect_close(t.kl, h.kl, 1e-4, "kl");
  const at::Tensor mean = vae->decode(torch::randn({6, 3}));
  EXPECT_EQ(mean.sizes(), x.sizes());
  EXPECT_GE(mean.min().item<float>(), 0.0f);  // sigmoid mean
  EXPECT_LE(mean.max().item<float>(), 1.0f);
}

TEST(Vae, DefaultEpsIsDrawnFromTheGlobalGenerator) {
  torch::manual_seed(3);
  Vae vae(small_options({5}).sigma(0.5).mean_activation("identity"));
  const at::Tensor x = torch::randn({4, 5});
  torch::manual_seed(99);
  const NegElbo drawn = vae->negative_elbo(x);
  torch::manual_seed(99);
  const NegElbo given = vae->negative_elbo(x, torch::randn({4, 3}));
  EXPECT_TRUE(drawn.recon.equal(given.recon));
  EXPECT_TRUE(drawn.kl.equal(given.kl));
}

TEST(Vae, BernoulliReconIsBceWithLogitsSum) {
  torch::manual_seed(4);
  Vae vae(small_options({1, 4, 4}).likelihood("bernoulli"));
  const at::Tensor x = (torch::rand({5, 1, 4, 4}) > 0.5).to(at::kFloat);
  const at::Tensor eps = torch::randn({5, 3});
  const NegElbo t = vae->negative_elbo(x, eps);
  torch::NoGradGuard no_grad;
  auto [mu, lv] = vae->encode(x);
  const at::Tensor logits = vae->decode(mu + (0.5 * lv).exp() * eps);
  // The Bernoulli decoder output is raw logits: no sigmoid, even with mean_activation=sigmoid.
  EXPECT_LT(logits.min().item<float>(), 0.0f);
  const at::Tensor bce =
      torch::binary_cross_entropy_with_logits(logits, x, {}, {}, at::Reduction::None)
          .reshape({5, -1})
          .sum(1);
  expect_close(t.recon, bce, 1e-5, "bernoulli recon");  // float32, 16 terms: 1e-5 relative
  const at::Tensor kl = 0.5 * (mu.pow(2) + lv.exp() - 1.0 - lv).sum(1);
  expect_close(t.kl, kl, 1e-5, "bernoulli kl");
}

TEST(Vae, FixedSigmaIsBufferLearnedSigmaIsTrainedParameter) {
  torch::manual_seed(5);
  Vae fixed(small_options({4}).sigma(0.7));
  EXPECT_FALSE(has_name(fixed->named_parameters().keys(), "log_sigma"));
  EXPECT_TRUE(has_name(fixed->named_buffers().keys(), "log_sigma"));
  EXPECT_FALSE(fixed->named_buffers()["log_sigma"].requires_grad());
  EXPECT_NEAR(fixed->log_sigma().item<double>(), std::log(0.7), 1e-6);

  Vae learned(small_options({4}).sigma(0.0).sigma_init(0.2).mean_activation("identity"));
  EXPECT_TRUE(has_name(learned->named_parameters().keys(), "log_sigma"));
  EXPECT_FALSE(has_name(learned->named_buffers().keys(), "log_sigma"));
  const at::Tensor x = torch::randn({8, 4});
  const at::Tensor eps = torch::randn({8, 3});
  learned->negative_elbo(x, eps).total().sum().backward();
  const at::Tensor g = learned->named_parameters()["log_sigma"].grad();
  ASSERT_TRUE(g.defined());
  // Analytic: ∂/∂logσ [||r||²/(2σ²) + D logσ + const] = D − ||r||²/σ², summed over the batch.
  torch::NoGradGuard no_grad;
  auto [mu, lv] = learned->encode(x);
  const at::Tensor r2 = (x - learned->decode(mu + (0.5 * lv).exp() * eps)).pow(2).sum(1);
  const double sigma2 = std::pow(learned->log_sigma().exp().item<double>(), 2);
  const double expected = (4.0 - r2.to(at::kDouble) / sigma2).sum().item<double>();
  EXPECT_NE(g.item<double>(), 0.0);
  // float32 sums of O(100) terms: 1e-4 relative.
  EXPECT_NEAR(g.item<double>(), expected, 1e-4 * (std::abs(expected) + 1.0));
}

// Differential entropy of N(0, Σ) in nats: ½ log((2πe)^D det Σ).
double gaussian_entropy(const std::vector<double>& variances) {
  double h = 0;
  for (double v : variances) h += 0.5 * std::log(2.0 * kPi * std::exp(1.0) * v);
  return h;
}

TEST(Vae, TrainingOnGaussianToyLowersBoundAboveDataEntropy) {
  torch::manual_seed(6);
  at::Generator gen = make_generator(123);
  const at::Tensor scale = torch::tensor({2.0f, 0.5f});  // x ~ N(0, diag(4, 0.25))
  auto data = [&](int64_t n) { return at::randn({n, 2}, gen, at::kFloat) * scale; };

  Vae vae(VaeOptions({2})
              .hidden({32})
              .latent(2)
              .activation("tanh")
              .sigma(0.0)
              .sigma_init(0.5)
              .mean_activation("identity"));
  const at::Tensor test = data(20000);
  auto eval = [&](at::Tensor* per_example) {
    torch::NoGradGuard no_grad;
    at::Tensor v = vae->negative_elbo(test).total().to(at::kDouble);
    if (per_example) *per_example = v;
    return v.mean().item<double>();
  };
  const double before = eval(nullptr);

  torch::optim::Adam opt(vae->parameters(), torch::optim::AdamOptions(1e-2));
  for (int step = 0; step < 300; ++step) {
    opt.zero_grad();
    const at::Tensor loss = vae->negative_elbo(data(256)).total().mean();
    loss.backward();
    opt.step();
  }
  at::Tensor per_example;
  const double after = eval(&per_example);
  const double entropy = gaussian_entropy({4.0, 0.25});  // = log(2πe) ≈ 2.838 nats
  const double se = per_example.std().item<double>() / std::sqrt(20000.0);

  RecordProperty("neg_elbo_before", std::to_string(before));
  RecordProperty("neg_elbo_after", std::to_string(after));
  RecordProperty("se", std::to_string(se));
  // Training must reduce the bound substantially.
  EXPECT_LT(after, before - 1.0) << "before " << before << " after " << after;
  // E_data[−ELBO] ≥ E_data[−log p_θ(x)] (cross-entropy) ≥ H(p_data). The test estimate has MC
  // error from both the data and eps draws; 5 standard errors of the per-example mean bound it.
  EXPECT_GE(after, entropy - 5.0 * se) << "entropy " << entropy << " se " << se;
  // And 300 steps get near the optimum (measured ≈ entropy + 0.05; 0.5 leaves room).
  EXPECT_LT(after, entropy + 0.5);
}

TEST(VaeOptionsJson, RoundTripsEveryField) {
  VaeOptions o({1, 28, 28});
  o.hidden({64, 32})
      .latent(7)
      .hidden2({12, 6})
      .activation("silu")
      .likelihood("bernoulli")
      .sigma(0.25)
      .sigma_init(0.05)
      .mean_activation("identity")
      .beta(0.5)
      .binarize("none")
      .architecture("conv")
      .conv_channels({8, 16})
      .inference("svi")
      .num_points(1000)
      .local_lr(0.2)
      .objective("elbo")
      .k(3)
      .kl_warmup(50);
  const std::string text = to_json(o);
  const VaeOptions r = vae_options_from_json(text, {1, 28, 28});
  EXPECT_EQ(r.data_shape(), (std::vector<int64_t>{1, 28, 28}));
  EXPECT_EQ(r.hidden(), (std::vector<int64_t>{64, 32}));
  EXPECT_EQ(r.latent(), 7);
  EXPECT_EQ(r.hidden2(), (std::vector<int64_t>{12, 6}));
  EXPECT_TRUE(r.latents().empty());  // svi takes one layer (VaeLayersOptions.*)
  EXPECT_EQ(r.activation(), "silu");
  EXPECT_EQ(r.likelihood(), "bernoulli");
  EXPECT_EQ(r.sigma(), 0.25);
  EXPECT_EQ(r.sigma_init(), 0.05);
  EXPECT_EQ(r.mean_activation(), "identity");
  EXPECT_EQ(r.beta(), 0.5);
  EXPECT_EQ(r.binarize(), "none");
  EXPECT_EQ(r.architecture(), "conv");
  EXPECT_EQ(r.conv_channels(), (std::vector<int64_t>{8, 16}));
  EXPECT_EQ(r.inference(), "svi");
  EXPECT_EQ(r.num_points(), 1000);
  EXPECT_EQ(r.local_lr(), 0.2);
  EXPECT_EQ(r.k(), 3);
  EXPECT_EQ(r.kl_warmup(), 50);
  EXPECT_EQ(to_json(r), text);
  // Every option is written (nothing silently dropped from config.json): 21 of the model (with
  // conditional and classes) and 6 of its evaluation.
  EXPECT_EQ(nlohmann::json::parse(text).size(), 27u);
}

TEST(VaeOptionsJson, EmptyAndPartialUseDefaults) {
  const VaeOptions d({2});
  const VaeOptions e = vae_options_from_json("", {2});
  EXPECT_EQ(to_json(e), to_json(d));
  EXPECT_EQ(to_json(vae_options_from_json("{}", {2})), to_json(d));
  const VaeOptions p = vae_options_from_json(R"({"latent": 4})", {2});
  EXPECT_EQ(p.latent(), 4);
  EXPECT_EQ(p.hidden(), d.hidden());
}

TEST(VaeOptionsJson, RejectsUnknownKeysAndBadValues) {
  const std::vector<std::string> bad{
      R"({"latnt": 3})",                 // unknown key
      R"({"latent": 0})",                // not positive
      R"({"latent": "four"})",           // wrong type
      R"({"hidden": [16, 0]})",          // non-positive width
      R"({"hidden": 16})",               // wrong type
      R"({"likelihood": "poisson"})",    // unknown likelihood
      R"({"sigma": -0.1})",              // negative σ
      R"({"sigma_init": 0})",            // σ init must be positive
      R"({"mean_activation": "relu"})",  // only sigmoid | identity
      R"({"beta": -1})",                 // negative β
      R"({"binarize": true})",           // wrong type
      R"({"latent": 3)",                 // malformed JSON
      R"([1, 2])",                       // not an object
  };
  for (const auto& text : bad) EXPECT_THROW(vae_options_from_json(text, {2}), Error) << text;
  EXPECT_THROW(vae_options_from_json("{}", {}), Error);      // empty data shape
  EXPECT_THROW(vae_options_from_json("{}", {2, 0}), Error);  // zero-sized data shape
  // The error names the offending key.
  try {
    vae_options_from_json(R"({"latnt": 3})", {2});
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("latnt"), std::string::npos) << e.what();
  }
  // An unknown activation is rejected by the parser, before any model is built.
  try {
    vae_options_from_json(R"({"activation": "gelu"})", {2});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("gelu"), std::string::npos) << e.what();
  }
}

TEST(VaeModel, SampleShapesAndNoiseModel) {
  const int64_t n = 5;
  {
    torch::manual_seed(7);
    VaeModel images(small_options({1, 4, 4}));
    EXPECT_EQ(images.name(), "vae");
    torch::manual_seed(8);
    const at::Tensor s = images.sample(n);
    EXPECT_EQ(s.sizes(), (at::IntArrayRef{n, 1, 4, 4}));
    // Images: the decoder mean of z ~ N(0, I), no pixel noise.
    torch::manual_seed(8);
    const at::Tensor mean = images.vae()->decode(torch::randn({n, 3}));
    EXPECT_TRUE(s.equal(mean));
  }
  {
    torch::manual_seed(9);
    VaeModel bern(small_options({1, 4, 4}).likelihood("bernoulli"));
    const at::Tensor s = bern.sample(n);
    EXPECT_EQ(s.sizes(), (at::IntArrayRef{n, 1, 4, 4}));
    EXPECT_GE(s.min().item<float>(), 0.0f);  // probabilities
    EXPECT_LE(s.max().item<float>(), 1.0f);
  }
  {
    torch::manual_seed(10);
    VaeModel points(small_options({2}).sigma(0.5).mean_activation("identity"));
    torch::manual_seed(11);
    const at::Tensor s = points.sample(n);
    EXPECT_EQ(s.sizes(), (at::IntArrayRef{n, 2}));
    // Other data: x = f(z) + σ·noise, with z then noise drawn from the global generator.
    torch::manual_seed(11);
    const at::Tensor mean = points.vae()->decode(torch::randn({n, 3}));
    const at::Tensor noise = torch::randn_like(mean);
    EXPECT_LT((s - (mean + 0.5 * noise)).abs().max().item<float>(), 1e-5f);  // float32 rounding
    EXPECT_GT((s - mean).abs().max().item<float>(), 1e-3f);
  }
}

TEST(VaeModel, ReconstructIsDecoderMeanAtPosteriorMean) {
  torch::manual_seed(12);
  VaeModel m(small_options({1, 4, 4}));
  const at::Tensor x = torch::rand({3, 1, 4, 4});
  const at::Tensor r = m.reconstruct(x);
  EXPECT_EQ(r.sizes(), x.sizes());
  EXPECT_TRUE(r.equal(m.vae()->decode(m.vae()->encode(x).first)));

  torch::manual_seed(13);
  VaeModel b(small_options({1, 4, 4}).likelihood("bernoulli"));
  const at::Tensor rb = b.reconstruct(x);
  EXPECT_EQ(rb.sizes(), x.sizes());
  EXPECT_TRUE(rb.allclose(torch::sigmoid(b.vae()->decode(b.vae()->encode(x).first))));
}

TEST(VaeModel, LossWeightsKlByBetaEvaluateDoesNot) {
  torch::manual_seed(14);
  VaeModel m(small_options({3}).sigma(0.5).mean_activation("identity").beta(0.25));
  const at::Tensor x = torch::randn({16, 3});
  torch::manual_seed(15);
  const train::LossOutput loss = m.loss(x);
  torch::manual_seed(15);
  const NegElbo t = m.vae()->negative_elbo(x);
  const double recon = t.recon.mean().item<double>(), kl = t.kl.mean().item<double>();
  EXPECT_NEAR(loss.loss.item<double>(), recon + 0.25 * kl, 1e-5 * (std::abs(recon) + 1));
  ASSERT_GE(loss.parts.size(), 2u);
  EXPECT_EQ(loss.parts[0].first, "recon");
  EXPECT_EQ(loss.parts[1].first, "kl");
  torch::manual_seed(15);
  const train::LossOutput ev = m.evaluate(x);
  EXPECT_NEAR(ev.loss.item<double>(), recon + kl, 1e-5 * (std::abs(recon) + 1));  // β not used
  EXPECT_GT(kl, 1e-3);  // so the two checks above distinguish β = 0.25 from β = 1
}

// The value of the evaluation part `name` (fails the test when it is missing).
double part(const train::LossOutput& out, const std::string& name) {
  for (const auto& [k, v] : out.parts)
    if (k == name) return v.item<double>();
  ADD_FAILURE() << "no part " << name;
  return std::nan("");
}

bool has_part(const train::LossOutput& out, const std::string& name) {
  for (const auto& [k, v] : out.parts)
    if (k == name) return true;
  return false;
}

TEST(Vae, LogisticReconIsMinusTheSummedDiscretizedLogisticLogProb) {
  torch::manual_seed(16);
  Vae vae(small_options({2, 4, 4}).likelihood("logistic"));
  // The learned σ of the Gaussian decoder would get no gradient here: it is not a parameter.
  EXPECT_FALSE(has_name(vae->named_parameters().keys(), "log_sigma"));
  const at::Tensor x = torch::randint(0, 256, {5, 2, 4, 4}).to(at::kFloat) / 255;
  const at::Tensor eps = torch::randn({5, 3});
  const NegElbo t = vae->negative_elbo(x, eps);
  torch::NoGradGuard no_grad;
  auto [mu, lv] = vae->encode(x);
  const at::Tensor decoded = vae->decode(mu + (0.5 * lv).exp() * eps);
  EXPECT_EQ(decoded.sizes(), (at::IntArrayRef{5, 4, 4, 4}));  // 2C channels: means, log-scales
  auto [mean, log_scale] = split_logistic(decoded);
  EXPECT_EQ(mean.sizes(), x.sizes());
  const at::Tensor want =
      -discretized_logistic_log_prob(x, mean, log_scale).reshape({5, -1}).sum(1);
  expect_close(t.recon, want, 1e-5, "logistic recon");  // float32, 32 terms: 1e-5 relative
  // −log P(k) of a discrete pixel is ≥ 0, so the reconstruction term is too (unlike a density's).
  EXPECT_GE(t.recon.min().item<float>(), 0.0f);
}

TEST(Vae, LogisticLogScaleHasPixelCnnFloor) {
  torch::manual_seed(17);
  Vae vae(small_options({1, 4, 4}).likelihood("logistic"));
  // Push every log-scale output far below the floor: the last decoder layer's bias for the
  // second half of its outputs (tanh hidden units and small weights move it by < 2).
  at::Tensor bias = vae->named_parameters()["decoder.layers.1.bias"];
  {
    torch::NoGradGuard no_grad;
    bias.slice(0, 16, 32).fill_(-30.0);
  }
  const at::Tensor log_scale = split_logistic(vae->decode(torch::randn({6, 3}))).second;
  // PixelCNN++'s −7 on pixels in [−1, 1] is −7 − ln 2 on pixels in [0, 1].
  const float floor = static_cast<float>(-7.0 - std::log(2.0));
  EXPECT_FLOAT_EQ(log_scale.min().item<float>(), floor);
  EXPECT_FLOAT_EQ(log_scale.max().item<float>(), floor);
}

TEST(Vae, LogisticLogWeightsAreTheJointOverQThroughLogLikelihood) {
  torch::manual_seed(18);
  Vae vae(small_options({1, 4, 4}).likelihood("logistic"));
  const at::Tensor x = torch::randint(0, 256, {3, 1, 4, 4}).to(at::kFloat) / 255;
  torch::NoGradGuard no_grad;
  auto [mu, lv] = vae->encode(x);
  const int64_t k = 7;
  torch::manual_seed(19);
  const at::Tensor w = vae->log_weights(x, mu, lv, k);
  ASSERT_EQ(w.sizes(), (at::IntArrayRef{k, 3}));
  // The same draws z = mu + σ·eps (eps (k, B, latent) from the same seed), summed by hand.
  torch::manual_seed(19);
  const at::Tensor z = mu + (0.5 * lv).exp() * torch::randn({k, 3, 3});
  const at::Tensor xs = x.unsqueeze(0).expand({k, 3, 1, 4, 4}).reshape({k * 3, 1, 4, 4});
  const at::Tensor ll = vae->log_likelihood(xs, vae->decode(z.reshape({k * 3, 3}))).reshape({k, 3});
  const at::Tensor log_prior = (-0.5 * (z.pow(2) + std::log(2 * kPi))).sum(-1);
  const at::Tensor log_q = (-0.5 * ((z - mu).pow(2) / lv.exp() + lv + std::log(2 * kPi))).sum(-1);
  expect_close(w, ll + log_prior - log_q, 1e-5, "log weights");  // float32, ~20 terms
}

// Small 8-bit images: one of four 8x8 strokes at a random brightness on a grey background,
// rounded to k/255. Grey, away from the open edge bins: there a decoder that has learned nothing
// (μ ≈ ½, s ≈ 1) gives each level about σ'(0)/255 = 1/1020, 10 bits, worse than uniform's 8.
at::Tensor stroke_images(int64_t n, at::Generator& gen) {
  at::Tensor proto = torch::zeros({4, 8, 8});
  proto[0].slice(0, 3, 5).fill_(1.0);                        // horizontal bar
  proto[1].slice(1, 3, 5).fill_(1.0);                        // vertical bar
  proto[2].copy_(torch::eye(8) + torch::eye(8).roll(1, 1));  // diagonal
  proto[3].slice(0, 2, 6).slice(1, 2, 6).fill_(1.0);         // square
  const at::Tensor which = at::randint(0, 4, {n}, gen);
  const at::Tensor bright = at::rand({n, 1, 1}, gen, at::kFloat) * 0.25 + 0.25;
  const at::Tensor img = 0.25 + proto.index_select(0, which).clamp(0, 1) * bright;
  return (img * 255).round().div(255).unsqueeze(1);
}

TEST(VaeModel, LogisticVaeLearnsSmall8BitImagesBelow8BitsPerDim) {
  torch::manual_seed(20);
  at::Generator gen = make_generator(321);
  const at::Tensor train = stroke_images(1024, gen), test = stroke_images(256, gen);
  VaeOptions o = VaeOptions({1, 8, 8}).hidden({64}).latent(4).likelihood("logistic");
  o.eval().iwae_k = 20;
  VaeModel m(o);
  const double d_ln2 = 64 * std::log(2.0);
  auto evaluate = [&] {
    torch::NoGradGuard no_grad;
    return m.evaluate(test);
  };
  const train::LossOutput before = evaluate();
  torch::optim::Adam opt(m.vae()->parameters(), torch::optim::AdamOptions(1e-2));
  for (int step = 0; step < 400; ++step) {
    const at::Tensor batch = train.index_select(0, at::randint(0, 1024, {64}, gen));
    opt.zero_grad();
    m.loss(batch).loss.backward();
    opt.step();
  }
  const train::LossOutput after = evaluate();
  const double bpd = part(after, "bpd"), iwae_bpd = part(after, "iwae_bpd");
  RecordProperty("bpd_before", std::to_string(part(before, "bpd")));
  RecordProperty("bpd_after", std::to_string(bpd));
  RecordProperty("iwae_bpd_after", std::to_string(iwae_bpd));
  // A uniform guess over the 256 levels is 8 bits/dim; the untrained decoder is worse (see
  // stroke_images), and training must beat uniform.
  EXPECT_GT(part(before, "bpd"), 8.0);
  // Measured: 10.06 before, 3.52 after (IWAE-20: 3.42).
  EXPECT_LT(bpd, 8.0) << "neg_elbo " << part(after, "neg_elbo");
  // The parts are the nats bounds per bit and pixel: the same float32 scalars divided by
  // D ln 2, so they agree to float32 rounding (1e-6 relative).
  EXPECT_NEAR(bpd, part(after, "neg_elbo") / d_ln2, 1e-6 * bpd);
  EXPECT_NEAR(iwae_bpd, part(after, "iwae_nll") / d_ln2, 1e-6 * iwae_bpd);
  EXPECT_NEAR(after.loss.item<double>(), part(after, "neg_elbo"), 1e-6 * std::abs(bpd * d_ln2));
  // IWAE-20 is the tighter bound; its one-sample ELBO partner is noisy over 256 images, so it
  // need only not exceed it by more than 0.05 bits/dim.
  EXPECT_LT(iwae_bpd, bpd + 0.05);
}

TEST(VaeModel, BitsPerDimAreReportedOnlyForTheDiscreteLogisticDecoder) {
  torch::manual_seed(24);
  VaeModel gauss(small_options({1, 4, 4}));
  gauss.eval_options().iwae_k = 3;
  const at::Tensor x = torch::randint(0, 256, {4, 1, 4, 4}).to(at::kFloat) / 255;
  torch::NoGradGuard no_grad;
  const train::LossOutput g = gauss.evaluate(x);
  EXPECT_TRUE(has_part(g, "iwae_nll"));
  EXPECT_FALSE(has_part(g, "bpd"));  // a density's −ELBO is no bound on a probability
  EXPECT_FALSE(has_part(g, "iwae_bpd"));
  VaeModel logistic(small_options({1, 4, 4}).likelihood("logistic"));
  const train::LossOutput l = logistic.evaluate(x);
  EXPECT_TRUE(has_part(l, "bpd"));
  EXPECT_FALSE(has_part(l, "iwae_bpd"));  // iwae_k = 0: no IWAE bound to convert
  // The family labels them for eval: upper bounds, in bits per dimension.
  const auto kinds = vae_family().likelihoods({{"likelihood", "logistic"}});
  ASSERT_EQ(kinds.count("bpd"), 1u);
  ASSERT_EQ(kinds.count("iwae_bpd"), 1u);
  EXPECT_NE(kinds.at("bpd").find("upper bound"), std::string::npos) << kinds.at("bpd");
  EXPECT_NE(kinds.at("neg_elbo").find("8-bit"), std::string::npos) << kinds.at("neg_elbo");
  EXPECT_EQ(vae_family().likelihoods({{"likelihood", "gaussian"}}).count("bpd"), 0u);
}

TEST(VaeModel, LogisticSamplesAndReconstructionsAreTheClampedMeans) {
  torch::manual_seed(25);
  // μ is unconstrained, so the clamp to [0, 1] is what keeps pictures in range.
  VaeModel m(small_options({1, 4, 4}).likelihood("logistic"));
  torch::NoGradGuard no_grad;
  torch::manual_seed(26);
  const at::Tensor s = m.sample(50);
  torch::manual_seed(26);
  const at::Tensor mean = split_logistic(m.vae()->decode(torch::randn({50, 3}))).first;
  EXPECT_EQ(s.sizes(), (at::IntArrayRef{50, 1, 4, 4}));
  EXPECT_TRUE(s.equal(mean.clamp(0, 1)));
  EXPECT_TRUE((mean < 0).any().item<bool>() || (mean > 1).any().item<bool>());  // clamp matters
  const at::Tensor x = torch::randint(0, 256, {3, 1, 4, 4}).to(at::kFloat) / 255;
  const at::Tensor r = m.reconstruct(x);
  EXPECT_EQ(r.sizes(), x.sizes());
  EXPECT_TRUE(r.equal(split_logistic(m.vae()->decode(m.vae()->encode(x).first)).first.clamp(0, 1)));
}

// A training set as the run layer hands it over.
data::Dataset dataset(const at::Tensor& x, data::Kind kind) {
  data::Dataset d;
  d.name = "set/train";
  d.kind = kind;
  d.x = x;
  return d;
}

// The family's adapt: what `deepgen train vae --likelihood logistic` runs on the training set.
std::string adapt_error(const data::Dataset& train) {
  nlohmann::json given = {{"likelihood", "logistic"}};
  train::TrainOptions trainer;
  return testing::error_message([&] { vae_family().adapt(given, train, trainer); });
}

TEST(VaeOptionsLogistic, RefusedOnAnythingButEightBitImages) {
  const std::string name = "`vae.likelihood`";
  // Points: the options alone, and the training set.
  const std::string options =
      testing::error_message([] { vae_options_from_json(R"({"likelihood": "logistic"})", {2}); });
  EXPECT_NE(options.find(name), std::string::npos) << options;
  EXPECT_EQ(options.find('\n'), std::string::npos) << options;  // one line
  const std::string points = adapt_error(dataset(torch::randn({10, 2}), data::Kind::points));
  EXPECT_NE(points.find(name + " logistic models 8-bit image pixels"), std::string::npos) << points;
  EXPECT_NE(points.find("gaussian"), std::string::npos) << points;  // the fix
  EXPECT_EQ(points.find('\n'), std::string::npos) << points;
  // Images off the k/255 grid (resized), half a level off.
  const at::Tensor bytes = torch::randint(0, 256, {6, 1, 4, 4}).to(at::kByte);
  const at::Tensor off = (bytes.to(at::kFloat) + 0.5) / 255;
  const std::string resized = adapt_error(dataset(off, data::Kind::image));
  EXPECT_NE(resized.find(name + " logistic models 8-bit pixels k/255"), std::string::npos)
      << resized;
  EXPECT_EQ(resized.find('\n'), std::string::npos) << resized;
  // 8-bit images, as bytes or as float32 k/255, pass.
  EXPECT_EQ(adapt_error(dataset(bytes, data::Kind::image)), "(no deepgen::Error thrown)");
  EXPECT_EQ(adapt_error(dataset(bytes.to(at::kFloat) / 255, data::Kind::image)),
            "(no deepgen::Error thrown)");
}

}  // namespace
}  // namespace deepgen::vi

// The VAE with several stochastic layers (`latents`; Burda et al. 2016 §5, App. C): MATH 1.4 with
// two stochastic layers, its IWAE bound, and that the default one-layer model is unchanged.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "../support/error_message.h"
#include "deepgen/core/error.h"
#include "deepgen/core/rng.h"
#include "deepgen/vi/bounds.h"
#include "deepgen/vi/family.h"
#include "deepgen/vi/gaussian.h"
#include "deepgen/vi/vae.h"
#include "vi/vae_fixtures.h"

namespace deepgen::vi {
namespace {

constexpr double kLogTwoPi = 1.8378770664093453;

using deepgen::testing::parameters;

TEST(VaeLayers, DefaultModelIsUnchanged) {
  // Recorded from the code before `latents` existed (commit 19d9712) with the same seeds and
  // data. The losses are float32 values, printed then to 9 digits (enough to tell any two
  // float32s apart) and equal to these 17-digit ones now, so 1e-6 fails on any change to the
  // one-layer model's layout, initialisation, random draws or arithmetic.
  at::Generator gen = make_generator(5);
  const at::Tensor xb = (at::rand({6, 1, 4, 4}, gen, at::kFloat) > 0.5).to(at::kFloat);
  const at::Tensor xp = at::randn({6, 5}, gen, at::kFloat);
  const at::Tensor x8 = at::randint(0, 256, {6, 1, 8, 8}, gen).to(at::kFloat) / 255;
  const std::string mlp_names =
      "log_sigma,encoder.layers.0.weight,encoder.layers.0.bias,encoder.layers.1.weight,"
      "encoder.layers.1.bias,decoder.layers.0.weight,decoder.layers.0.bias,decoder.layers.1."
      "weight,decoder.layers.1.bias,";
  {
    torch::manual_seed(31);
    VaeModel m(
        VaeOptions({1, 4, 4}).hidden({8}).latent(3).activation("tanh").likelihood("bernoulli"));
    EXPECT_EQ(parameters(m), std::make_pair(mlp_names, int64_t{367}));
    torch::manual_seed(32);
    EXPECT_NEAR(m.loss(xb).loss.item<double>(), 11.623302459716797, 1e-6);
    m.eval_options().iwae_k = 7;
    torch::manual_seed(33);
    torch::NoGradGuard no_grad;
    const train::LossOutput e = m.evaluate(xb);
    ASSERT_EQ(e.parts.size(), 4u);
    EXPECT_NEAR(e.parts[0].second.item<double>(), 11.509401321411133, 1e-6);   // neg_elbo
    EXPECT_NEAR(e.parts[2].second.item<double>(), 0.39262309670448303, 1e-6);  // kl
    EXPECT_NEAR(e.parts[3].second.item<double>(), 10.926789283752441, 1e-6);   // iwae_nll
  }
  {
    torch::manual_seed(34);
    VaeModel m(VaeOptions({5})
                   .hidden({8, 6})
                   .latent(2)
                   .mean_activation("identity")
                   .objective("iwae")
                   .k(4));
    EXPECT_EQ(parameters(m).second, 250);
    torch::manual_seed(35);
    EXPECT_NEAR(m.loss(xp).loss.item<double>(), 180.93647766113281, 1e-6);
  }
  {
    torch::manual_seed(36);
    VaeModel m(
        VaeOptions({1, 8, 8}).architecture("conv").conv_channels({4, 8}).latent(3).likelihood(
            "logistic"));
    EXPECT_EQ(parameters(m).second, 1560);
    torch::manual_seed(37);
    EXPECT_NEAR(m.loss(x8).loss.item<double>(), 442.30841064453125, 1e-6);
    torch::manual_seed(38);
    EXPECT_NEAR(m.sample(3).sum().item<double>(), 0.2147558182477951, 1e-6);
  }
  // An old run's config.json has neither key: the defaults are the one-layer model.
  const VaeOptions old = vae_options_from_json(R"({"latent": 3, "hidden": [8]})", {1, 4, 4});
  EXPECT_TRUE(old.latents().empty());
  EXPECT_EQ(latent_sizes(old), (std::vector<int64_t>{3}));
}

// Binarised 8x8 strokes: one of four prototypes (two bars, a diagonal, a square), each pixel then
// flipped with probability 0.05, so H(x) ≥ H(x | prototype) = 64·H_b(0.05) = 12.74 nats.
at::Tensor binary_strokes(int64_t n, at::Generator& gen) {
  at::Tensor proto = torch::zeros({4, 8, 8});
  proto[0].slice(0, 3, 5).fill_(1.0);
  proto[1].slice(1, 3, 5).fill_(1.0);
  proto[2].copy_(torch::eye(8) + torch::eye(8).roll(1, 1));
  proto[3].slice(0, 2, 6).slice(1, 2, 6).fill_(1.0);
  const at::Tensor clean = proto.index_select(0, at::randint(0, 4, {n}, gen)).clamp(0, 1);
  const at::Tensor flip = (at::rand({n, 8, 8}, gen, at::kFloat) < 0.05).to(at::kFloat);
  return (clean + flip).remainder(2.0).unsqueeze(1);
}

// A small two-layer model: x → 32 → h1 (8) → 16 → h2 (4), Bernoulli on binary pixels.
VaeOptions two_layers(std::vector<int64_t> shape) {
  return VaeOptions(std::move(shape))
      .hidden({32})
      .latents({8, 4})
      .hidden2({16})
      .activation("tanh")
      .likelihood("bernoulli")
      .binarize("none");
}

double average(const at::Tensor& t) { return t.to(at::kDouble).mean().item<double>(); }
// Standard error of the batch mean of per-example values.
double standard_error(const at::Tensor& t) {
  return t.to(at::kDouble).std().item<double>() / std::sqrt(static_cast<double>(t.numel()));
}

TEST(VaeLayers, IwaeBoundSitsAboveTheElboAndRisesWithK) {
  torch::manual_seed(41);
  at::Generator gen = make_generator(42);
  const at::Tensor x = binary_strokes(256, gen);
  VaeModel m(two_layers({1, 8, 8}));
  Vae& vae = m.vae();
  torch::NoGradGuard no_grad;
  auto [mu, lv] = vae->encode(x);
  // K = 1 is the ELBO draw for draw: one seed gives the same h1, h2 to both. float32 sums of ~80
  // terms, grouped differently (ll + log p − log q against −(−ll + (log q − log p))): 1e-5.
  torch::manual_seed(43);
  const at::Tensor w1 = vae->log_weights(x, mu, lv, 1);
  torch::manual_seed(43);
  const at::Tensor elbo1 = -vae->negative_elbo(x, mu, lv, 1).total();
  ASSERT_EQ(w1.sizes(), (at::IntArrayRef{1, 256}));
  EXPECT_LT(((w1[0] - elbo1).abs() / (elbo1.abs() + 1)).max().item<double>(), 1e-5);

  // The ELBO per example, averaged over 2000 draws; then IWAE-K per example, chunked by 7.
  torch::manual_seed(44);
  const at::Tensor elbo = vae->log_weights(x, mu, lv, 2000).mean(0);
  auto weights = [&](int64_t n) { return vae->log_weights(x, mu, lv, n); };
  std::vector<at::Tensor> bound;
  const std::vector<int64_t> ks{1, 5, 50, 500};
  for (int64_t k : ks) bound.push_back(iwae_bound(weights, k, 7));
  for (size_t i = 0; i < ks.size(); ++i)
    RecordProperty("iwae_" + std::to_string(ks[i]), std::to_string(average(bound[i])));
  RecordProperty("elbo", std::to_string(average(elbo)));
  // E[IWAE-1] = ELBO: within 4 standard errors of the per-example differences.
  EXPECT_NEAR(average(bound[0]), average(elbo), 4 * standard_error(bound[0] - elbo));
  // E[IWAE-K] rises with K (Burda et al. Theorem 1): each step may fall by Monte-Carlo noise
  // only, 4 standard errors of the per-example differences (which also hold the spread of the
  // true per-example gains, so the allowance is conservative).
  for (size_t i = 1; i < ks.size(); ++i)
    EXPECT_GT(average(bound[i] - bound[i - 1]), -4 * standard_error(bound[i] - bound[i - 1]))
        << "K " << ks[i - 1] << " -> " << ks[i];
  // And K = 50 is above the ELBO by far more than that noise on this untrained model.
  const at::Tensor gain = bound[2] - elbo;
  // Measured: ELBO −46.14, IWAE-1 −45.98, IWAE-5 −44.86, IWAE-50 −44.30, IWAE-500 −44.26 nats.
  EXPECT_GT(average(gain), 10 * standard_error(gain)) << average(gain);

  // The evaluation path: iwae_nll is −IWAE-K in chunks of iwae_rows / B rows (here 1 sample).
  m.eval_options().iwae_k = 50;
  m.eval_options().iwae_rows = 300;
  torch::manual_seed(45);
  const train::LossOutput e = m.evaluate(x);
  double neg_elbo = 0, iwae_nll = 0;
  for (const auto& [k, v] : e.parts) {
    if (k == "neg_elbo") neg_elbo = v.item<double>();
    if (k == "iwae_nll") iwae_nll = v.item<double>();
  }
  // IWAE-50 against the 2000-draw ELBO and its own K = 50 estimate above (other draws): the
  // per-example spread of bound[2] gives the noise allowance.
  EXPECT_LT(iwae_nll, -average(elbo));
  EXPECT_NEAR(iwae_nll, -average(bound[2]), 4 * standard_error(bound[2]));
  // The one-sample −ELBO of evaluate is an estimate of −average(elbo) (its noise: 4 SE).
  EXPECT_NEAR(neg_elbo, -average(elbo), 4 * standard_error(elbo1));
}

// log N(v; m, e^lv) summed over the last dimension, written out.
at::Tensor normal_log_density(const at::Tensor& v, const at::Tensor& m, const at::Tensor& lv) {
  return (-0.5 * ((v - m).pow(2) / lv.exp() + lv + kLogTwoPi)).sum(-1);
}

TEST(VaeLayers, LogWeightsAreTheFiveLogDensitiesWrittenOut) {
  // log w = log p(x|h1) + log p(h1|h2) + log p(h2) − log q(h1|x) − log q(h2|h1), with the
  // module's own network outputs at the same draws, in float64: only rounding differs (1e-9).
  const int64_t b = 3, k = 4;
  for (const std::string likelihood : {"bernoulli", "gaussian", "logistic"}) {
    SCOPED_TRACE(likelihood);
    torch::manual_seed(61);
    Vae vae(VaeOptions({1, 3, 3})
                .hidden({6})
                .latents({3, 2})
                .hidden2({5})
                .activation("tanh")
                .likelihood(likelihood)
                .sigma(0.4));
    vae->to(at::kDouble);
    const at::Tensor x = likelihood == "bernoulli"
                             ? (torch::rand({b, 1, 3, 3}) > 0.5).to(at::kDouble)
                             : torch::randint(0, 256, {b, 1, 3, 3}).to(at::kDouble) / 255;
    torch::NoGradGuard no_grad;
    auto [mu, lv] = vae->encode(x);
    ASSERT_EQ(mu.scalar_type(), at::kDouble);
    torch::manual_seed(62);
    const at::Tensor w = vae->log_weights(x, mu, lv, k);
    ASSERT_EQ(w.sizes(), (at::IntArrayRef{k, b}));
    // The same draws: eps of h1 (k, B, 3), then eps of h2 (k·B, 2).
    torch::manual_seed(62);
    const at::Tensor h1 = mu + (0.5 * lv).exp() * torch::randn({k, b, 3}, mu.options());
    const at::Tensor h1_rows = h1.reshape({k * b, 3});
    auto [mu2, lv2] = vae->upper_posterior(0, h1_rows);
    const at::Tensor h2 = mu2 + (0.5 * lv2).exp() * torch::randn({k * b, 2}, mu.options());
    auto [p_mu, p_lv] = vae->upper_prior(0, h2);
    const at::Tensor log_q1 = normal_log_density(h1, mu, lv);
    const at::Tensor log_q2 = normal_log_density(h2, mu2, lv2).reshape({k, b});
    const at::Tensor log_p1 = normal_log_density(h1_rows, p_mu, p_lv).reshape({k, b});
    const at::Tensor log_p2 = (-0.5 * (h2.pow(2) + kLogTwoPi)).sum(-1).reshape({k, b});
    const at::Tensor f = vae->decode(h1_rows).reshape({k, b, -1});
    const at::Tensor xs = x.reshape({1, b, -1});
    at::Tensor log_px;
    if (likelihood == "bernoulli") {
      log_px = (xs * f - torch::log1p(f.exp())).sum(-1);
    } else if (likelihood == "gaussian") {
      // σ = 0.4 as the module holds it: stored in float32 before the cast to float64.
      EXPECT_NEAR(vae->log_sigma().item<double>(), std::log(0.4), 1e-7);
      log_px = normal_log_density(xs, f, 2.0 * vae->log_sigma().expand_as(f));
    } else {
      auto [m, log_scale] = split_logistic(f, -1);
      log_px = discretized_logistic_log_prob(xs.expand_as(m), m, log_scale).sum(-1);
    }
    const at::Tensor want = log_px + log_p1 + log_p2 - log_q1 - log_q2;
    EXPECT_LT((w - want).abs().max().item<double>(), 1e-9) << w << want;
    // Each term matters: dropping log q(h2|h1) alone moves the weights by more than 1e-3.
    EXPECT_GT(log_q2.abs().min().item<double>(), 1e-3);
  }
}

TEST(VaeLayers, TrainingLowersTheTestBound) {
  torch::manual_seed(51);
  at::Generator gen = make_generator(52);
  const at::Tensor train = binary_strokes(1024, gen), test = binary_strokes(512, gen);
  VaeOptions o = two_layers({1, 8, 8}).objective("iwae").k(5);
  o.eval().iwae_k = 50;
  VaeModel m(o);
  auto evaluate = [&](int64_t seed, const char* what) {
    torch::NoGradGuard no_grad;
    torch::manual_seed(seed);
    const train::LossOutput out = m.evaluate(test);
    std::pair<double, double> bounds;
    for (const auto& [k, v] : out.parts) {
      if (k == "neg_elbo") bounds.first = v.item<double>();
      if (k == "iwae_nll") bounds.second = v.item<double>();
    }
    RecordProperty(std::string(what) + "_neg_elbo", std::to_string(bounds.first));
    RecordProperty(std::string(what) + "_iwae_nll", std::to_string(bounds.second));
    return bounds;
  };
  const auto before = evaluate(53, "before");
  torch::optim::Adam opt(m.vae()->parameters(), torch::optim::AdamOptions(3e-3));
  for (int step = 0; step < 300; ++step) {
    const at::Tensor batch = train.index_select(0, at::randint(0, 1024, {64}, gen));
    opt.zero_grad();
    m.loss(batch).loss.backward();
    opt.step();
  }
  const auto after = evaluate(53, "after");
  // Untrained: about 64 ln 2 = 44 nats of coin flips plus the KL; measured 46.0 -> 18.4 (IWAE-50
  // 44.4 -> 15.0). Training must take off most of the 30 nats between that and the data's
  // entropy.
  EXPECT_LT(after.first, before.first - 15.0);
  // Never below H(x) ≥ 12.74 nats (binary_strokes); the one-sample −ELBO over 512 images has a
  // standard error under 0.5 nats, so 2 nats of room.
  EXPECT_GT(after.first, 64 * 0.19851524334587 - 2.0);
  EXPECT_GT(after.second, 64 * 0.19851524334587 - 2.0);
  // IWAE-50 is the tighter bound: below the one-sample −ELBO up to that noise.
  EXPECT_LT(after.second, after.first + 0.5);
}

TEST(VaeLayers, SamplesDescendFromTheTopPriorAndReconstructionsUseH1sMean) {
  torch::manual_seed(71);
  VaeModel m(two_layers({1, 4, 4}));
  torch::NoGradGuard no_grad;
  torch::manual_seed(72);
  const at::Tensor s = m.sample(5);
  // h2 ~ N(0, I), h1 ~ p(h1|h2), then the decoder's Bernoulli probabilities at h1.
  torch::manual_seed(72);
  const at::Tensor h2 = torch::randn({5, 4});
  auto [p_mu, p_lv] = m.vae()->upper_prior(0, h2);
  const at::Tensor h1 = p_mu + (0.5 * p_lv).exp() * torch::randn({5, 8});
  EXPECT_EQ(s.sizes(), (at::IntArrayRef{5, 1, 4, 4}));
  EXPECT_LT((s - torch::sigmoid(m.vae()->decode(h1))).abs().max().item<float>(), 1e-6f);
  // h1 is drawn, not p(h1|h2)'s mean: the samples differ from the decoded means.
  EXPECT_GT((s - torch::sigmoid(m.vae()->decode(p_mu))).abs().max().item<float>(), 1e-4f);
  const at::Tensor x = (torch::rand({3, 1, 4, 4}) > 0.5).to(at::kFloat);
  EXPECT_TRUE(m.reconstruct(x).equal(torch::sigmoid(m.vae()->decode(m.vae()->encode(x).first))));
}

TEST(VaeLayers, BurdasTwoLayerArchitectureHasItsParameters) {
  // Burda et al.'s code (experiments.py, two layers): q 784-200-200-100 and 100-100-100-50, p
  // 50-100-100-100 and 100-200-200-784, tanh. Each Gaussian layer outputs (mu, log σ²).
  VaeModel m(VaeOptions({1, 28, 28})
                 .hidden({200, 200})
                 .latents({100, 50})
                 .hidden2({100, 100})
                 .activation("tanh")
                 .likelihood("bernoulli"));
  auto linear = [](int64_t in, int64_t out) { return in * out + out; };
  const int64_t q1 = linear(784, 200) + linear(200, 200) + linear(200, 2 * 100);
  const int64_t q2 = linear(100, 100) + linear(100, 100) + linear(100, 2 * 50);
  const int64_t p1 = linear(50, 100) + linear(100, 100) + linear(100, 2 * 100);
  const int64_t px = linear(100, 200) + linear(200, 200) + linear(200, 784);
  // + the Bernoulli decoder's unused log σ, kept for the checkpoint layout.
  EXPECT_EQ(parameters(m).second, q1 + q2 + p1 + px + 1);
  EXPECT_EQ(m.vae()->depth(), 2);
  const auto names = m.vae()->named_parameters();
  EXPECT_EQ(names["upper_q.0.layers.0.weight"].sizes(), (at::IntArrayRef{100, 100}));
  EXPECT_EQ(names["upper_q.0.layers.2.weight"].sizes(), (at::IntArrayRef{100, 100}));
  EXPECT_EQ(names["upper_p.0.layers.0.weight"].sizes(), (at::IntArrayRef{100, 50}));
  EXPECT_EQ(names["upper_p.0.layers.2.weight"].sizes(), (at::IntArrayRef{200, 100}));
  // The convolutional encoder and decoder serve as the x ↔ h1 part just as well.
  torch::manual_seed(73);
  VaeModel conv(two_layers({1, 8, 8}).architecture("conv").conv_channels({4, 8}));
  const at::Tensor x = (torch::rand({2, 1, 8, 8}) > 0.5).to(at::kFloat);
  EXPECT_EQ(conv.loss(x).loss.dim(), 0);
  EXPECT_EQ(conv.sample(2).sizes(), x.sizes());
}

TEST(VaeLayersOptions, RoundTripAndOneLineErrorsNamingTheOptions) {
  const VaeOptions o = vae_options_from_json(R"({"latents": [100, 50], "hidden2": [64]})", {2});
  EXPECT_EQ(latent_sizes(o), (std::vector<int64_t>{100, 50}));
  EXPECT_EQ(o.hidden2(), (std::vector<int64_t>{64}));
  EXPECT_EQ(to_json(vae_options_from_json(to_json(o), {2})), to_json(o));
  auto error = [](const std::string& json) {
    return testing::error_message([&] { vae_options_from_json(json, {2}); });
  };
  const std::string svi = error(R"({"latents": [4, 2], "inference": "svi", "num_points": 10})");
  EXPECT_NE(svi.find("`vae.latents`"), std::string::npos) << svi;
  EXPECT_NE(svi.find("`vae.inference` amortized"), std::string::npos) << svi;  // the fix
  EXPECT_EQ(svi.find('\n'), std::string::npos) << svi;
  const std::string full = error(R"({"latents": [4, 2], "inference": "full", "num_points": 10})");
  EXPECT_NE(full.find("`vae.latents`"), std::string::npos) << full;
  const std::string gap = error(R"({"latents": [4, 2], "amortization_gap": true})");
  EXPECT_NE(gap.find("`vae.amortization_gap`"), std::string::npos) << gap;
  EXPECT_NE(gap.find("`vae.latents`"), std::string::npos) << gap;
  const std::string one = error(R"({"latents": [4]})");
  EXPECT_NE(one.find("`vae.latents`"), std::string::npos) << one;
  EXPECT_NE(one.find("`vae.latent` 4"), std::string::npos) << one;  // the one-layer spelling
  EXPECT_NE(error(R"({"latents": [4, 0]})").find("latents"), std::string::npos);
  EXPECT_NE(error(R"({"hidden2": [0]})").find("hidden2"), std::string::npos);
  // The same options without latents are fine: the rules are about the layers.
  EXPECT_EQ(error(R"({"inference": "svi", "num_points": 10})"), "(no deepgen::Error thrown)");
}

}  // namespace
}  // namespace deepgen::vi

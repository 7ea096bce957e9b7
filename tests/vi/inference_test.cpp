// Inference modes of the VAE (MATH 1.2, MATH 1.3a, MATH 1.3b), the IWAE weights and the
// amortisation gap, checked against the exact linear-Gaussian model (vi::Ppca) and Pyro's
// subsampling test.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "deepgen/core/error.h"
#include "deepgen/vi/bounds.h"
#include "deepgen/vi/gaussian.h"
#include "deepgen/vi/ppca.h"
#include "deepgen/vi/vae.h"

namespace deepgen::vi {
namespace {

// A VAE whose decoder is linear, x|z ~ N(W z + b, s² I): the PPCA model, so log p(x) and the
// best diagonal q are known in closed form.
VaeOptions linear_options(int64_t dim, int64_t latent, double sigma) {
  return VaeOptions({dim}).hidden({}).latent(latent).sigma(sigma).mean_activation("identity");
}

void set_decoder(Vae& vae, const at::Tensor& w, const at::Tensor& b) {
  torch::NoGradGuard no_grad;
  auto p = vae->named_parameters();
  p["decoder.layers.0.weight"].copy_(w);
  p["decoder.layers.0.bias"].copy_(b);
}

// A VAE with a random linear decoder (σ = 0.5, untrained encoder), its exact PPCA twin, and n
// points drawn from it in float64 (4-D data, 2-D latent).
struct LinearGaussian {
  explicit LinearGaussian(int64_t n)
      : w(torch::randn({4, 2})),
        b(torch::randn({4})),
        model(linear_options(4, 2, 0.5)),
        truth{w.to(torch::kDouble), b.to(torch::kDouble), 0.25} {
    set_decoder(model.vae(), w, b);
    x = truth.b + torch::randn({n, 2}, torch::kDouble).matmul(truth.w.t()) +
        0.5 * torch::randn({n, 4}, torch::kDouble);
  }
  at::Tensor w, b;
  VaeModel model;
  Ppca truth;
  at::Tensor x;
};

// Pyro's test_subsample_gradient (tests/infer/test_gradient.py): data [−0.5, 2], z_i ~ N(0, 1),
// x_i ~ N(z_i, 1), q_i = N(loc_i, scale²) with loc 0 and one shared scale 1. The gradient of
// the full-data −ELBO is −x_i for loc_i and Σ_i (s + s − 1/s) = 2 for the scale; a minibatch
// estimate scaled by N/B (MATH 1.3a) and averaged over the minibatches of a pass must match it.
void expect_pyro_gradients(int64_t batch) {
  torch::manual_seed(11);
  const int64_t n = 2;
  VaeModel model(linear_options(1, 1, 1.0).inference("svi").num_points(n));
  set_decoder(model.vae(), torch::ones({1, 1}), torch::zeros({1}));
  const at::Tensor data = torch::tensor({-0.5f, 2.0f}).reshape({2, 1});
  const int reps = 3000;
  at::Tensor loc_grad = torch::zeros({n}, torch::kDouble);
  double scale_grad = 0.0;
  for (int r = 0; r < reps; ++r) {
    for (int64_t start = 0; start < n; start += batch) {
      const at::Tensor index = torch::arange(start, start + batch);
      const train::LossOutput out = model.train_loss({data.index_select(0, index), index, 0});
      (out.loss * static_cast<double>(n)).backward();  // N·mean = (N/B)·Σ_batch: Pyro's loss
      const at::Tensor g = model.vae()->local()->gathered().grad().to(torch::kDouble);
      const double passes = static_cast<double>(n / batch);  // Pyro's `normalizer`
      loc_grad.index_add_(0, index, g.select(1, 0) / passes);
      // log σ² = 2 log s for every point, so ∂/∂s = Σ_i ∂/∂(log σ²_i) · 2/s at s = 1.
      scale_grad += 2.0 * g.select(1, 1).sum().item<double>() / passes;
    }
  }
  loc_grad /= reps;
  scale_grad /= reps;
  // Per-sample noise: std 1 for each loc, about 3 for the scale; over 3000 passes the means'
  // std is 0.018 and 0.055, so 0.09 and 0.27 are 5 standard errors. A missing N/B factor would
  // halve the batch-of-one gradients: 0.25 off for loc_0, 1 off for the scale.
  EXPECT_NEAR(loc_grad[0].item<double>(), 0.5, 0.09) << "batch " << batch;
  EXPECT_NEAR(loc_grad[1].item<double>(), -2.0, 0.09) << "batch " << batch;
  EXPECT_NEAR(scale_grad, 2.0, 0.27) << "batch " << batch;
}

TEST(Inference, SviGradientsMatchPyroSubsampleTestFullBatch) { expect_pyro_gradients(2); }

TEST(Inference, SviGradientsMatchPyroSubsampleTestBatchOfOne) { expect_pyro_gradients(1); }

TEST(Inference, SviStepTouchesOnlyTheBatchRows) {
  torch::manual_seed(12);
  VaeModel model(linear_options(3, 2, 0.5).inference("svi").num_points(5));
  const at::Tensor x = torch::randn({2, 3});
  const at::Tensor index = torch::tensor({3, 1}, torch::kInt64);
  const train::TrainBatch batch{x, index, 0};
  model.train_loss(batch).loss.backward();
  model.after_step(batch);
  auto buffers = model.vae()->named_buffers();
  const at::Tensor psi = buffers["local.psi"], steps = buffers["local.steps"];
  const at::Tensor moved = psi.abs().sum(1) > 0;
  EXPECT_TRUE(moved.equal(torch::tensor({false, true, false, true, false})));
  EXPECT_TRUE(steps.equal(torch::tensor({0, 1, 0, 1, 0}, torch::kInt64)));
  EXPECT_EQ(
      buffers["local.exp_avg"].index_select(0, torch::tensor({0, 2, 4})).abs().sum().item<double>(),
      0.0);
  // Adam's first step moves every coordinate by lr (bias-corrected m/√v = ±1).
  EXPECT_NEAR(psi.index_select(0, index).abs().max().item<double>(), 0.05, 1e-6);
  EXPECT_FALSE(model.vae()->local()->gathered().defined());
}

// MATH 1.2: full-batch per-example ψ_i (variational EM) and no encoder.
TEST(Inference, FullInferenceDemandsTheWholeSetEachStep) {
  VaeModel model(linear_options(3, 2, 0.5).inference("full").num_points(4));
  const at::Tensor x = torch::randn({2, 3});
  EXPECT_THROW(model.train_loss({x, torch::tensor({0, 1}, torch::kInt64), 0}), Error);
  EXPECT_NO_THROW(model.train_loss({torch::randn({4, 3}), torch::arange(4), 0}));
  // No encoder: per-example inference cannot encode.
  EXPECT_THROW(model.vae()->encode(x), Error);
  EXPECT_THROW(VaeModel(linear_options(3, 2, 0.5).inference("svi")), Error);  // no num_points
  EXPECT_THROW(VaeModel(linear_options(3, 2, 0.5).inference("lazy").num_points(3)), Error);
}

TEST(Inference, SviTrainingRaisesTheElboOfItsRows) {
  torch::manual_seed(13);
  const int64_t n = 64;
  VaeModel model(linear_options(4, 2, 0.3).inference("svi").num_points(n).local_lr(0.05));
  const at::Tensor data = torch::randn({n, 2}).matmul(torch::randn({2, 4}));
  auto optimizer = torch::optim::Adam(model.module().parameters(), 1e-2);
  auto mean_loss = [&] {
    torch::manual_seed(0);
    return model.train_loss({data, torch::arange(n), 0}).loss.item<double>();
  };
  const double before = mean_loss();
  for (int step = 0; step < 400; ++step) {
    const at::Tensor index = torch::randperm(n).slice(0, 0, 16);
    const train::TrainBatch batch{data.index_select(0, index), index, step};
    optimizer.zero_grad();
    model.train_loss(batch).loss.backward();
    optimizer.step();
    model.after_step(batch);
  }
  // Data of rank 2 under a 2-D latent: a trained linear decoder with fitted q_i reaches a much
  // better bound; 20 nats per example is far above the MC noise of one sample (≈ 1 nat).
  EXPECT_LT(mean_loss(), before - 20.0);
}

// log p(x) − ELBO is at least the diagonal gap ½(Σ log M_jj − log det M); refining q by
// gradient steps must reach it (Ppca::elbo is exact, so no Monte-Carlo noise here).
TEST(Inference, RefinedPosteriorReachesTheBestDiagonalElbo) {
  torch::manual_seed(14);
  Ppca model{torch::randn({3, 2}, torch::kDouble), torch::randn({3}, torch::kDouble), 0.4};
  const at::Tensor x = torch::randn({5, 3}, torch::kDouble);
  auto neg_elbo = [&](const at::Tensor& mu, const at::Tensor& lv) {
    return -model.elbo(x, mu, lv).sum();
  };
  const at::Tensor zeros = torch::zeros({5, 2}, torch::kDouble);
  auto [mu, lv] = fit_local_posterior(neg_elbo, zeros, zeros, 3000, 0.05);
  const at::Tensor best = model.log_marginal(x) - model.diagonal_gap();
  // Adam at rate 0.05 for 3000 steps on a smooth concave problem converges to ~1e-6 here.
  EXPECT_LT((model.elbo(x, mu, lv) - best).abs().max().item<double>(), 1e-4);
  EXPECT_GT(model.diagonal_gap(), 1e-3);  // a correlated posterior: the gap is not trivial
}

// The check values: W = [[1], [2]], s² = 0.5, x = [1, 1] → log p(x) = −2.707314. With
// q the exact posterior every importance weight p(x, z)/q(z) equals p(x): zero variance.
TEST(Inference, LogWeightsOfTheExactPosteriorAllEqualLogPx) {
  torch::manual_seed(15);
  Vae vae(linear_options(2, 1, std::sqrt(0.5)));
  set_decoder(vae, torch::tensor({1.0f, 2.0f}).reshape({2, 1}), torch::zeros({2}));
  Ppca model{torch::tensor({1.0, 2.0}, torch::kDouble).reshape({2, 1}),
             torch::zeros({2}, torch::kDouble), 0.5};
  const at::Tensor x = torch::tensor({1.0, 1.0}, torch::kDouble).reshape({1, 2});
  auto [mean, cov] = model.posterior(x);
  torch::NoGradGuard no_grad;
  const at::Tensor lw = vae->log_weights(x.to(torch::kFloat), mean.to(torch::kFloat),
                                         cov.log().reshape({1, 1}).to(torch::kFloat), 1000);
  EXPECT_EQ(lw.sizes(), (at::IntArrayRef{1000, 1}));
  // float32 arithmetic on O(1) values: every weight within 1e-4 of −2.707314.
  EXPECT_LT((lw - (-2.707314)).abs().max().item<double>(), 1e-4);
  EXPECT_NEAR(log_mean_exp(lw).item<double>(), -2.707314, 1e-4);
}

// For a random q the weights are noisy; the IWAE bound rises with K towards log p(x), above the
// ELBO and never above log p(x) beyond Monte-Carlo error.
TEST(Inference, IwaeEvaluationSitsBetweenElboAndTruth) {
  torch::manual_seed(16);
  LinearGaussian lg(300);
  VaeModel& model = lg.model;
  const Ppca& truth = lg.truth;
  const at::Tensor& x = lg.x;
  const double nll = -truth.log_marginal(x).mean().item<double>();
  model.eval_options().iwae_k = 500;
  torch::NoGradGuard no_grad;
  const train::LossOutput out = model.evaluate(x.to(torch::kFloat));
  double iwae = 0, neg_elbo = 0;
  for (const auto& [name, v] : out.parts) {
    if (name == "iwae_nll") iwae = v.item<double>();
    if (name == "neg_elbo") neg_elbo = v.item<double>();
  }
  EXPECT_GT(neg_elbo - nll, 1.0);  // an untrained encoder: a loose ELBO
  EXPECT_LT(iwae, neg_elbo - 0.5);
  // IWAE-500 is an upper bound on −log p(x) in expectation; over 300 points its MC error is
  // well under 0.05 nats.
  EXPECT_GT(iwae, nll - 0.05);
}

// log_weights broadcasts x over the draws and sums the Gaussian's squares before scaling; that is
// the elementwise log-likelihood of x repeated K times, rearranged. In float64, on weights up to
// ~60, the two differ by rounding (~1e-14): 1e-9 catches any missing or wrong term.
TEST(Inference, LogWeightsEqualTheElementwiseFormulaOnRepeatedX) {
  const auto f64 = torch::TensorOptions().dtype(torch::kDouble);
  const int64_t k = 7, b = 5;
  for (const std::string likelihood : {"gaussian", "bernoulli"}) {
    torch::manual_seed(20);
    Vae vae(VaeOptions({1, 3, 3}).hidden({8}).latent(2).likelihood(likelihood));
    vae->to(torch::kDouble);
    const at::Tensor x = torch::rand({b, 1, 3, 3}, f64);
    const at::Tensor mu = torch::randn({b, 2}, f64), lv = 0.3 * torch::randn({b, 2}, f64);
    torch::NoGradGuard no_grad;
    torch::manual_seed(21);
    const at::Tensor lw = vae->log_weights(x, mu, lv, k);
    torch::manual_seed(21);  // the same draws, as log_weights makes them
    const at::Tensor z = reparameterize(mu, lv, torch::randn({k, b, 2}, f64));
    const at::Tensor decoded = vae->decode(z.reshape({k * b, 2}));
    const at::Tensor ll = vae->log_likelihood(x.repeat({k, 1, 1, 1}), decoded).reshape({k, b});
    const at::Tensor zero = torch::zeros({}, f64);
    const at::Tensor expected =
        ll + gaussian_log_prob(z, zero, zero).sum(-1) - gaussian_log_prob(z, mu, lv).sum(-1);
    EXPECT_EQ(lw.sizes(), (at::IntArrayRef{k, b}));
    EXPECT_TRUE(lw.allclose(expected, 0, 1e-9)) << likelihood;
  }
}

// The chunk size is speed only. Each log_weights call draws the next normals of the generator's
// stream, and ATen fills normals 16 at a time, so chunks of a multiple of 16 values (here 64
// points x 2 latents x chunk) see exactly the draws of one K-sample chunk. The IWAE NLL (~44 nats,
// an untrained encoder) then differs only by float32 rounding of the chunked log-sum-exp (one ulp
// is 4e-6); draws that differed would move it by Monte-Carlo error, orders more.
TEST(Inference, IwaeEvaluationDoesNotDependOnTheChunk) {
  torch::manual_seed(22);
  LinearGaussian lg(64);
  const at::Tensor x = lg.x.to(torch::kFloat);
  lg.model.eval_options().iwae_k = 320;
  auto iwae_nll = [&](int64_t rows) {
    lg.model.eval_options().iwae_rows = rows;
    torch::manual_seed(23);
    torch::NoGradGuard no_grad;
    for (const auto& [name, v] : lg.model.evaluate(x).parts)
      if (name == "iwae_nll") return v.item<double>();
    return 0.0;
  };
  const double one = iwae_nll(int64_t{1} << 40);                 // K = 320 in one chunk
  EXPECT_NEAR(iwae_nll(VaeEvalOptions{}.iwae_rows), one, 1e-5);  // the default: chunks of 32
  EXPECT_NEAR(iwae_nll(64 * 8), one, 1e-5);                      // 40 chunks of 8
}

// The amortisation gap of MATH 1.3b: refining each test point's q from the encoder's output
// approaches the best diagonal ELBO of the exact model; the gap is the improvement.
TEST(Inference, AmortizationGapRefinesToTheBestDiagonalElbo) {
  torch::manual_seed(17);
  LinearGaussian lg(200);
  VaeModel& model = lg.model;
  const Ppca& truth = lg.truth;
  const at::Tensor& x = lg.x;
  auto& e = model.eval_options();
  e.amortization_gap = true;
  e.refine_steps = 1500;
  e.gap_samples = 64;
  torch::NoGradGuard no_grad;
  const train::LossOutput out = model.evaluate(x.to(torch::kFloat));
  std::map<std::string, double> m;
  for (const auto& [name, v] : out.parts) m[name] = v.item<double>();
  const double best = -(truth.log_marginal(x).mean().item<double>() - truth.diagonal_gap());
  // 64 samples per point over 200 points: the refined −ELBO's MC error is ~0.01 nats; float32
  // Adam converges to well under that. 0.05 nats is a safe bound.
  EXPECT_NEAR(m.at("neg_elbo_refined"), best, 0.05);
  EXPECT_NEAR(m.at("amortization_gap"), m.at("neg_elbo_encoder") - m.at("neg_elbo_refined"), 1e-4);
  EXPECT_GT(m.at("amortization_gap"), 1.0);  // a random encoder is far from the best q
}

TEST(Inference, KlWarmupRampsTheKlWeight) {
  torch::manual_seed(18);
  VaeModel model(linear_options(3, 2, 0.5).kl_warmup(10).beta(2.0));
  const at::Tensor x = torch::randn({4, 3});
  auto weight = [&](int64_t step) {
    for (const auto& [name, v] : model.train_loss({x, {}, step}).parts)
      if (name == "kl_weight") return v.item<double>();
    return -1.0;
  };
  // The weight is logged as a float32 scalar: 1e-6.
  EXPECT_NEAR(weight(0), 0.2, 1e-6);
  EXPECT_NEAR(weight(4), 1.0, 1e-6);
  EXPECT_NEAR(weight(9), 2.0, 1e-6);
  EXPECT_NEAR(weight(500), 2.0, 1e-6);
}

TEST(Inference, IwaeObjectiveIsMinusLogMeanExpOfTheWeights) {
  VaeModel model(linear_options(3, 2, 0.5).objective("iwae").k(7));
  const at::Tensor x = torch::randn({5, 3});
  torch::manual_seed(19);
  const double loss = model.train_loss({x, {}, 0}).loss.item<double>();
  torch::manual_seed(19);
  auto [mu, lv] = model.vae()->encode(x);
  const at::Tensor lw = model.vae()->log_weights(x, mu, lv, 7);
  EXPECT_NEAR(loss, -log_mean_exp(lw).mean().item<double>(), 1e-5);
  EXPECT_THROW(VaeModel(linear_options(3, 2, 0.5).objective("iwae").beta(0.5)), Error);
}

}  // namespace
}  // namespace deepgen::vi

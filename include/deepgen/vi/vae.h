#pragma once
// The VAE of MATH 1.4 (Kingma & Welling 2014): q(z|x) = N(mu(x), diag σ²(x)), p(z) = N(0, I),
// p(x|z) Gaussian N(f(z), σ²I) (σ fixed or learned), Bernoulli(sigmoid(f(z))), or, for 8-bit
// images, a discretised logistic per pixel with its own mean and scale (PixelCNN++). The same
// decoder also trains with per-example q_i instead of an encoder (MATH 1.2, MATH 1.3a; vi/local.h).
// With `latents` it has several stochastic layers h1, ..., hL (Burda et al. 2016 §5):
// q(h1|x) q(h2|h1) ... and p(hL) p(h_{L-1}|hL) ... p(x|h1), every conditional a diagonal Gaussian
// from an MLP except p(x|h1), the one-layer decoder with z = h1.
// Conditional (Sohn et al. 2015): q(z|x,y) and p(x|z,y) take onehot(y) beside x and z (with
// `latents`, q(h1|x,y) and p(x|h1,y); the layers above h1 and the prior p(z) = N(0, I) do not
// see y), so every bound is on −log p(x|y).
#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "deepgen/nn/condition.h"
#include "deepgen/train/model.h"
#include "deepgen/vi/local.h"

namespace deepgen::vi {

// What `deepgen eval` measures beyond the one-sample −ELBO.
struct VaeEvalOptions {
  int64_t iwae_k = 0;             // > 0: the IWAE bound with K samples (test NLL estimate)
  int64_t iwae_rows = 2048;       // decoder rows (samples x batch) per IWAE chunk: few enough
                                  // that its 784-pixel temporaries (6 MB each) stay in cache
  bool amortization_gap = false;  // amortised: ELBO after refining q per test point − encoder's
  int64_t gap_samples = 16;       // samples of each ELBO the gap subtracts
  int64_t refine_steps = 200;     // Adam steps fitting q per test point (svi/full, and the gap)
  double refine_lr = 0.05;
};

struct VaeOptions {
  explicit VaeOptions(std::vector<int64_t> data_shape = {1, 28, 28})
      : data_shape_(std::move(data_shape)) {}
  TORCH_ARG(std::vector<int64_t>, data_shape);  // one sample, e.g. {1, 28, 28} or {2}
  TORCH_ARG(std::vector<int64_t>, hidden) = std::vector<int64_t>{400};
  TORCH_ARG(int64_t, latent) = 20;
  // Two or more: the stochastic layers' sizes from x's up (h1 first), and `latent` is unused;
  // empty: one layer of `latent`.
  TORCH_ARG(std::vector<int64_t>, latents) = std::vector<int64_t>{};
  // latents: hidden sizes of the MLPs of q(h_{l+1}|h_l) and, reversed, of p(h_l|h_{l+1}); `hidden`
  // stays those between x and h1. Burda et al.'s code: 200,200 and 100,100 for latents 100,50.
  TORCH_ARG(std::vector<int64_t>, hidden2) = std::vector<int64_t>{100, 100};
  TORCH_ARG(std::string, activation) = "relu";
  TORCH_ARG(std::string, likelihood) = "gaussian";  // gaussian | bernoulli | logistic (8-bit)
  // Gaussian decoder std σ: > 0 fixes it; 0 learns one shared σ (started at sigma_init).
  TORCH_ARG(double, sigma) = 0.0;
  TORCH_ARG(double, sigma_init) = 0.1;
  // Gaussian decoder mean: sigmoid keeps it in [0, 1] (images); identity for unbounded data.
  TORCH_ARG(std::string, mean_activation) = "sigmoid";
  TORCH_ARG(double, beta) = 1.0;  // weight of the KL term in the training loss
  // bernoulli targets: dynamic (x_i ~ Bernoulli(pixel) per batch), threshold (pixel > 0.5), or
  // none (grey levels as soft targets: the BCE of pytorch/examples, not a likelihood of 0/1 data)
  TORCH_ARG(std::string, binarize) = "dynamic";
  TORCH_ARG(std::string, architecture) = "mlp";  // mlp | conv (images: 4x4 stride-2 stages)
  TORCH_ARG(std::vector<int64_t>, conv_channels) = std::vector<int64_t>{32, 64};
  // amortized: encoder q_φ(z|x) (MATH 1.3b); svi: per-example ψ_i on the batch's rows, objective
  // scaled by N/B (MATH 1.3a); full: per-example ψ_i, every step on the whole set (variational
  // EM, MATH 1.2).
  TORCH_ARG(std::string, inference) = "amortized";
  TORCH_ARG(int64_t, num_points) = 0;  // svi / full: training-set size (the ψ table's rows)
  TORCH_ARG(double,
            local_lr) = 0.05;  // svi / full: Adam rate of the ψ_i (a row moves once per epoch)
  TORCH_ARG(std::string, objective) = "elbo";  // elbo | iwae (Burda et al. 2016)
  TORCH_ARG(int64_t, k) = 1;                   // samples per example: ELBO average, or the IWAE's K
  TORCH_ARG(int64_t, kl_warmup) = 0;  // steps over which the KL weight rises linearly to beta
  // Class labels (issue 15): conditional and classes only; a VAE has no guidance or label dropout.
  TORCH_ARG(nn::Conditioning, condition) = nn::Conditioning{false, 0, 0.0, 0.0};
  // How a trained model is evaluated (no effect on training or the weights).
  TORCH_ARG(VaeEvalOptions, eval);
};

// JSON of every option (saved in the run's config.json; the table is vi/family.h's) and back;
// unknown keys are an error.
std::string to_json(const VaeOptions& options);
VaeOptions vae_options_from_json(const std::string& json, std::vector<int64_t> data_shape);
// Each option's own checks, then the rules across options; errors name options as `vae.key`.
void validate(const VaeOptions& options);

// The stochastic layers' sizes, h1 (the decoder's input) first: `latents`, or {latent}.
std::vector<int64_t> latent_sizes(const VaeOptions& options);

// Per-example terms of the negative ELBO, summed over data / latent dimensions.
struct NegElbo {
  at::Tensor recon;  // −log p(x|z), one z ~ q(z|x) per example
  // KL(q(z|x) || p(z)), closed form; with `latents`, its Monte-Carlo estimate
  // log q(h1..hL|x) − log p(h1..hL) at the draws of recon (no closed form once h2 is random)
  at::Tensor kl;
  at::Tensor total() const { return recon + kl; }
};

class VaeImpl : public torch::nn::Module {
 public:
  explicit VaeImpl(VaeOptions options);
  bool amortized() const { return options_.inference() == "amortized"; }
  // Stochastic layers: 1, or the size of `latents`.
  int64_t depth() const { return static_cast<int64_t>(upper_q_->size()) + 1; }
  // The classes y of a conditional model (Sohn et al. 2015); 0: unconditional.
  int64_t classes() const { return options_.condition().classes; }
  // In every method below, `labels` are the int64 classes (B) of the rows of x (or z): needed
  // by a conditional model, ignored by an unconditional one.
  // (mu, log σ²) of the encoder q_φ(z|x) (MATH 1.3b), or q_φ(z|x,y), each (B, latent); with
  // `latents`, of q(h1|x). Amortised inference only.
  std::pair<at::Tensor, at::Tensor> encode(const at::Tensor& x, const at::Tensor& labels = {});
  // q of the training rows `index`: the encoder's, or the per-example ψ_i.
  std::pair<at::Tensor, at::Tensor> posterior(const at::Tensor& x, const at::Tensor& index,
                                              const at::Tensor& labels = {});
  // Decoder output of p(x|z) or p(x|z,y) in data shape: the Gaussian mean, or the Bernoulli
  // logits; logistic: 2C channels, the C of the pixels' means μ (unconstrained), then the C of
  // their log-scales (split_logistic).
  at::Tensor decode(const at::Tensor& z, const at::Tensor& labels = {});
  // log p(x|z) per example from the decoder output of z; with `known` (bool, x's shape), of the
  // known values only (every decoder factorises over them: inpainting's p(x_known|z)).
  at::Tensor log_likelihood(const at::Tensor& x, const at::Tensor& decoded,
                            const at::Tensor& known = {});
  // −ELBO terms of MATH 1.4 with z = mu(x) + σ(x)·eps from the encoder (eps supplied, or drawn).
  NegElbo negative_elbo(const at::Tensor& x, const at::Tensor& eps = {},
                        const at::Tensor& labels = {});
  // −ELBO terms of q = N(mu, e^logvar), recon averaged over k draws of z.
  NegElbo negative_elbo(const at::Tensor& x, const at::Tensor& mu, const at::Tensor& logvar,
                        int64_t k, const at::Tensor& labels = {});
  // log w = log p(x, z) − log q(z) for k draws z ~ N(mu, e^logvar): (k, B). The IWAE's weights
  // (MATH 1.4). With `latents`, z = h1 and h2..hL ~ q(h_{l+1}|h_l) are drawn above it:
  // log w = log p(x|h1) + log p(h1..hL) − log q(h1..hL|x).
  at::Tensor log_weights(const at::Tensor& x, const at::Tensor& mu, const at::Tensor& logvar,
                         int64_t k, const at::Tensor& labels = {});
  // (mu, log σ²) of q(h_{l+2}|h_{l+1}) and of p(h_{l+1}|h_{l+2}), l = 0 for h1 ↔ h2; `latents`.
  std::pair<at::Tensor, at::Tensor> upper_posterior(int64_t l, const at::Tensor& h);
  std::pair<at::Tensor, at::Tensor> upper_prior(int64_t l, const at::Tensor& h);
  // log p(h1..hL) − log q(h2..hL|h1) of one draw h2..hL above each row of h1 (N, h1): (N). One
  // layer: log N(h1; 0, I), nothing drawn.
  at::Tensor log_prior_over_upper_q(const at::Tensor& h1);
  // n draws of h1 from the prior: N(0, I), or hL ~ N(0, I) then h_l ~ p(h_l|h_{l+1}) down to h1.
  at::Tensor sample_prior(int64_t n);
  at::Tensor log_sigma() const;  // log σ of the Gaussian decoder
  // What pictures show of a decoder output: the Gaussian mean, the Bernoulli probabilities, or
  // the logistic means μ clamped to [0, 1] (each pixel's location; a draw would add the
  // logistic's noise, which on images is speckle, as with the Gaussian's σ).
  at::Tensor mean_image(const at::Tensor& decoded) const;
  const VaeOptions& options() const { return options_; }
  LocalPosteriors& local() { return local_; }

 private:
  // log p(x|h1) of k decoder outputs f (k, B, ...) of each row of x (B, ...): (k, B).
  at::Tensor log_likelihood_draws(const at::Tensor& x, const at::Tensor& f);
  // log p(x|z), log p(z) (over the upper q with `latents`) and log q(z|x) of k draws from
  // N(mu, e^logvar), each (k, B).
  std::tuple<at::Tensor, at::Tensor, at::Tensor> draw_log_densities(const at::Tensor& x,
                                                                    const at::Tensor& mu,
                                                                    const at::Tensor& logvar,
                                                                    int64_t k,
                                                                    const at::Tensor& labels);
  // A network's input `in` (B, ...) with onehot(labels) beside it: appended to a flat input, or
  // as `classes` constant channels of an image (B, C, H, W). Unconditional: `in` itself.
  at::Tensor with_labels(const at::Tensor& in, const at::Tensor& labels) const;
  VaeOptions options_;
  int64_t dim_;
  torch::nn::AnyModule encoder_, decoder_;
  // `latents`: q(h_{l+2}|h_{l+1}) and p(h_{l+1}|h_{l+2}), l = 0..L−2, each an MLP to (mu, log σ²).
  torch::nn::ModuleList upper_q_, upper_p_;
  LocalPosteriors local_{nullptr};
  at::Tensor log_sigma_;
};
TORCH_MODULE(Vae);

// The logistic decoder's output split along `dim` (channels, or a flattened pixel axis) into
// (means, log-scales), each in data shape.
std::pair<at::Tensor, at::Tensor> split_logistic(const at::Tensor& decoded, int64_t dim = 1);

class VaeModel : public train::GenerativeModel {
 public:
  explicit VaeModel(VaeOptions options) : vae_(options), eval_(options.eval()) {}
  std::string name() const override { return "vae"; }
  torch::nn::Module& module() override { return *vae_; }
  train::LossOutput loss(const at::Tensor& x) override;  // amortised, after any warm-up
  train::LossOutput train_loss(const train::TrainBatch& batch) override;
  void after_step(const train::TrainBatch& batch) override;
  // −ELBO (one sample), and what eval_options() asks for. Per-example inference first fits q
  // for each test point (refine_steps from the prior). A conditional model needs the labels:
  // test_loss.
  train::LossOutput evaluate(const at::Tensor& x) override;
  // The same with the batch's labels: a conditional model's bounds are on −log p(x|y).
  train::LossOutput test_loss(const train::TrainBatch& batch) override;
  VaeEvalOptions& eval_options() { return eval_; }
  // q for test points: the encoder's, or ψ fitted from the prior (per-example inference).
  std::pair<at::Tensor, at::Tensor> test_posterior(const at::Tensor& x,
                                                   const at::Tensor& labels = {});
  // Images: mean_image of the decoder at z ~ N(0, I) (`latents`: h1 drawn down from hL ~ N(0, I));
  // other data: x ~ p(x|z). A conditional model draws y uniformly (sample_classes).
  at::Tensor sample(int64_t n) override;
  int64_t classes() const override { return vae_->classes(); }
  // The same from p(x|z,y) for the given classes; guidance must be 0 (no unconditional half).
  at::Tensor sample_classes(const at::Tensor& labels, double guidance) override;
  // Gibbs imputation through encoder and decoder (vae_inpaint.cpp), Metropolis or pseudo:
  // amortized models (a conditional one given options.labels); options.gibbs_steps rounds.
  std::string inpaint_blocker() const override;
  at::Tensor inpaint(const at::Tensor& x, const at::Tensor& mask,
                     const train::InpaintOptions& options) override;
  // mean_image at z = mu(x) (h1's mean). Undefined for a conditional model: q(z|x,y) needs the
  // images' classes, which reconstruct(x) is not given (the report leaves the picture out).
  at::Tensor reconstruct(const at::Tensor& x) override;
  // Per-example q lives in buffers that each rank would update for its own rows only.
  std::string data_parallel_blocker() const override;
  Vae& vae() { return vae_; }

 private:
  at::Tensor likelihood_input(const at::Tensor& x) const;
  double kl_weight(int64_t step) const;
  std::pair<at::Tensor, at::Tensor> refine(const at::Tensor& x, const at::Tensor& mu,
                                           const at::Tensor& logvar, const at::Tensor& labels);
  // −ELBO and what eval_options() asks for, of x with its labels (undefined: unconditional).
  train::LossOutput bounds(const at::Tensor& x_raw, const at::Tensor& labels);
  // The decoder's output as the data: mean_image for images and discrete decoders, else a draw.
  at::Tensor to_sample(const at::Tensor& decoded);
  Vae vae_;
  VaeEvalOptions eval_;
};

}  // namespace deepgen::vi
